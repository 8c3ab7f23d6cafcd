"""build_app with context overrides (what the offline runner and `-c` do): KMS key, extra data bucket, polling,
notification email, a default system prompt at the run-input limit; one synth carries them all."""

from __future__ import annotations

import json

import pytest

from stacks.app_builder import SKIP_BUNDLING, build_app
from stacks.config import ConfigError

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PROMPT = ("Answer as Example Corp's support agent, briefly. " * 400)[:20_000]  # the run input's limit


@pytest.fixture(scope="module")
def overridden(tmp_path_factory):
    context = {
        **SKIP_BUNDLING,
        "stackPrefix": "Test",
        "kmsKeyArn": KEY,
        "allowedDataBuckets": ["raw-data-a"],
        "allowedInvocationLogBuckets": ["team-logs/bedrock/"],
        "polling": {"firstWaitSeconds": 1, "maxWaitSeconds": 1},
        "notificationEmail": "ml-team@example.com",
        "systemPrompt": PROMPT,
    }
    app, data, pipeline = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk-out-overrides")))
    assembly = app.synth()
    return (data.stack_name, pipeline.stack_name, assembly.get_stack_by_name(data.stack_name).template,
            assembly.get_stack_by_name(pipeline.stack_name).template)  # fmt: skip


def _statements(template):
    return [s for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
            for s in r["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip


def test_given_a_stack_prefix_when_built_then_the_stacks_are_named_after_it(overridden):
    assert overridden[:2] == ("TestData", "TestPipeline")


def test_given_a_kms_key_when_synthesized_then_the_bucket_uses_it_and_readers_may_decrypt(overridden):
    _, _, data, pipeline = overridden
    (bucket,) = (r for k, r in data["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and k.startswith("Bucket"))
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY}
    assert rule["BucketKeyEnabled"] is True
    (bedrock_key,) = [s for s in _statements(pipeline) if s.get("Sid") == "UseBucketKey"]  # the Bedrock role
    assert bedrock_key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    by_sid: dict[str, list[dict]] = {}
    for statement in _statements(pipeline):
        by_sid.setdefault(statement.get("Sid", ""), []).append(statement)
    # Every function decrypts with the key (its environment, and what it reads); S3 writers generate data keys.
    functions = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(by_sid["DecryptOwnEnvironment"]) == len(functions) == 23
    assert all(s["Action"] == "kms:Decrypt" or s["Action"] == ["kms:Decrypt"] for s in by_sid["DecryptOwnEnvironment"])
    assert all(f["Properties"]["KmsKeyArn"] == KEY for f in functions)
    # prepare, summary, notifier, the waiting token, the preview, the evaluation's three writers, the job
    # queue's three and the janitor (its idle-warning memory and the ledger)
    assert len(by_sid["WriteUnderProjectKey"]) == 12
    # The custom model under the key: the job's starter may encrypt with it.
    (encrypt,) = by_sid["EncryptTheCustomModel"]
    assert sorted(encrypt["Action"]) == ["kms:CreateGrant", "kms:DescribeKey", "kms:GenerateDataKey"]
    # The topic is under the project's key too (its policy must admit CloudWatch: README).
    (topic,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    assert topic["Properties"]["KmsMasterKeyId"] == KEY
    assert not [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    for statement in (s for group in by_sid.values() for s in group if any(a.startswith("kms:") for a in s["Action"])):
        assert statement["Resource"] == KEY, statement


def test_given_an_allowed_data_bucket_when_synthesized_then_prepare_may_read_it(overridden):
    _, _, _, pipeline = overridden
    reads = [s for s in _statements(pipeline) if s.get("Sid") == "ReadAllowedDataBuckets"]
    assert json.dumps(reads).count("raw-data-a/*") == 2  # the dataset, or a separate evaluation file


def test_given_an_allowed_invocation_log_prefix_when_synthesized_then_bedrock_and_the_preview_read_only_it(overridden):
    _, _, _, pipeline = overridden
    reads = [s for s in _statements(pipeline) if s.get("Sid") == "ReadInvocationLogs"]
    assert len(reads) == 2  # the Bedrock role and the preview
    for statement in reads:
        assert statement["Action"] == "s3:GetObject"
        assert ":s3:::team-logs/bedrock/*" in json.dumps(statement)
    lists = [s for s in _statements(pipeline) if s.get("Sid", "").startswith("ListInvocationLogs")
             and "team-logs" in json.dumps(s)]  # fmt: skip
    assert len(lists) == 2 and all(s["Condition"] == {"StringLike": {"s3:prefix": ["bedrock/*"]}} for s in lists)


def test_given_a_polling_override_when_synthesized_then_the_functions_get_it(overridden):
    _, _, _, pipeline = overridden
    env = [r["Properties"]["Environment"]["Variables"]["PIPELINE_SETTINGS"] for r in pipeline["Resources"].values()
           if r["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    assert env and all('\\"polling\\":{\\"firstWaitSeconds\\":1,\\"maxWaitSeconds\\":1' in json.dumps(e) for e in env)


def test_given_allow_lists_too_long_for_a_function_environment_when_built_then_synth_refuses_naming_them(tmp_path):
    # Lambda allows 4 KB of environment per function: CloudFormation would fail the deploy half-way.
    buckets = ",".join(f"team-{n:03d}-raw-training-data-bucket" for n in range(120))
    with pytest.raises(ConfigError, match=r"over Lambda's limit of 4096 .*allowedDataBuckets"):
        build_app({**SKIP_BUNDLING, "allowedDataBuckets": buckets}, outdir=str(tmp_path))


def test_given_a_default_system_prompt_of_the_run_input_limit_when_built_then_it_rides_in_the_definition(overridden):
    _, _, _, template = overridden
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert all(PROMPT[:200] not in json.dumps(f["Properties"]["Environment"]) for f in functions)
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert json.dumps(PROMPT)[1:-1] in json.dumps(machine["Properties"]["DefinitionString"])


def test_given_a_notification_email_when_synthesized_then_it_is_subscribed(overridden):
    _, _, _, template = overridden
    subscriptions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ml-team@example.com")]
