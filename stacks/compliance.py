"""The compliance gate: cdk-nag's AwsSolutions checks on every stack, with a written reason for each finding
that is knowingly set aside.

Unacknowledged findings fail ``app.synth()`` (and so ``cdk synth``, ``cdk deploy`` and the test that synthesizes
the app). Wildcard resources (AwsSolutions-IAM5) are not waved through wholesale: every policy statement in the
app is read, and each wildcard is acknowledged only if it matches one of the reasoned patterns below. A new
wildcard that matches none fails the gate until someone writes down why it is needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation


@dataclass(frozen=True)
class WildcardReason:
    pattern: re.Pattern[str]  # matched against the resource as cdk-nag prints it
    reason: str
    only_actions: frozenset[str] = frozenset()  # if set, the statement may hold only these actions


WILDCARD_REASONS = (
    WildcardReason(
        re.compile(r"^arn:<AWS::Partition>:s3:::[a-z0-9][a-z0-9.-]+/\*$"),
        "Raw data in a bucket the operator allow-listed (allowedDataBuckets in cdk.json); read-only.",
        frozenset({"s3:GetObject"}),
    ),
    WildcardReason(
        re.compile(r"/(incoming|datasets|jobs|reports)/\*$"),
        "Objects under one prefix of the project's bucket: keys are generated per run (run id), so the grant is "
        "scoped to the prefix the function or Bedrock role needs, not the bucket.",
    ),
    WildcardReason(
        re.compile(
            r":bedrock:<AWS::Region>:<AWS::AccountId>:"
            r"(model-customization-job|custom-model|custom-model-deployment|provisioned-model)/\*$"
        ),
        "Bedrock generates these resource ids when the job, throughput or deployment is created; the grant is "
        "limited to this account and region and to the resource type the call needs.",
    ),
    WildcardReason(
        re.compile(r":bedrock:\*::foundation-model/[a-z0-9.:-]+$"),
        "A cross-region inference profile (an allow-listed teacher) routes to its base model in any region of its "
        "geography; the model id itself is fixed.",
    ),
    WildcardReason(
        re.compile(r":states:<AWS::Region>:<AWS::AccountId>:execution:.*:\*$"),
        "Executions of this pipeline's state machine only (their names are chosen at run time).",
    ),
    WildcardReason(
        re.compile(r"^<Functions[A-Za-z0-9]+\.Arn>:\*$"),
        "CDK's grant for the state machine to invoke its own functions, including their versions.",
    ),
    WildcardReason(
        re.compile(r"^\*$"),
        "These actions accept no resource-level permission (X-Ray tracing; listing provisioned throughput).",
        frozenset(
            {
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "bedrock:ListProvisionedModelThroughputs",
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
    uncovered = []
    for node in app.node.find_all():
        if not isinstance(node, iam.CfnPolicy):
            continue
        document = Stack.of(node).resolve(node.policy_document)
        for statement in document.get("Statement", []):
            actions = set(_as_list(statement.get("Action", [])))
            for resource in map(flat_reference, _as_list(statement.get("Resource", []))):
                if "*" not in resource:
                    continue
                reason = next(
                    (
                        r
                        for r in WILDCARD_REASONS
                        if r.pattern.search(resource) and (not r.only_actions or actions <= r.only_actions)
                    ),
                    None,
                )
                if reason is None:
                    uncovered.append(f"{node.node.path}: {resource} for {sorted(actions)}")
                    continue
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
