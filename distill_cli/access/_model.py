"""The types the operations table speaks in, and the ARN helpers every service module shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distill_cli.access.policy import Request
from distill_cli.access.principals import Principal

ContextValue = str | tuple[str, ...]


class UnknownOperation(LookupError):
    """An AWS call the table does not know: the authorizer must refuse it, never wave it through."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(f"no IAM authorization is known for {service}.{operation}: add it to distill_cli.access")
        self.service = service
        self.operation = operation


@dataclass(frozen=True)
class Where:
    """The facts a call's ARNs depend on.

    bucket_keys: bucket name -> ARN of the KMS key of its default SSE-KMS encryption.
    bucket_key_enabled: whether those buckets use S3 Bucket Keys (the project's do), which changes the KMS
        encryption context from the object's ARN to the bucket's.
    new_resource_id: the id to put in the ARN of what a Create call creates.
    resource_tags: resource ARN -> its tags, for aws:ResourceTag/<key>.
    names: a name a call may use instead of an ARN (Bedrock job, provisioned model, deployment; a stack; a role)
        -> that resource's ARN. Unknown names get the ARN built from the name (documented per operation).
    kms_aliases: "alias/name" -> the ARN of the key it points to.
    profile_regions: inference profile id -> the Regions it routes to.
    topic_keys: SNS topic ARN -> the ARN of the customer managed key it is encrypted with.
    """

    region: str
    account: str
    partition: str = "aws"
    bucket_keys: Mapping[str, str] = field(default_factory=dict)
    bucket_key_enabled: bool = True
    new_resource_id: str = "new-resource-id"
    resource_tags: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    kms_aliases: Mapping[str, str] = field(default_factory=dict)
    profile_regions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    topic_keys: Mapping[str, str] = field(default_factory=dict)

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Requirement:
    """One authorization AWS performs for a call: ``action`` on ``resource`` with the request's ``context``."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def request(self, principal: Principal | None = None) -> Request:
        return Request(self.action, self.resource, dict(self.context), principal)


Handler = Callable[[Mapping[str, Any], Where], list[Requirement]]


def param(params: Mapping[str, Any], name: str, operation: str) -> Any:
    if name not in params or params[name] in (None, ""):
        raise ValueError(f"{operation} needs the {name} parameter to say what it is authorized against")
    return params[name]


def tag_context(tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """aws:RequestTag/<key> per tag and aws:TagKeys, for calls that pass tags.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requesttag
    """
    if not tags:
        return {}
    context: dict[str, ContextValue] = {f"aws:RequestTag/{key}": value for key, value in tags.items()}
    context["aws:TagKeys"] = tuple(tags)
    return context


def tags_of(items: Any, key: str = "key", value: str = "value") -> dict[str, str]:
    """Bedrock's [{"key": .., "value": ..}] (or SNS/SQS-style Key/Value) as a dict."""
    if not items:
        return {}
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    return {str(item[key]): str(item[value]) for item in items}
