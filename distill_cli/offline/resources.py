"""What the synthesized templates deploy, read as CloudFormation would create it.

:func:`read_deployment` resolves every intrinsic (distill_cli.offline.template) and returns plain records:
functions with their environment, role and async settings; roles with their trust and identity policies;
buckets, topics, queues and keys with their resource policies; EventBridge rules; the alarm; the state
machine. It also applies the checks CloudFormation and Lambda make at deploy time (a function environment
over 4 KB fails the deploy), so a template AWS would refuse fails here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distill_cli.offline import limits
from distill_cli.offline.template import Resolver, generated_name


@dataclass(frozen=True)
class FunctionDef:
    stack: str
    logical_id: str
    name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    role_arn: str
    kms_key_arn: str | None
    timeout: int
    memory: int
    on_failure: str | None = None  # async on-failure destination (EventInvokeConfig)
    dead_letter: str | None = None  # DeadLetterConfig.TargetArn
    max_retries: int = 2
    invoke_permissions: tuple[Mapping[str, Any], ...] = ()  # AWS::Lambda::Permission: Principal, SourceArn
    log_group: str = ""  # LoggingConfig.LogGroup (else /aws/lambda/<name>)
    traced: bool = False  # TracingConfig Mode Active

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0].rsplit(".", 1)[-1]


@dataclass(frozen=True)
class RoleDef:
    arn: str
    name: str
    trust: Mapping[str, Any]
    policies: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class BucketDef:
    stack: str
    logical_id: str
    name: str
    versioned: bool
    kms_key_arn: str | None
    policy: Mapping[str, Any] | None
    eventbridge: bool

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class TopicDef:
    arn: str
    name: str
    kms_key: str | None  # as the template names it: a key ARN, an alias ARN, or alias/aws/sns
    policy: Mapping[str, Any] | None


@dataclass(frozen=True)
class QueueDef:
    arn: str
    url: str
    name: str
    policy: Mapping[str, Any] | None


@dataclass(frozen=True)
class TargetDef:
    arn: str
    input: str | None
    dead_letter: str | None
    max_retries: int
    max_age: int


@dataclass(frozen=True)
class RuleDef:
    logical_id: str
    arn: str
    pattern: Mapping[str, Any] | None
    schedule: str | None
    targets: tuple[TargetDef, ...]

    @property
    def short_name(self) -> str:
        """'OperationsRunEndedBadly' (the logical id without CDK's hash)."""
        return self.logical_id[:-8] if len(self.logical_id) > 8 else self.logical_id


@dataclass(frozen=True)
class AlarmDef:
    logical_id: str
    actions: tuple[str, ...]
    state_machine_metrics: tuple[str, ...]  # AWS/States metric names it sums
    state_machine_arn: str | None


@dataclass(frozen=True)
class StateMachineDef:
    name: str
    arn: str
    definition: str
    role_arn: str
    logs_to: tuple[str, ...] = ()  # LoggingConfiguration destinations (log group ARNs)
    traced: bool = False


@dataclass
class Deployment:
    functions: dict[str, FunctionDef] = field(default_factory=dict)  # by name
    roles: dict[str, RoleDef] = field(default_factory=dict)  # by ARN
    buckets: dict[str, BucketDef] = field(default_factory=dict)  # by name
    topics: dict[str, TopicDef] = field(default_factory=dict)  # by ARN
    queues: dict[str, QueueDef] = field(default_factory=dict)  # by ARN
    keys: dict[str, Mapping[str, Any] | None] = field(default_factory=dict)  # key ARN -> key policy (None: imported)
    rules: list[RuleDef] = field(default_factory=list)
    alarms: list[AlarmDef] = field(default_factory=list)
    state_machine: StateMachineDef | None = None
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stack -> output key -> value

    def function_by_module(self, module: str) -> FunctionDef:
        return next(f for f in self.functions.values() if f.module == module)


def read_deployment(resolver: Resolver) -> Deployment:
    out = Deployment()
    for stack in resolver.templates:
        _read_stack(resolver, stack, out)
    return out


def _read_stack(r: Resolver, stack: str, out: Deployment) -> None:
    def resolved(value: Any) -> Any:
        return r.resolve(stack, value)

    def props(logical: str) -> Mapping[str, Any]:
        return r.templates[stack]["Resources"][logical].get("Properties", {}) or {}

    for logical, resource in r.resources(stack, "AWS::IAM::Role").items():
        p = resource.get("Properties", {})
        if p.get("ManagedPolicyArns"):
            raise NotImplementedError(f"{stack}/{logical}: managed policies are not evaluated offline")
        physical = r.physical_of(stack, logical)
        inline = tuple(resolved(x["PolicyDocument"]) for x in p.get("Policies", []))
        out.roles[physical.attributes["Arn"]] = RoleDef(physical.attributes["Arn"], physical.ref,
                                                        resolved(p["AssumeRolePolicyDocument"]), inline)  # fmt: skip
    for logical in r.resources(stack, "AWS::IAM::Policy"):
        p = props(logical)
        document = resolved(p["PolicyDocument"])
        for role_name in resolved(p.get("Roles", [])):
            role = next(x for x in out.roles.values() if x.name == role_name)
            out.roles[role.arn] = RoleDef(role.arn, role.name, role.trust, (*role.policies, document))

    invoke_configs = {resolved(props(k)["FunctionName"]): props(k)
                      for k in r.resources(stack, "AWS::Lambda::EventInvokeConfig")}  # fmt: skip
    permissions: dict[str, list[Mapping[str, Any]]] = {}
    for logical in r.resources(stack, "AWS::Lambda::Permission"):
        p = resolved(dict(props(logical)))
        permissions.setdefault(p["FunctionName"].split(":function:")[-1], []).append(p)
    for logical in r.resources(stack, "AWS::Lambda::Function"):
        p = props(logical)
        if not str(p.get("Handler", "")).startswith("handlers."):
            continue  # CDK's own providers: not ours to run
        physical = r.physical_of(stack, logical)
        name, arn = physical.ref, physical.attributes["Arn"]
        variables = {k: str(v) for k, v in (resolved(p.get("Environment", {}).get("Variables", {})) or {}).items()}
        limits.check_environment(name, variables)  # Lambda refuses the function: the deploy fails
        config = invoke_configs.get(name) or invoke_configs.get(arn) or {}
        destination = resolved(config.get("DestinationConfig", {})).get("OnFailure", {}).get("Destination")
        out.functions[name] = FunctionDef(
            stack=stack, logical_id=logical, name=name, arn=arn, handler=str(p["Handler"]), environment=variables,
            role_arn=str(resolved(p["Role"])), kms_key_arn=resolved(p.get("KmsKeyArn")),
            timeout=int(p.get("Timeout", 3)), memory=int(p.get("MemorySize", 128)), on_failure=destination,
            dead_letter=resolved(p.get("DeadLetterConfig", {})).get("TargetArn"),
            max_retries=int(config.get("MaximumRetryAttempts", 2)),
            invoke_permissions=tuple(permissions.get(name, [])),
            log_group=str(resolved(p.get("LoggingConfig", {}).get("LogGroup")) or f"/aws/lambda/{name}"),
            traced=p.get("TracingConfig", {}).get("Mode") == "Active",
        )  # fmt: skip

    bucket_policies = {resolved(props(k)["Bucket"]): resolved(props(k)["PolicyDocument"])
                       for k in r.resources(stack, "AWS::S3::BucketPolicy")}  # fmt: skip
    for logical in r.resources(stack, "AWS::S3::Bucket"):
        p = resolved(dict(props(logical)))
        name = r.physical_of(stack, logical).ref
        rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
        key = default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
        events = p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
        out.buckets[name] = BucketDef(stack, logical, name, p.get("VersioningConfiguration", {}).get("Status") ==
                                      "Enabled", key, bucket_policies.get(name),
                                      bool(events.get("EventBridgeEnabled")))  # fmt: skip
        if key:
            out.keys.setdefault(key, None)  # an imported key: its policy is the operator's

    topic_policies: dict[str, Mapping[str, Any]] = {}
    for logical in r.resources(stack, "AWS::SNS::TopicPolicy"):
        for topic in resolved(props(logical)["Topics"]):
            topic_policies[topic] = resolved(props(logical)["PolicyDocument"])
    for logical in r.resources(stack, "AWS::SNS::Topic"):
        physical = r.physical_of(stack, logical)
        arn = physical.attributes["TopicArn"]
        out.topics[arn] = TopicDef(arn, physical.attributes["TopicName"],
                                   resolved(props(logical).get("KmsMasterKeyId")), topic_policies.get(arn))  # fmt: skip
    queue_policies: dict[str, Mapping[str, Any]] = {}
    for logical in r.resources(stack, "AWS::SQS::QueuePolicy"):
        for queue in resolved(props(logical)["Queues"]):
            queue_policies[queue] = resolved(props(logical)["PolicyDocument"])
    for logical in r.resources(stack, "AWS::SQS::Queue"):
        physical = r.physical_of(stack, logical)
        out.queues[physical.attributes["Arn"]] = QueueDef(physical.attributes["Arn"], physical.ref,
                                                          physical.attributes["QueueName"],
                                                          queue_policies.get(physical.ref))  # fmt: skip
    for logical in r.resources(stack, "AWS::KMS::Key"):
        out.keys[r.physical_of(stack, logical).attributes["Arn"]] = resolved(props(logical).get("KeyPolicy"))

    for logical, rule in r.resources(stack, "AWS::Events::Rule").items():
        p = rule.get("Properties", {})
        if p.get("State", "ENABLED") != "ENABLED":
            continue
        targets = tuple(
            TargetDef(arn=t["Arn"], input=t.get("Input"), dead_letter=t.get("DeadLetterConfig", {}).get("Arn"),
                      max_retries=int(t.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
                      max_age=int(t.get("RetryPolicy", {}).get("MaximumEventAgeInSeconds", 86_400)))
            for t in resolved(p.get("Targets", []))
        )  # fmt: skip
        out.rules.append(RuleDef(logical, r.physical_of(stack, logical).attributes["Arn"],
                                 resolved(p.get("EventPattern")), p.get("ScheduleExpression"), targets))  # fmt: skip

    for logical in r.resources(stack, "AWS::CloudWatch::Alarm"):
        p = resolved(dict(props(logical)))
        stats = [m["MetricStat"]["Metric"] for m in p.get("Metrics", []) if "MetricStat" in m]
        machine = next((d["Value"] for m in stats for d in m.get("Dimensions", []) if d["Name"] == "StateMachineArn"),
                       None)  # fmt: skip
        out.alarms.append(AlarmDef(logical, tuple(p.get("AlarmActions", [])),
                                   tuple(m["MetricName"] for m in stats if m.get("Namespace") == "AWS/States"),
                                   machine))  # fmt: skip

    for logical in r.resources(stack, "AWS::StepFunctions::StateMachine"):
        p = props(logical)
        physical = r.physical_of(stack, logical)
        text = resolved(p.get("DefinitionString") or p.get("Definition"))
        for key, value in (resolved(p.get("DefinitionSubstitutions")) or {}).items():
            text = text.replace("${" + key + "}", str(value))
        name = physical.attributes.get("Name") or generated_name(stack, logical, 80)
        destinations = resolved(p.get("LoggingConfiguration", {}).get("Destinations", []))
        logs_to = tuple(d["CloudWatchLogsLogGroup"]["LogGroupArn"] for d in destinations)
        out.state_machine = StateMachineDef(name, physical.attributes["Arn"], text, str(resolved(p["RoleArn"])),
                                            logs_to, bool(p.get("TracingConfiguration", {}).get("Enabled")))  # fmt: skip

    out.outputs[stack] = {key: str(resolved(o["Value"])) for key, o in
                          r.templates[stack].get("Outputs", {}).items()}  # fmt: skip
