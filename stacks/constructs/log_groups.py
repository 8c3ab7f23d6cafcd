"""Log groups with retention, encrypted with the project's key when one is configured."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.compliance import skip_checkov


def retention(days: int) -> logs.RetentionDays:
    names = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
             60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
             365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
             1096: "THREE_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS"}  # fmt: skip
    return logs.RetentionDays[names[days]]


def log_group(scope: Construct, id: str, *, days: int, key: kms.IKey | None, name: str | None = None) -> logs.LogGroup:
    # The pipeline stack is disposable; run records live in the bucket's reports/ prefix.
    group = logs.LogGroup(
        scope,
        id,
        log_group_name=name,
        retention=retention(days),
        encryption_key=key,
        removal_policy=RemovalPolicy.DESTROY,
    )
    if key is None:
        skip_checkov(
            group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts log data at rest by default; set kmsKeyArn in cdk.json to use a customer "
            "managed key (its key policy must allow the logs service).",
        )
    return group
