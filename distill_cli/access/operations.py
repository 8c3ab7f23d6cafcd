"""THE table: for each AWS operation the project calls, the IAM authorizations AWS performs for it.

``required(service, operation, params, where)`` -> the Requirements (action, resource ARN, request context) to
authorize, all of them. The offline world checks each against the caller's role policies with
``distill_cli.access.policy``; ``distill doctor`` checks the same list with iam:SimulatePrincipalPolicy.
Service names are boto3's, operation names the API's (``ListObjectsV2``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill_cli.access import _bedrock, _s3, _services
from distill_cli.access._model import ContextValue, Handler, Requirement, UnknownOperation, Where
from distill_cli.access.policy import Decision

__all__ = [
    "OPERATIONS",
    "Requirement",
    "UnknownOperation",
    "Where",
    "denied_error_code",
    "denied_message",
    "required",
]

_TABLE: dict[str, dict[str, Handler]] = {
    "s3": _s3.HANDLERS,
    "bedrock": _bedrock.CONTROL,
    "bedrock-runtime": _bedrock.RUNTIME,
    **_services.SERVICES,
}

OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    (service, operation) for service, handlers in _TABLE.items() for operation in handlers
)

# IAM is global: its one endpoint is in the partition's first Region, so aws:RequestedRegion is that Region.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requestedregion
_GLOBAL_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}


def _base_context(service: str, where: Where) -> dict[str, ContextValue]:
    """Global keys every request carries (reference_policies_condition-keys.html): the SDK always uses TLS, and a
    call the caller makes itself is not made by a service on its behalf."""
    region = _GLOBAL_REGION.get(where.partition, where.region) if service == "iam" else where.region
    return {"aws:RequestedRegion": region, "aws:SecureTransport": "true", "aws:ViaAWSService": "false"}


def required(service: str, operation: str, params: Mapping[str, Any], where: Where) -> list[Requirement]:
    """Every authorization AWS performs for ``service.operation`` called with ``params``; all must be allowed.
    Raises UnknownOperation for a call the table does not know, ValueError when the params do not say what the
    call is authorized against."""
    handler = _TABLE.get(service, {}).get(operation)
    if handler is None:
        raise UnknownOperation(service, operation)
    found: list[Requirement] = []
    for requirement in handler(params, where):
        context = {**_base_context(service, where), **requirement.context}
        # aws:ResourceTag/<key> when the caller knows the resource's tags.
        for key, value in where.resource_tags.get(requirement.resource, {}).items():
            context.setdefault(f"aws:ResourceTag/{key}", value)
        found.append(Requirement(requirement.action, requirement.resource, context))
    return found


# The error each service returns when authorization fails: (code, HTTP status). Modelled error shapes in botocore
# (s3 AccessDenied 403; bedrock/bedrock-runtime AccessDeniedException 403; sns AuthorizationError 403;
# service-quotas AccessDeniedException) and, for services whose models leave it out, their Common Errors pages and
# responses seen from AWS: JSON services answer AccessDeniedException with 400, query services AccessDenied with
# 403 (SQS keeps its query-era code under JSON via awsQueryCompatible).
_DENIED: Mapping[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "bedrock": ("AccessDeniedException", 403),
    "bedrock-runtime": ("AccessDeniedException", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "stepfunctions": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
    "dynamodb": ("AccessDeniedException", 400),
    "service-quotas": ("AccessDeniedException", 400),
    "cloudformation": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
}


def denied_error_code(service: str) -> tuple[str, int]:
    """(error code, HTTP status) of an authorization failure in ``service`` (boto3's name)."""
    if service not in _DENIED:
        raise UnknownOperation(service, "*")
    return _DENIED[service]


def denied_message(principal_arn: str, requirement: Requirement, decision: Decision) -> str:
    """AWS's wording: "User: ARN is not authorized to perform: ACTION on resource: ARN because no identity-based
    policy allows the ACTION action" (or "with an explicit deny in a resource-based policy").
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    No "on resource:" for "*"; S3 quotes the ARN."""
    if decision.allowed:
        raise ValueError("the request was allowed: there is nothing to deny")
    resource = requirement.resource
    if requirement.action.lower().startswith("s3:"):
        resource = f'"{resource}"'
    target = "" if requirement.resource == "*" else f" on resource: {resource}"
    article = "an" if decision.policy_type == "identity-based" else "a"
    why = (
        f"with an explicit deny in {article} {decision.policy_type} policy"
        if decision.explicit_deny
        else f"because no {decision.policy_type} policy allows the {requirement.action} action"
    )
    return f"User: {principal_arn} is not authorized to perform: {requirement.action}{target} {why}"
