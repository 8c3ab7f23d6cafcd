"""The security gate: cdk-nag, cfn-lint and IAM rules that must hold for every synth."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_iam as iam

from stacks.app_builder import SKIP_BUNDLING, build_app
from stacks.compliance import WILDCARD_REASONS, Arn, StackFacts, flat_reference


def test_given_default_config_when_synthesized_with_cdk_nag_then_no_finding_is_left_unacknowledged(synth):
    # The session fixture synthesized with complianceChecks on: an unacknowledged error would have raised there.
    assert synth.config.compliance_checks is True
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert [r for r in report["pluginReports"] if r.get("conclusion") == "failure"] == []
    # ... and the gate really ran: the reasoned acknowledgments are in the assembly, each with its reason.
    acknowledged = [
        entry["data"]
        for path in synth.outdir.glob("*.metadata.json")
        for entries in json.loads(path.read_text()).values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
    ]
    rules = {rule.split("::", 1)[1]: reason for data in acknowledged for rule, reason in data.items()}
    assert any(rule.startswith("AwsSolutions-IAM5[Resource::") for rule in rules)
    assert "AwsSolutions-S1" in rules and all(len(reason) > 30 for reason in rules.values())


def test_given_a_wildcard_nobody_justified_and_a_wildcard_action_when_synthesized_then_cdk_nag_fails_naming_each(
    tmp_path,
):
    app, _, pipeline = build_app(dict(SKIP_BUNDLING), outdir=str(tmp_path))
    pipeline.functions.await_job.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::somebody-elses-bucket/*"])
    )
    pipeline.functions.start_job.add_to_role_policy(
        iam.PolicyStatement(actions=["bedrock:*"], resources=["arn:aws:bedrock:us-east-1:123456789012:custom-model/x"])
    )
    with pytest.raises(RuntimeError) as failed:
        app.synth()
    assert r"AwsSolutions-IAM5[Resource::arn:aws:s3:::somebody-elses-bucket/*]" in str(failed.value)
    assert r"AwsSolutions-IAM5[Action::bedrock:*]" in str(failed.value)
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"][0]["conclusion"] == "failure"


def test_given_the_reasons_when_read_then_each_says_why_in_a_sentence():
    assert all(len(reason.reason) > 40 and reason.reason.endswith(".") for reason in WILDCARD_REASONS)


@pytest.mark.parametrize(
    ("value", "flat"),
    [
        ({"Fn::Join": ["", [{"Fn::ImportValue": "Data:Export"}, "/datasets/*"]]}, "Data:Export/datasets/*"),
        ({"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "x"]]}, "arn:<AWS::Partition>:x"),
        ({"Fn::Join": ["", [{"Fn::GetAtt": ["Fn1", "Arn"]}, ":*"]]}, "<Fn1.Arn>:*"),
        (
            {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": "SM"}]}]},
            '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"SM"}]}]}',
        ),
    ],
)
def test_given_a_cloudformation_reference_when_flattened_then_it_reads_as_cdk_nag_prints_it(value, flat):
    assert flat_reference(value) == flat


def test_given_default_config_when_synthesized_then_every_checkov_skip_carries_a_reason(synth):
    skips = [
        (key, skip)
        for body in (synth.data_json, synth.pipeline_json)
        for key, resource in body["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the templates carry checkov skips"
    assert all(skip["id"].startswith("CKV_AWS_") and len(skip["comment"]) > 30 for _, skip in skips)


# What a wildcard IS, whichever way the region and account are spelt: the token (environment-agnostic synth) or
# the stack's concrete value (the CDK CLI passes CDK_DEFAULT_REGION / CDK_DEFAULT_ACCOUNT).
EU_STACK = StackFacts(
    partitions=frozenset({"<AWS::Partition>", "aws"}),
    regions=frozenset({"<AWS::Region>", "eu-west-1"}),
    accounts=frozenset({"<AWS::AccountId>", "123456789012"}),
    data_buckets=frozenset({"raw-data-a"}),
)
EXECUTIONS = '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"StateMachine2E01A3A5"}]}]}:*'


def _covered(resource: str, actions: set[str]) -> bool:
    return any(reason.covers(resource, actions, EU_STACK) for reason in WILDCARD_REASONS)


@pytest.mark.parametrize(
    ("resource", "actions"),
    [
        ("arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:custom-model/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:eu-west-1:123456789012:provisioned-model/*", {"bedrock:InvokeModel"}),
        ("arn:aws:bedrock:eu-west-1:<AWS::AccountId>:model-customization-job/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:eu-west-1:123456789012:custom-model-deployment/*", {"bedrock:InvokeModel"}),
        ("arn:<AWS::Partition>:bedrock:*::foundation-model/amazon.nova-pro-v1:0", {"bedrock:InvokeModel"}),
        (f"arn:<AWS::Partition>:states:eu-west-1:123456789012:execution:{EXECUTIONS}", {"states:DescribeExecution"}),
        (f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{EXECUTIONS}", {"states:X"}),
        ("arn:<AWS::Partition>:s3:::raw-data-a/*", {"s3:GetObject"}),
        ("DistillData:ExportsOutputFnGetAttBucket83908E77Arn063C8555/datasets/*", {"s3:GetObject"}),
        ("<Bucket83908E77.Arn>/reports/*", {"s3:PutObject"}),
        ("<FunctionsAwaitJobD8BCF94E.Arn>:*", {"lambda:InvokeFunction"}),
        ("*", {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
    ],
)
def test_given_a_reasoned_wildcard_of_this_stack_when_matched_then_a_reason_covers_it_however_spelt(resource, actions):
    assert _covered(resource, actions)


@pytest.mark.parametrize(
    ("resource", "actions"),
    [
        ("arn:<AWS::Partition>:bedrock:eu-west-1:999999999999:custom-model/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:us-east-1:123456789012:custom-model/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:<AWS::Region>:999999999999:provisioned-model/*", {"bedrock:InvokeModel"}),
        ("arn:aws-cn:bedrock:eu-west-1:123456789012:custom-model/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:eu-west-1:123456789012:custom-model/abc*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:eu-west-1:123456789012:guardrail/*", {"bedrock:ApplyGuardrail"}),
        ("arn:<AWS::Partition>:bedrock:*:123456789012:custom-model/*", {"bedrock:TagResource"}),
        ("arn:<AWS::Partition>:bedrock:*::foundation-model/*", {"bedrock:InvokeModel"}),
        (f"arn:<AWS::Partition>:states:eu-west-1:999999999999:execution:{EXECUTIONS}", {"states:X"}),
        ("arn:<AWS::Partition>:s3:::raw-data-b/*", {"s3:GetObject"}),
        ("arn:<AWS::Partition>:s3:::raw-data-a/*", {"s3:GetObject", "s3:PutObject"}),
        ("arn:aws:s3:::somebody-elses-bucket/datasets/*", {"s3:GetObject"}),
        ("*", {"s3:GetObject"}),
        ("<SomethingElse.Arn>:*", {"lambda:InvokeFunction"}),
    ],
)
def test_given_a_wildcard_elsewhere_or_unreasoned_when_matched_then_no_reason_covers_it(resource, actions):
    assert not _covered(resource, actions)


def test_given_a_flattened_arn_when_parsed_then_references_and_json_keep_their_colons():
    assert Arn.parse(f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{EXECUTIONS}") == Arn(
        "<AWS::Partition>", "states", "<AWS::Region>", "<AWS::AccountId>", "execution", EXECUTIONS
    )
    assert Arn.parse("arn:aws:bedrock:*::foundation-model/amazon.nova-pro-v1:0") == Arn(
        "aws", "bedrock", "*", "", "foundation-model", "amazon.nova-pro-v1:0"
    )
    assert Arn.parse("<Bucket83908E77.Arn>/datasets/*") is None
    assert Arn.parse("*") is None


def test_given_a_stack_when_its_facts_are_read_then_a_concrete_environment_adds_its_values_to_the_tokens():
    app = App()
    agnostic = StackFacts.of(Stack(app, "Agnostic"))
    concrete = StackFacts.of(Stack(app, "Concrete", env=Environment(region="eu-west-1", account="123456789012")))
    assert (agnostic.partitions, agnostic.regions, agnostic.accounts) == (
        {"<AWS::Partition>"},
        {"<AWS::Region>"},
        {"<AWS::AccountId>"},
    )
    assert (concrete.partitions, concrete.regions, concrete.accounts) == (
        EU_STACK.partitions,
        EU_STACK.regions,
        EU_STACK.accounts,
    )
