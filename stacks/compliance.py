"""The compliance gate: cdk-nag's AwsSolutions checks on every stack, with a written reason for each finding
that is knowingly set aside.

Unacknowledged findings fail ``app.synth()`` (and so ``cdk synth``, ``cdk deploy`` and the test that synthesizes
the app). Wildcard resources (AwsSolutions-IAM5) are not waved through wholesale: every policy statement in the
app is read, and each wildcard is acknowledged only if it matches one of the reasoned patterns below. A new
wildcard that matches none fails the gate until someone writes down why it is needed.

A wildcard is matched on what it grants, not on how it is spelt: an ARN is read into its parts, and a region,
account or partition is "this stack's" whether it is still a pseudo parameter (``<AWS::Region>``, the
environment-agnostic synth) or the stack's concrete value (the CDK CLI passes ``CDK_DEFAULT_REGION`` and, once
credentials resolve, ``CDK_DEFAULT_ACCOUNT``). cdk-nag names the finding by the resolved resource, so the
acknowledgment is written with exactly that spelling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import jsii
from aws_cdk import Acknowledgment, App, CfnResource, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from aws_cdk.region_info import RegionInfo
from constructs import IConstruct, IValidation

from stacks.config import from_context

PSEUDO_PARTITION, PSEUDO_REGION, PSEUDO_ACCOUNT = "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>"


class Where(Enum):
    """What an ARN's region or account part must be."""

    THIS_STACK = "this stack's"  # the pseudo parameter or the stack's concrete value
    ANY = "*"  # literally "*" (e.g. foundation models of a cross-region inference profile)
    NONE = ""  # empty, as in S3 and foundation-model ARNs


