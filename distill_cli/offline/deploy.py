"""Bring the offline world up for an :class:`~distill_cli.offline.world.OfflinePipeline`: resolve the templates,
create what they declare, and wire the simulated services, IAM, EventBridge and the clock together."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from distill_cli.offline.asl.execution import Execution
from distill_cli.offline.asl.interpreter import Invoked
from distill_cli.offline.client_pool import ClientPool, Lease, shared_session
from distill_cli.offline.template import Physical, Resolver

if TYPE_CHECKING:
    from distill_cli.offline.world import OfflinePipeline

QUIET = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true", "LOG_LEVEL": "WARNING",
         "POWERTOOLS_LOG_LEVEL": "WARNING"}  # fmt: skip
_CREATING = ("PutObject", "CompleteMultipartUpload", "CopyObject")
_ENDED_BADLY = {"FAILED": "ExecutionsFailed", "TIMED_OUT": "ExecutionsTimedOut", "ABORTED": "ExecutionsAborted"}


def deploy(world: OfflinePipeline) -> None:
    import boto3
    from moto import mock_aws

    from distill import aws, clock
    from distill.settings import load_settings
    from distill_cli.access import Where
    from distill_cli.offline import service_roles
    from distill_cli.offline.authorizer import Authorizer
    from distill_cli.offline.bedrock import SimulatedBedrock, SimulatedBedrockRuntime
    from distill_cli.offline.bedrock.contracts import PROFILE_REGIONS
    from distill_cli.offline.clock import Scheduler
    from distill_cli.offline.events import EventBus, event_envelope, object_created
    from distill_cli.offline.lambda_runner import LambdaRunner
    from distill_cli.offline.moto_urls import memoize_moto_urls
    from distill_cli.offline.resources import read_deployment
    from distill_cli.offline.service_quotas import SimulatedServiceQuotas
    from distill_cli.offline.stepfunctions import SimulatedStepFunctions
    from distill_cli.offline.world import ACCOUNT, REGION, environment

    stack = world._stack
    stack.enter_context(environment({"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                                     "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", **QUIET}))  # fmt: skip
    memoize_moto_urls()
    stack.enter_context(mock_aws())
    # moto starts each mock with no default session, so every world would build its sessions' loaders (service
    # models, endpoint rules) again; the credentials are the fake ones above either way.
    boto3.DEFAULT_SESSION = shared_session()
    stack.callback(load_settings.cache_clear)
    world.scheduler = scheduler = Scheduler(real_time=world.real_time)
    stack.enter_context(clock.use(scheduler.now, scheduler.advance))

    bucket_stack, bucket_id = _data_bucket(world)
    physical = {(bucket_stack, bucket_id): Physical(world.bucket, {
        "Arn": f"arn:aws:s3:::{world.bucket}", "DomainName": f"{world.bucket}.s3.amazonaws.com",
        "RegionalDomainName": f"{world.bucket}.s3.{REGION}.amazonaws.com"})}  # fmt: skip
    resolver = Resolver(world.synth.templates, region=REGION, account=ACCOUNT, physical=physical)
    world.deployment = deployment = read_deployment(resolver)
    bucket_keys = {b.name: b.kms_key_arn for b in deployment.buckets.values() if b.kms_key_arn}
    profiles = {p: by_source.get(REGION, ("us-east-1", "us-east-2", "us-west-2")) for p, by_source in PROFILE_REGIONS.items()}
    topic_keys = {t.arn: t.kms_key for t in deployment.topics.values()
                  if t.kms_key and ":key/" in t.kms_key}  # customer managed keys only  # fmt: skip
    where = Where(region=REGION, account=ACCOUNT, bucket_keys=bucket_keys, profile_regions=profiles,
                  topic_keys=topic_keys)  # fmt: skip
    world.authorizer = authorizer = Authorizer(deployment, where, world.key_policies)

    lease = _POOL.lease()
    stack.callback(lease.close)
    admin = {name: lease.client(name) for name in ("s3", "sns", "sqs")}
    _create_resources(deployment, admin)

    def send_to_queue(queue_arn: str, body: Any) -> None:
        queue = deployment.queues[queue_arn]
        admin["sqs"].send_message(QueueUrl=admin["sqs"].get_queue_url(QueueName=queue.name)["QueueUrl"],
                                  MessageBody=json.dumps(body))  # fmt: skip

    def destination(target: str, record: Any, function: Any) -> None:
        # Lambda sends the record with the function's execution role ("sqs:SendMessage" on the queue).
        with authorizer.acting_as(function):
            authorizer.check("sqs", "SendMessage", {"QueueUrl": deployment.queues[target].url, "MessageBody": "x"})
        send_to_queue(target, record)

    machine = deployment.state_machine
    assert machine is not None, "no state machine in the templates"
    world.machine = machine
    service_roles.check_deployable(authorizer, deployment.functions.values(), machine)
    world.runner = runner = LambdaRunner(scheduler, deployment.functions, REGION, authorizer.acting_as, destination)
    runner.checks.append(lambda function: service_roles.environment_key_problem(authorizer, function))

    def telemetry(function: Any) -> None:
        world.telemetry_lost.extend(service_roles.function_telemetry_lost(authorizer, function, REGION, ACCOUNT))

    runner.observers.append(telemetry)

    world.s3 = s3 = _hooked_s3(world, lease, authorizer, scheduler, object_created, raw=admin["s3"])
    _hooked_s3(world, lease, None, scheduler, object_created, raw=admin["s3"], client=admin["s3"])  # Bedrock's too
    world.bedrock = bedrock = SimulatedBedrock(region=REGION, account=ACCOUNT, s3=admin["s3"], now=scheduler.now,
                                               bucket_keys=bucket_keys, role_problem=authorizer.role_problem,
                                               caller_problem=authorizer.caller_problem, **world.bedrock_options)  # fmt: skip
    world.runtime = runtime = SimulatedBedrockRuntime(bedrock)
    bedrock.later = scheduler.call_later

    def job_event(job_arn: str, detail: dict[str, Any]) -> None:
        world.job_events_sent += 1
        if world.job_events:
            event = event_envelope("aws.bedrock", "Model Customization Job State Change", [job_arn], detail,
                                   account=ACCOUNT, region=REGION, at=scheduler.now())  # fmt: skip
            world.bus.put(event)

    bedrock.on_job_event = job_event
    authorizer.bedrock_tags = _BedrockTags(bedrock)

    world.sfn = sfn = SimulatedStepFunctions(scheduler, _MachineLambdas(runner, authorizer, machine.role_arn),
                                             region=REGION, account=ACCOUNT)  # fmt: skip
    sfn.create_state_machine(name=machine.name, definition=machine.definition, roleArn=machine.role_arn)
    quotas = SimulatedServiceQuotas(region=REGION, account=ACCOUNT, value=world.jobs_quota)
    for service in (bedrock, runtime, sfn, quotas):
        service.authorizer = authorizer.check

    def to_dead_letter(queue_arn: str, body: Any, service: str, source_arn: str) -> None:
        problem = authorizer.service_may(service, "sqs:SendMessage", queue_arn, {"aws:SourceArn": source_arn})
        if problem is None:
            send_to_queue(queue_arn, body)

    world.bus = bus = EventBus(deployment, runner, to_dead_letter)

    def ended(execution: Execution) -> None:
        world.telemetry_lost.extend(service_roles.machine_telemetry_lost(authorizer, machine))
        described = execution.describe()
        millis = {k: int(v.timestamp() * 1000) for k, v in described.items() if k in ("startDate", "stopDate")}
        detail = {**{k: described.get(k) for k in ("executionArn", "stateMachineArn", "name", "status", "input",
                                                   "output", "error", "cause")}, **millis}  # fmt: skip
        bus.put(event_envelope("aws.states", "Step Functions Execution Status Change", [execution.arn], detail,
                               account=ACCOUNT, region=REGION, at=scheduler.now()))  # fmt: skip
        if execution.status in _ENDED_BADLY:
            _alarm(world, authorizer, execution, admin["sns"])

    sfn.interpreter.on_end.append(ended)

    sns = _recording_sns(world, lease, authorizer.hook(lease.client("sns"), register=lease.on))
    sqs = authorizer.hook(lease.client("sqs"), register=lease.on)
    clients = {"s3": s3, "bedrock": bedrock, "bedrock-runtime": runtime, "stepfunctions": sfn, "sns": sns, "sqs": sqs,
               "service-quotas": quotas}  # fmt: skip

    def factory(service: str) -> Any:
        if service not in clients:
            clients[service] = authorizer.hook(lease.client(service), register=lease.on)
        return clients[service]

    stack.enter_context(aws.clients_from(factory))


def _make_client(service: str) -> Any:
    from distill_cli.offline.world import REGION

    return shared_session().client(service, region_name=REGION)


# Made under moto (deploy imports it first, so its request handler is in every client); see client_pool.
_POOL = ClientPool(_make_client)


def _recording_sns(world: OfflinePipeline, lease: Lease, sns: Any) -> Any:
    """Keep every message published through ``sns`` (what subscribers of the topic would get)."""

    def published(params: dict[str, Any], **_: Any) -> None:
        world.notices.append({k: str(params.get(k, "")) for k in ("TopicArn", "Subject", "Message")})

    lease.on(sns, "provide-client-params.sns.Publish", lambda params, **_: published(params))
    return sns


def _data_bucket(world: OfflinePipeline) -> tuple[str, str]:
    """The project's data bucket: the one a ``...BucketName`` output names; else the one no other bucket uses as
    its access-log destination."""
    buckets: list[tuple[str, str]] = []
    log_targets: set[str] = set()
    for stack in (world.synth.data_stack, world.synth.pipeline_stack):
        template = world.synth.templates[stack]
        for name, output in template.get("Outputs", {}).items():
            ref = output.get("Value", {}).get("Ref") if isinstance(output.get("Value"), dict) else None
            if name.endswith("BucketName") and template["Resources"].get(ref, {}).get("Type") == "AWS::S3::Bucket":
                return stack, str(ref)
        for logical, resource in template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::S3::Bucket":
                buckets.append((stack, logical))
                target = resource.get("Properties", {}).get("LoggingConfiguration", {}).get("DestinationBucketName")
                if isinstance(target, dict) and "Ref" in target:
                    log_targets.add(target["Ref"])
    if not buckets:
        raise RuntimeError("no AWS::S3::Bucket in the synthesized templates")
    return next((b for b in buckets if b[1] not in log_targets), buckets[0])


def _create_resources(deployment: Any, admin: Mapping[str, Any]) -> None:
    for bucket in deployment.buckets.values():
        admin["s3"].create_bucket(Bucket=bucket.name)
        if bucket.versioned:
            admin["s3"].put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
    for topic in deployment.topics.values():
        admin["sns"].create_topic(Name=topic.name)
    for queue in deployment.queues.values():
        admin["sqs"].create_queue(QueueName=queue.name)


def _hooked_s3(world: OfflinePipeline, lease: Lease, authorizer: Any, scheduler: Any, object_created: Any, raw: Any,
               client: Any = None) -> Any:  # fmt: skip
    """An S3 client whose calls are authorized (unless ``authorizer`` is None) and whose object creations in a
    bucket with EventBridge enabled send S3's Object Created event. ``raw`` is the operator's client (it reads a
    created object's metadata for the event without being authorized or sending events itself)."""
    from distill_cli.offline.world import ACCOUNT, REGION

    s3 = client or lease.client("s3")

    if authorizer is not None:
        authorizer.hook(s3, register=lease.on)

        def refusal_if_missing(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            context["distill:refusal"] = authorizer.missing_object_error(model.name, params["Bucket"], params["Key"])

        def missing(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            # S3 answered 404 (NoSuchKey for GetObject, a bare 404 for HeadObject): without s3:ListBucket the
            # caller gets the 403 instead. Raised here, the 403 is what the caller's call raises.
            refusal = context.get("distill:refusal")
            not_found = http_response.status_code == 404 and parsed.get("Error", {}).get("Code") in ("404", "NoSuchKey")
            if refusal is not None and not_found:
                raise refusal

        for operation in ("GetObject", "HeadObject"):
            lease.on(s3, f"before-parameter-build.s3.{operation}", refusal_if_missing)
            lease.on(s3, f"after-call.s3.{operation}", missing)

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["distill:params"] = dict(params)

    def created(model: Any, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        params = context.get("distill:params") or {}
        bucket = world.deployment.buckets.get(params.get("Bucket", ""))
        if model.name not in _CREATING or http_response.status_code >= 300 or not bucket or not bucket.eventbridge:
            return
        if params.get("Key") in world.quiet_keys:
            return
        head = raw.head_object(Bucket=params["Bucket"], Key=params["Key"])
        world.bus.put(object_created(params["Bucket"], params["Key"], head, model.name, account=ACCOUNT,
                                     region=REGION, at=scheduler.now()))  # fmt: skip

    lease.on(s3, "before-parameter-build.s3", remember)
    lease.on(s3, "after-call.s3", created)
    return s3


def _alarm(world: OfflinePipeline, authorizer: Any, execution: Execution, sns: Any) -> None:
    """The failed-run alarm goes off; CloudWatch publishes to its topics only if the topic's key admits it."""
    from distill_cli.offline.world import ACCOUNT, REGION

    metric = _ENDED_BADLY[execution.status]
    for alarm in world.deployment.alarms:
        if alarm.state_machine_arn != execution.state_machine_arn or metric not in alarm.state_machine_metrics:
            continue
        alarm_arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm.logical_id}"
        for action in alarm.actions:
            topic = world.deployment.topics.get(action)
            problem = _topic_key_problem(authorizer, topic.kms_key if topic else None, alarm_arn)
            world.alarm_notices.append({"alarm": alarm.logical_id, "topic": action, "error": problem or ""})
            if problem is None and topic is not None:
                message = json.dumps({"AlarmName": alarm.logical_id, "NewStateValue": "ALARM"})
                sns.publish(TopicArn=action, Subject=f'ALARM: "{alarm.logical_id}"', Message=message)
                world.notices.append({"TopicArn": action, "Subject": f'ALARM: "{alarm.logical_id}"', "Message": message})


def _topic_key_problem(authorizer: Any, key: str | None, alarm_arn: str) -> str | None:
    """"CloudWatch Alarms does not have authorization to access the SNS topic encryption key" unless the key is a
    customer managed key whose policy admits cloudwatch.amazonaws.com for kms:GenerateDataKey* and kms:Decrypt
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    if not key:
        return None
    if key.endswith("alias/aws/sns"):
        return "CloudWatch Alarms does not have authorization to access the SNS topic encryption key (alias/aws/sns)"
    context = {"aws:SourceAccount": authorizer.where.account, "aws:SourceArn": alarm_arn}
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        problem = authorizer.service_may("cloudwatch.amazonaws.com", action, key, context)
        if problem:
            return f"CloudWatch Alarms does not have authorization to access the SNS topic encryption key: {problem}"
    return None


class _MachineLambdas:
    """The state machine's role invokes the functions: lambda:InvokeFunction must be allowed."""

    def __init__(self, runner: Any, authorizer: Any, role_arn: str) -> None:
        self.runner, self.authorizer, self.role_arn = runner, authorizer, role_arn

    def invoke(self, function: str, payload: Any) -> Invoked:
        from distill_cli.access import Principal, Requirement

        spec = self.runner.function(function)
        principal = Principal(arn=self.role_arn, session_name="states")
        decision = self.authorizer.require(principal, Requirement("lambda:InvokeFunction", spec.arn,
                                                                  {"aws:SecureTransport": "true"}), "Invoke")  # fmt: skip
        if not decision.allowed:
            return Invoked(False, error="Lambda.AWSLambdaException",
                           cause=f"{principal.display_arn} is not authorized to perform: lambda:InvokeFunction on "
                                 f"resource: {spec.arn} ({decision.reason})")  # fmt: skip
        return self.runner.invoke(function, payload)  # type: ignore[no-any-return]


class _BedrockTags(Mapping[str, Mapping[str, str]]):
    """aws:ResourceTag/<key> for Bedrock resources: their tags as the simulated Bedrock holds them now."""

    def __init__(self, bedrock: Any) -> None:
        self.bedrock = bedrock

    def _all(self) -> dict[str, dict[str, str]]:
        items = [*self.bedrock.jobs.values(), *self.bedrock.throughputs.values(), *self.bedrock.deployments.values()]
        return {i.arn: {t["key"]: t["value"] for t in i.request.get("tags", i.request.get("jobTags", []))}
                for i in items}  # fmt: skip

    def __getitem__(self, arn: str) -> Mapping[str, str]:
        return self._all()[arn]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
