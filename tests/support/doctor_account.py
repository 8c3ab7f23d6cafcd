"""A real-account stand-in for ``distill doctor``, in moto: the two stacks with what doctor reads from them.

``DistillData`` carries only its outputs. ``DistillPipeline`` holds, for real, the roles of the synthesized
pipeline stack (names, trust and policies as the offline world resolved them from the template), one Lambda
function per handler with the template's handler, role and environment, the state machine with its role and
definition, and the topic's KMS key; CloudFormation (moto) creates them, so ListStackResources,
GetFunctionConfiguration, DescribeStateMachine and IAM answer as in AWS. Bedrock and Service Quotas answer through
botocore Stubbers (request and response shapes checked against the API model).

One moto gap is bridged: moto's CloudFormation drops a function's LoggingConfig and TracingConfig and a state
machine's LoggingConfiguration and TracingConfiguration, so their answers get them back from the template.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

from distill import aws
from distill_cli.offline.world import REGION, OfflinePipeline
from tests.support.fake_iam import PolicySimulator

JOBS_QUOTA = {"QuotaCode": "L-0406044C", "QuotaName": "(Model customization) Scheduled customization jobs"}
THROUGHPUT_QUOTA = {"QuotaCode": "L-BE77399C",
                    "QuotaName": "Model units no-commitment Provisioned Throughputs across custom models"}  # fmt: skip
Edit = Callable[[str, list[dict[str, Any]]], None]  # (role name, its policy documents) -> edits them in place


def _json_templates_first() -> None:
    """moto parses every template with PyYAML's pure-Python loader (JSON is YAML), about 0.15 s for the pipeline
    stack; the stand-ins are JSON, so json.loads reads them first and anything else still goes to moto's YAML."""
    from moto.cloudformation.models import Stack

    parse_yaml = Stack.parse_template
    if getattr(parse_yaml, "json_first", False):
        return

    def parse_template(template: str) -> dict[str, Any]:
        try:
            parsed = json.loads(template)
        except ValueError:
            return parse_yaml(template)  # type: ignore[no-any-return]
        return parsed if isinstance(parsed, dict) else parse_yaml(template)  # type: ignore[no-any-return]

    parse_template.json_first = True  # type: ignore[attr-defined]
    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign,assignment]


def _swap(value: Any, old: str, new: Any) -> Any:
    if value == old:
        return new
    if isinstance(value, list):
        return [_swap(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _swap(v, old, new) for k, v in value.items()}
    return value


def deploy_stand_ins(pipeline: OfflinePipeline, edit: Edit | None = None, prefix: str = "Distill") -> None:
    """Create both stacks from the offline world's deployment; ``edit`` may change a role's policies first."""
    _json_templates_first()  # here, not at import: moto.cloudformation imports every moto backend (1 s)
    cfn = boto3.client("cloudformation", region_name=REGION)
    data = {"BucketName": pipeline.bucket, "DropPrefix": f"s3://{pipeline.bucket}/{pipeline.drop_prefix}"}
    cfn.create_stack(StackName=f"{prefix}Data", TemplateBody=json.dumps({
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in data.items()}}))  # fmt: skip
    (topic,) = pipeline.deployment.topics.values()
    key_policy = pipeline.deployment.keys.get(topic.kms_key or "")
    synthesized = pipeline.synth.templates[pipeline.synth.pipeline_stack]["Resources"]
    # The key under the logical id the synthesized stack gives it (doctor finds the topic's key by it).
    (key_id,) = [logical for logical, r in synthesized.items() if r["Type"] == "AWS::KMS::Key"]
    key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
    resources: dict[str, Any] = {key_id: {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": key_policy}}}
    logical_of: dict[str, str] = {}
    for n, role in enumerate(pipeline.deployment.roles.values()):
        documents = [copy.deepcopy(dict(p)) for p in role.policies]
        if edit is not None:
            edit(role.name, documents)
        logical_of[role.arn] = f"Role{n}"
        resources[f"Role{n}"] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": role.name, "AssumeRolePolicyDocument": role.trust,
            "Policies": [{"PolicyName": f"policy{i}", "PolicyDocument": _swap(d, topic.kms_key, key_arn)}
                         for i, d in enumerate(documents)]}}  # fmt: skip
    for n, function in enumerate(pipeline.deployment.functions.values()):
        resources[f"Function{n}"] = {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": function.name, "Handler": function.handler, "Runtime": "python3.12",
            "Role": {"Fn::GetAtt": [logical_of[function.role_arn], "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
            "Environment": {"Variables": dict(function.environment)}}}  # fmt: skip
    machine = pipeline.machine
    resources["StateMachine"] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "StateMachineName": machine.name, "DefinitionString": machine.definition,
        "RoleArn": {"Fn::GetAtt": [logical_of[machine.role_arn], "Arn"]}}}  # fmt: skip
    template = {"Resources": resources, "Outputs": {"StateMachineArn": {"Value": pipeline.state_machine_arn}}}
    cfn.create_stack(StackName=f"{prefix}Pipeline", TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_NAMED_IAM"])  # fmt: skip


def drop_statement(role_part: str, sid: str) -> Edit:
    """An Edit that removes statement ``sid`` from the role whose name contains ``role_part``."""

    def edit(name: str, documents: list[dict[str, Any]]) -> None:
        if role_part in name:
            for document in documents:
                document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]

    return edit