@dataclass(frozen=True)
class Arn:
    """A flattened resource (see :func:`flat_reference`) read as an ARN. ``resource_type`` is the resource part
    up to the first ``/`` or ``:`` (for an S3 object ARN: the bucket), ``resource_id`` the rest."""

    partition: str
    service: str
    region: str
    account: str
    resource_type: str
    resource_id: str

    @classmethod
    def parse(cls, flat: str) -> Arn | None:
        parts = _split_outside_references(flat, ":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        partition, service, region, account, resource = parts[1:]
        resource_type, resource_id = (*_split_outside_references(resource, "/:", 1), "")[:2]
        return cls(partition, service, region, account, resource_type, resource_id)


def _split_outside_references(text: str, separators: str, maxsplit: int) -> list[str]:
    """``text`` split on ``separators``, ignoring those inside ``<AWS::Region>``-style references and inside
    the JSON that :func:`flat_reference` leaves for intrinsics it does not flatten (``{"Fn::Select": ...}``)."""
    parts: list[str] = []
    depth, start, quoted, escaped = 0, 0, False, False
    for index, char in enumerate(text):
        if quoted:
            escaped, quoted = (not escaped and char == "\\"), (escaped or char != '"')
        elif char == '"' and depth:
            quoted = True
        elif char in "<{[":
            depth += 1
        elif char in ">}]":
            depth -= 1
        elif char in separators and depth == 0 and len(parts) < maxsplit:
            parts.append(text[start:index])
            start = index + 1
    return [*parts, text[start:]]


@dataclass(frozen=True)
class StackFacts:
    """How this stack's partition, region and account may be spelt in a finding, and what it was configured
    with (the buckets the operator allow-listed)."""

    partitions: frozenset[str]
    regions: frozenset[str]
    accounts: frozenset[str]
    data_buckets: frozenset[str] = frozenset()
    log_objects: frozenset[str] = frozenset()  # "bucket/prefix/*" of each allow-listed invocation-logs prefix

    @classmethod
    def of(cls, stack: Stack, data_buckets: frozenset[str] = frozenset(),
           log_objects: frozenset[str] = frozenset()) -> StackFacts:  # fmt: skip
        def spellings(pseudo: str, *values: str | None) -> frozenset[str]:
            return frozenset({pseudo, *(v for v in values if v and not Token.is_unresolved(v))})

        region = None if Token.is_unresolved(stack.region) else stack.region
        region_partition = RegionInfo.get(region).partition if region else None
        return cls(
            spellings(PSEUDO_PARTITION, stack.partition, region_partition),
            spellings(PSEUDO_REGION, stack.region),
            spellings(PSEUDO_ACCOUNT, stack.account),
            data_buckets,
            log_objects,
        )


@dataclass(frozen=True)
class WildcardReason:
    """One reasoned kind of wildcard resource. Either an ARN of ``service`` in this stack's partition whose
    region and account are where the reason says, naming one of ``resource_types`` (or, with
    ``allow_listed_bucket``, an object of an allow-listed bucket) with an id matching ``resource_id``; or, when
    ``reference`` is set, a resource that is not an ARN (a reference to a resource of the app, or "*") matching
    it."""

    reason: str
    service: str = ""
    resource_types: frozenset[str] = frozenset()
    resource_id: re.Pattern[str] = re.compile(r"\*")  # matched against the whole id
    region: Where = Where.THIS_STACK
    account: Where = Where.THIS_STACK
    allow_listed_bucket: bool = False
    allow_listed_logs: bool = False  # an object under an allow-listed invocation-logs prefix
    reference: re.Pattern[str] | None = None
    only_actions: frozenset[str] = frozenset()  # if set, the statement may hold only these actions

    def covers(self, resource: str, actions: set[str], facts: StackFacts) -> bool:
        if self.only_actions and not actions <= self.only_actions:
            return False
        arn = Arn.parse(resource)
        if self.reference is not None:
            return arn is None and self.reference.fullmatch(resource) is not None
        if arn is None:
            return False
        if self.allow_listed_logs:
            in_partition = arn.partition in facts.partitions and arn.service == "s3"
            return in_partition and f"{arn.resource_type}/{arn.resource_id}" in facts.log_objects
        kinds = facts.data_buckets if self.allow_listed_bucket else self.resource_types
        return (
            arn.partition in facts.partitions
            and arn.service == self.service
            and _is(arn.region, self.region, facts.regions)
            and _is(arn.account, self.account, facts.accounts)
            and arn.resource_type in kinds
            and self.resource_id.fullmatch(arn.resource_id) is not None
        )


def _is(part: str, where: Where, this_stack: frozenset[str]) -> bool:
    return part in this_stack if where is Where.THIS_STACK else part == where.value


WILDCARD_REASONS = (
    WildcardReason(
        "Raw data in a bucket the operator allow-listed (allowedDataBuckets in cdk.json); read-only.",
        service="s3",
        region=Where.NONE,
        account=Where.NONE,
        allow_listed_bucket=True,
        only_actions=frozenset({"s3:GetObject"}),
    ),
    WildcardReason(
        "Objects under one prefix of the project's bucket: keys are generated per run (run id), so the grant is "
        "scoped to the prefix the function or Bedrock role needs, not the bucket.",
        reference=re.compile(r".+/(incoming|datasets|jobs|reports|waits|invocation-logs)/\*"),
    ),
    WildcardReason(
        "Bedrock's model invocation logs under a prefix the operator allow-listed (allowedInvocationLogBuckets in "
        "cdk.json); read-only, that prefix only.",
        region=Where.NONE,
        account=Where.NONE,
        allow_listed_logs=True,
        only_actions=frozenset({"s3:GetObject"}),
    ),
    WildcardReason(
        "Bedrock generates these resource ids when the job, throughput or deployment is created; the grant is "
        "limited to this account and region and to the resource type the call needs.",
        service="bedrock",
        resource_types=frozenset(
            {"model-customization-job", "custom-model", "custom-model-deployment", "provisioned-model"}
        ),
    ),
    WildcardReason(
        "A cross-region inference profile (an allow-listed teacher) routes to its base model in any region of its "
        "geography; the model id itself is fixed.",
        service="bedrock",
        resource_types=frozenset({"foundation-model"}),
        resource_id=re.compile(r"[a-z0-9.:-]+"),
        region=Where.ANY,
        account=Where.NONE,
    ),
    WildcardReason(
        "Executions of this pipeline's state machine only (their names are chosen at run time).",
        service="states",
        resource_types=frozenset({"execution"}),
        resource_id=re.compile(r".+:\*"),
    ),
    WildcardReason(
        "CDK's grant for the state machine to invoke its own functions, including their versions.",
        reference=re.compile(r"<Functions[A-Za-z0-9]+\.Arn>:\*"),
    ),
    WildcardReason(
        "These actions accept no resource-level permission (X-Ray tracing; listing provisioned throughput; "
        "answering a task token).",
        reference=re.compile(r"\*"),
        only_actions=frozenset(
            {
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "bedrock:ListProvisionedModelThroughputs",
                "states:SendTaskSuccess",
                "servicequotas:GetAWSDefaultServiceQuota",
                "bedrock:ListCustomModelDeployments",
                "cloudwatch:GetMetricData",
            }
        ),
    ),
)


def flat_reference(value: Any) -> str:
    """A resource as cdk-nag names it in an IAM5 finding (its flattenCfnReference)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(flat_reference(part) for part in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<{}.{}>".format(*value["Fn::GetAtt"])
        if "Fn::ImportValue" in value:
            return flat_reference(value["Fn::ImportValue"])
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def acknowledge_reasoned_wildcards(app: App) -> list[str]:
    """Acknowledge each IAM5 wildcard finding that a reason covers; return the ones none covers."""
    config = from_context(app.node.get_all_context())
    data_buckets = frozenset(config.allowed_data_buckets)
    log_objects = frozenset(f"{entry.rstrip('/')}/*" for entry in config.allowed_invocation_log_buckets)
    uncovered = []
    for node in app.node.find_all():
        if not isinstance(node, iam.CfnPolicy):
            continue
        stack = Stack.of(node)
        facts = StackFacts.of(stack, data_buckets, log_objects)
        document = stack.resolve(node.policy_document)
        for statement in document.get("Statement", []):
            actions = set(_as_list(statement.get("Action", [])))
            for resource in map(flat_reference, _as_list(statement.get("Resource", []))):
                if "*" not in resource:
                    continue
                reason = next((r for r in WILDCARD_REASONS if r.covers(resource, actions, facts)), None)
                if reason is None:
                    uncovered.append(f"{node.node.path}: {resource} for {sorted(actions)}")
                    continue
                # cdk-nag names the finding by the resource as it resolved (a concrete region stays concrete).
                Validations.of(node).acknowledge(
                    Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{resource}]", reason=reason.reason)
                )
    return uncovered


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Set one cdk-nag rule aside on ``scope`` with the reason written next to the resource that needs it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


@jsii.implements(IValidation)
class _WildcardAcknowledger:
    """Runs in the synth's validation phase, after cross-stack references became Fn::ImportValue: only then do
    the policies read as cdk-nag will read them."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.uncovered: list[str] = []

    def validate(self) -> list[str]:
        self.uncovered = acknowledge_reasoned_wildcards(self.app)
        return []  # uncovered wildcards stay unacknowledged: cdk-nag reports them with the resource named


def add_compliance_checks(app: App) -> None:
    """Attach cdk-nag's AwsSolutions pack to every stack of ``app``."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks())
    app.node.add_validation(_WildcardAcknowledger(app))


def skip_checkov(construct: IConstruct, check: str, reason: str) -> None:
    """Set a checkov check aside on the CloudFormation resource behind ``construct``, with the reason."""
    resource = construct.node.default_child if isinstance(construct.node.default_child, CfnResource) else construct
    assert isinstance(resource, CfnResource), construct.node.path
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check, "comment": reason})
    resource.add_metadata("checkov", metadata)
