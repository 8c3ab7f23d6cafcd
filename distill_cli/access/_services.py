"""SNS, SQS, Step Functions, KMS, CloudFormation, IAM, Service Quotas, CloudWatch and DynamoDB calls.

Resource types per action: the Service Authorization Reference,
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from distill_cli.access._model import ContextValue, Handler, Requirement, Where, param
from distill_cli.access._s3 import key_arn


def _given(action: str, name: str) -> Handler:
    """The call names the resource's ARN in parameter ``name``."""

    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        arn = str(param(params, name, action))
        if not arn.startswith("arn:"):
            raise ValueError(f"{action}: {name} must be an ARN, got {arn!r}")
        return [Requirement(action, arn)]

    return handler


def _star(action: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        return [Requirement(action, "*")]

    return handler


def _publish(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    topic = params.get("TopicArn") or params.get("TargetArn")
    if not topic or ":endpoint/" in str(topic):
        raise ValueError("Publish: only topics are modelled (TopicArn)")
    found = [Requirement("sns:Publish", str(topic))]
    key = where.topic_keys.get(str(topic))
    if key:
        # A topic under a customer managed key: "make sure that any publishers have the kms:GenerateDataKey* and
        # kms:Decrypt permissions for the AWS KMS key" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        via: dict[str, ContextValue] = {"kms:ViaService": f"sns.{where.region}.amazonaws.com",
                                        "kms:EncryptionContext:aws:sns:topicArn": str(topic)}  # fmt: skip
        found += [Requirement("kms:GenerateDataKey", key, via), Requirement("kms:Decrypt", key, via)]
    return found


def _queue_arn(where: Where, url: str) -> str:
    """https://sqs.REGION.amazonaws.com/ACCOUNT/NAME -> arn:aws:sqs:REGION:ACCOUNT:NAME."""
    parsed = urlparse(url)
    parts = [part for part in parsed.path.split("/") if part]
    if len(parts) != 2:
        raise ValueError(f"not a queue URL: {url!r}")
    host = parsed.hostname or ""
    labels = host.split(".")
    region = labels[1] if labels[0] == "sqs" and len(labels) > 2 else where.region
    return where.arn("sqs", parts[1], region=region, account=parts[0])


def _send_message(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    return [Requirement("sqs:SendMessage", _queue_arn(where, str(param(params, "QueueUrl", "SendMessage"))))]


def _list_executions(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # SAR: statemachine* or maprun*.
    arn = params.get("stateMachineArn") or params.get("mapRunArn")
    if not arn:
        raise ValueError("ListExecutions needs stateMachineArn or mapRunArn")
    return [Requirement("states:ListExecutions", str(arn))]


def _kms(action: str) -> Handler:
    """KMS authorizes the key's ARN whatever the call names it by; an alias adds kms:RequestAlias.
    https://docs.aws.amazon.com/kms/latest/developerguide/policy-conditions.html"""

    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        if not params.get("KeyId"):
            # Symmetric ciphertext names its key, but only KMS can read it: the caller must say which key.
            raise ValueError(f"{action}: give KeyId (the key the ciphertext was encrypted under)")
        key = str(params["KeyId"])
        context: dict[str, ContextValue] = {"kms:CallerAccount": where.account}
        if key.startswith("alias/") or ":alias/" in key:
            context["kms:RequestAlias"] = key.split(":", 5)[-1]
        encryption_context = params.get("EncryptionContext") or {}
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = str(value)
        if encryption_context:
            context["kms:EncryptionContextKeys"] = tuple(encryption_context)
        if params.get("EncryptionAlgorithm"):
            context["kms:EncryptionAlgorithm"] = str(params["EncryptionAlgorithm"])
        if action == "kms:CreateGrant":
            context["kms:GranteePrincipal"] = str(param(params, "GranteePrincipal", action))
            context["kms:GrantOperations"] = tuple(param(params, "Operations", action))
            if params.get("RetiringPrincipal"):
                context["kms:RetiringPrincipal"] = str(params["RetiringPrincipal"])
        return [Requirement(action, key_arn(where, key), context)]

    return handler


def _describe_stacks(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    """A stack's ARN ends in a generated id. For a name we use the ARN Where.names gives, else
    ``stack/NAME/*`` -- what AWS itself names in the denial for a stack it does not know (seen in access-denied
    messages); with no StackName, ``stack/*/*`` (assumption, as for ListStacks)."""
    name = params.get("StackName")
    if name and str(name).startswith("arn:"):
        arn = str(name)
    elif name:
        arn = where.names.get(str(name)) or where.arn("cloudformation", f"stack/{name}/*")
    else:
        arn = where.arn("cloudformation", "stack/*/*")
    return [Requirement("cloudformation:DescribeStacks", arn)]


def _function(action: str) -> Handler:
    """A function named by name or ARN -> its ARN (SAR: function, arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName})."""

    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        name = str(param(params, "FunctionName", action))
        return [Requirement(action, name if name.startswith("arn:") else where.arn("lambda", f"function:{name}"))]

    return handler


def _get_role(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # The role's ARN includes its path: give it in Where.names when the path is not "/".
    name = str(param(params, "RoleName", "GetRole"))
    return [Requirement("iam:GetRole", where.names.get(name) or where.arn("iam", f"role/{name}", region=""))]


def _get_service_quota(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # SAR: quota, arn:${Partition}:servicequotas:${Region}:${Account}:${ServiceCode}/${QuotaCode}.
    service = str(param(params, "ServiceCode", "GetServiceQuota"))
    quota = str(param(params, "QuotaCode", "GetServiceQuota"))
    return [Requirement("servicequotas:GetServiceQuota", where.arn("servicequotas", f"{service}/{quota}"),
                        {"servicequotas:service": service})]  # fmt: skip


def _table(where: Where, params: Mapping[str, Any], operation: str) -> str:
    table = str(param(params, "TableName", operation))
    return table if table.startswith("arn:") else where.arn("dynamodb", f"table/{table}")


def _item(action: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        return [Requirement(action, _table(where, params, action))]

    return handler


def _query(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # Querying an index is authorized on the index's ARN (SAR: index, table/NAME/index/INDEX).
    table = _table(where, params, "Query")
    index = params.get("IndexName")
    return [Requirement("dynamodb:Query", f"{table}/index/{index}" if index else table)]


SERVICES: dict[str, dict[str, Handler]] = {
    "sns": {"Publish": _publish},
    "sqs": {"SendMessage": _send_message},
    "stepfunctions": {
        "StartExecution": _given("states:StartExecution", "stateMachineArn"),
        "DescribeExecution": _given("states:DescribeExecution", "executionArn"),
        "GetExecutionHistory": _given("states:GetExecutionHistory", "executionArn"),
        "ListExecutions": _list_executions,
        "StopExecution": _given("states:StopExecution", "executionArn"),
        "DescribeStateMachine": _given("states:DescribeStateMachine", "stateMachineArn"),
        # The SAR lists no resource type for the task-token calls: they take "*" only.
        "SendTaskSuccess": _star("states:SendTaskSuccess"),
        "SendTaskFailure": _star("states:SendTaskFailure"),
        "SendTaskHeartbeat": _star("states:SendTaskHeartbeat"),
    },
    "kms": {
        name: _kms(f"kms:{name}")
        for name in ("Decrypt", "GenerateDataKey", "DescribeKey", "CreateGrant", "GetKeyPolicy")
    },
    "cloudformation": {
        "DescribeStacks": _describe_stacks,
        "ListStackResources": lambda params, where: [
            Requirement("cloudformation:ListStackResources", _describe_stacks(params, where)[0].resource)],
    },
    "lambda": {"GetFunctionConfiguration": _function("lambda:GetFunctionConfiguration")},
    "iam": {
        "SimulatePrincipalPolicy": _given("iam:SimulatePrincipalPolicy", "PolicySourceArn"),
        "GetRole": _get_role,
    },
    "service-quotas": {
        "GetServiceQuota": _get_service_quota,
        "ListServiceQuotas": _star("servicequotas:ListServiceQuotas"),
        "ListAWSDefaultServiceQuotas": _star("servicequotas:ListAWSDefaultServiceQuotas"),
        # The SAR lists no resource type for it: "*" (job slots read the default when no applied value exists).
        "GetAWSDefaultServiceQuota": _star("servicequotas:GetAWSDefaultServiceQuota"),
    },
    "cloudwatch": {
        # The SAR lists no resource type for either (Read actions on metrics): "*" is the only resource they take.
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html; the janitor
        # reads AWS/Bedrock Invocations with GetMetricData (distill.janitor).
        "GetMetricData": _star("cloudwatch:GetMetricData"),
        "GetMetricStatistics": _star("cloudwatch:GetMetricStatistics"),
    },
    "dynamodb": {
        "GetItem": _item("dynamodb:GetItem"),
        "PutItem": _item("dynamodb:PutItem"),
        "DeleteItem": _item("dynamodb:DeleteItem"),
        "UpdateItem": _item("dynamodb:UpdateItem"),
        "Query": _query,
    },
}