def model(model_id: str, status: str = "ACTIVE", *, end_days: int | None = None,
          customizations: tuple[str, ...] | None = None) -> dict[str, Any]:  # fmt: skip
    """A GetFoundationModel answer; LEGACY ones get a legacyTime 30 days ago and an end of life ``end_days``
    from now."""
    now = datetime.now(UTC)
    lifecycle: dict[str, Any] = {"status": status}
    if status == "LEGACY":
        lifecycle["legacyTime"] = now - timedelta(days=30)
    if end_days is not None:
        lifecycle["endOfLifeTime"] = now + timedelta(days=end_days)
    details: dict[str, Any] = {"modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
                               "modelId": model_id, "modelLifecycle": lifecycle}  # fmt: skip
    if customizations is not None:
        details["customizationsSupported"] = list(customizations)
    return {"modelDetails": details}


def quota(spec: Mapping[str, str], value: float) -> dict[str, Any]:
    return {**spec, "ServiceCode": "bedrock", "ServiceName": "Amazon Bedrock", "Value": value,
            "QuotaArn": f"arn:aws:servicequotas:{REGION}:123456789012:bedrock/{spec['QuotaCode']}"}  # fmt: skip


def _bridged(pipeline: OfflinePipeline, service: str) -> Any:
    """A moto client whose answers carry the template's logging and tracing settings again (see the module)."""
    client = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
    functions = {f.name: f for f in pipeline.deployment.functions.values()}
    machine = pipeline.machine

    def function(parsed: dict[str, Any], **_: Any) -> None:
        template = functions.get(parsed.get("FunctionName", ""))
        if template is not None:
            parsed["LoggingConfig"] = {"LogFormat": "JSON", "LogGroup": template.log_group}
            parsed["TracingConfig"] = {"Mode": "Active" if template.traced else "PassThrough"}

    def state_machine(parsed: dict[str, Any], **_: Any) -> None:
        destinations = [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}} for arn in machine.logs_to]
        parsed["loggingConfiguration"] = {"level": "ALL" if destinations else "OFF", "includeExecutionData": False,
                                          "destinations": destinations}  # fmt: skip
        parsed["tracingConfiguration"] = {"enabled": machine.traced}

    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"after-call.{service_id}.GetFunctionConfiguration", function)
    client.meta.events.register(f"after-call.{service_id}.DescribeStateMachine", state_machine)
    return client


@contextmanager
def doctor_clients(pipeline: OfflinePipeline, models: Mapping[str, dict[str, Any] | str],
                   quota_pages: list[list[dict[str, Any]]], default_quotas: list[dict[str, Any]] | None = None,
                   **simulator: Any) -> Iterator[PolicySimulator]:  # fmt: skip
    """The clients doctor gets from distill.aws: moto's CloudFormation, Lambda, Step Functions and IAM (with the
    policy simulator), and Stubbers for Bedrock (``models``: id -> answer, or an error code, in call order) and
    Service Quotas (``quota_pages`` of ListServiceQuotas, then ListAWSDefaultServiceQuotas if given)."""
    iam = boto3.client("iam", region_name=REGION)
    fake = PolicySimulator(iam, **simulator)
    bedrock = boto3.client("bedrock", region_name=REGION)
    quotas = boto3.client("service-quotas", region_name=REGION)
    with Stubber(bedrock) as models_stub, Stubber(quotas) as quotas_stub:
        for model_id, answer in models.items():
            if isinstance(answer, str):
                models_stub.add_client_error("get_foundation_model", answer, f"{answer} for {model_id}",
                                             expected_params={"modelIdentifier": model_id})  # fmt: skip
            else:
                models_stub.add_response("get_foundation_model", answer, {"modelIdentifier": model_id})
        for n, page in enumerate(quota_pages):
            last = n == len(quota_pages) - 1
            quotas_stub.add_response("list_service_quotas", {"Quotas": page, **({} if last else {"NextToken": f"p{n + 1}"})},
                                     {"ServiceCode": "bedrock", **({"NextToken": f"p{n}"} if n else {})})  # fmt: skip
        if default_quotas is not None:
            quotas_stub.add_response("list_aws_default_service_quotas", {"Quotas": default_quotas},
                                     {"ServiceCode": "bedrock"})  # fmt: skip
        clients = {"cloudformation": boto3.client("cloudformation", region_name=REGION), "iam": iam,
                   "lambda": _bridged(pipeline, "lambda"), "stepfunctions": _bridged(pipeline, "stepfunctions"),
                   "bedrock": bedrock, "service-quotas": quotas}  # fmt: skip
        with aws.clients_from(clients.__getitem__):
            yield fake
        models_stub.assert_no_pending_responses()
        quotas_stub.assert_no_pending_responses()
