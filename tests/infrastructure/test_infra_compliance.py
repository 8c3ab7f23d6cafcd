"""The security gate: cdk-nag, cfn-lint and IAM rules that must hold for every synth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_iam as iam

from stacks.app_builder import SKIP_BUNDLING, build_app
from stacks.compliance import WILDCARD_REASONS, flat_reference


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


def test_given_a_wildcard_nobody_justified_when_synthesized_then_cdk_nag_fails_the_synth_and_names_it(tmp_path):
    app, _, pipeline = build_app(dict(SKIP_BUNDLING), outdir=str(tmp_path))
    pipeline.functions.check_job.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::somebody-elses-bucket/*"])
    )
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::arn:aws:s3:::somebody-elses-bucket/\*\]"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"][0]["conclusion"] == "failure"


def test_given_a_wildcard_action_when_synthesized_then_cdk_nag_fails_the_synth(tmp_path):
    app, _, pipeline = build_app(dict(SKIP_BUNDLING), outdir=str(tmp_path))
    pipeline.functions.check_job.add_to_role_policy(
        iam.PolicyStatement(actions=["bedrock:*"], resources=["arn:aws:bedrock:us-east-1:123456789012:custom-model/x"])
    )
    with pytest.raises(RuntimeError, match=r"Action::bedrock:\*"):
        app.synth()


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


def test_given_the_synthesized_templates_when_cfn_lint_runs_then_it_reports_nothing(synth, tmp_path):
    paths = []
    for name, body in (("data", synth.data_json), ("pipeline", synth.pipeline_json)):
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(body))
        paths.append(str(path))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W3005 (DependsOn that CDK generates itself) is the one check set aside.
    result = subprocess.run([str(cfn_lint), "--ignore-checks", "W3005", "--", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_default_config_when_synthesized_then_every_checkov_skip_carries_a_reason(synth):
    skips = [
        (key, skip)
        for body in (synth.data_json, synth.pipeline_json)
        for key, resource in body["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the templates carry checkov skips"
    assert all(skip["id"].startswith("CKV_AWS_") and len(skip["comment"]) > 30 for _, skip in skips)
