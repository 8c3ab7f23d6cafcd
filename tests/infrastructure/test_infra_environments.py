"""The compliance gate in a concrete environment: what `cdk synth` / `cdk deploy` build once a region is configured.

The CDK CLI always passes a region (CDK_DEFAULT_REGION) and, once credentials resolve, the account
(CDK_DEFAULT_ACCOUNT); build_app puts them into the stacks' environment, and the ARNs in the policies then carry
them instead of <AWS::Region> / <AWS::AccountId>. The gate must pass there as it does environment-agnostic.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import Token
from aws_cdk import aws_iam as iam

from stacks.app_builder import SKIP_BUNDLING, build_app
from tests.infrastructure.conftest import acknowledged_rules

ACCOUNT = "123456789012"
KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def in_environment(monkeypatch: pytest.MonkeyPatch, region: str, account: str | None) -> None:
    """What the CDK CLI hands the app (build_app reads these)."""
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    if account:
        monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", account)
    else:  # no credentials: the CLI passes the region only
        monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)


@pytest.mark.parametrize(
    ("region", "account", "context"),
    [
        ("us-east-1", ACCOUNT, {}),
        ("us-west-2", ACCOUNT, {"kmsKeyArn": KEY, "allowedDataBuckets": ["raw-data-a"]}),
        ("ap-southeast-2", None, {}),
    ],
    # eu-west-1 with an account is the pinned CLI's own synth (test_infra_bundling.py), compared the same way.
    ids=["us-east-1", "us-west-2-kms-key-and-data-bucket", "ap-southeast-2-no-account"],
)
def test_given_a_concrete_environment_when_synthesized_with_cdk_nag_then_the_same_findings_are_acknowledged(
    monkeypatch, tmp_path, synth, region, account, context
):
    in_environment(monkeypatch, region, account)
    app, data, pipeline = build_app({**SKIP_BUNDLING, **context}, outdir=str(tmp_path))
    assert (pipeline.region, data.region) == (region, region)
    assert (pipeline.account == account) if account else Token.is_unresolved(pipeline.account)

    app.synth()  # an unacknowledged finding raises here, naming it

    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("conclusion") == "failure"] == []
    rules = acknowledged_rules(tmp_path)
    spelled = f"{region}:{account or '<AWS::AccountId>'}"
    assert f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:{spelled}:custom-model/*]" in rules
    if context:
        assert "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::raw-data-a/*]" in rules
        assert KEY in (tmp_path / f"{pipeline.stack_name}.template.json").read_text()  # the key is in use
        return
    # The same findings as in the environment-agnostic synth, only spelled with the concrete region and account.
    agnostic = {
        rule.replace("<AWS::Region>", region).replace("<AWS::AccountId>", account or "<AWS::AccountId>"): reason
        for rule, reason in acknowledged_rules(synth.outdir).items()
    }
    assert rules == agnostic


def test_given_wildcards_in_a_foreign_account_region_or_bucket_when_synthesized_in_a_concrete_environment_then_cdk_nag_names_each(
    monkeypatch, tmp_path
):
    in_environment(monkeypatch, "eu-west-1", ACCOUNT)
    app, _, pipeline = build_app(dict(SKIP_BUNDLING), outdir=str(tmp_path))
    foreign = [
        "arn:aws:bedrock:eu-west-1:999999999999:custom-model/*",  # another account
        "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/*",  # another region
        "arn:aws-cn:bedrock:eu-west-1:123456789012:custom-model-deployment/*",  # another partition
        "arn:aws:bedrock:eu-west-1:123456789012:guardrail/*",  # a resource type nobody reasoned about
    ]
    pipeline.functions.await_job.add_to_role_policy(
        iam.PolicyStatement(actions=["bedrock:GetCustomModel"], resources=foreign)
    )
    pipeline.functions.await_job.add_to_role_policy(  # a bucket nobody allow-listed
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::somebody-elses-bucket/*"])
    )
    with pytest.raises(RuntimeError) as failed:
        app.synth()
    for resource in [*foreign, "arn:aws:s3:::somebody-elses-bucket/*"]:
        assert f"AwsSolutions-IAM5[Resource::{resource}]" in str(failed.value)
    # ... while this stack's own wildcards in the same synth are still acknowledged.
    assert "bedrock:eu-west-1:123456789012:custom-model/*" not in str(failed.value)
