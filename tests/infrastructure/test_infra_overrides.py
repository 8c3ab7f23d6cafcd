"""build_app with context overrides (what the offline runner and `-c` do): KMS key, extra data bucket, polling."""

from __future__ import annotations

import json

import pytest

from stacks.app_builder import SKIP_BUNDLING, build_app

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def overridden(tmp_path_factory):
    context = {
        **SKIP_BUNDLING,
        "stackPrefix": "Test",
        "kmsKeyArn": KEY,
        "allowedDataBuckets": ["raw-data-a"],
        "polling": {"firstWaitSeconds": 1, "maxWaitSeconds": 1},
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
    key_statements = [s for s in _statements(pipeline) if s.get("Sid") == "UseBucketKey"]
    assert len(key_statements) == 2  # the Bedrock role and the prepare function
    assert all(s["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] for s in key_statements)
    project_key = [s for s in _statements(pipeline) if s.get("Sid") == "UseProjectKey"]
    assert len(project_key) == 4  # smoke test, summary, failure notice, drop starter
    assert all(s["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] and s["Resource"] == KEY for s in project_key)


def test_given_an_allowed_data_bucket_when_synthesized_then_prepare_may_read_it(overridden):
    _, _, _, pipeline = overridden
    reads = [s for s in _statements(pipeline) if s.get("Sid") == "ReadAllowedDataBuckets"]
    assert json.dumps(reads).count("raw-data-a/*") == 1


def test_given_a_polling_override_when_synthesized_then_the_functions_get_it(overridden):
    _, _, _, pipeline = overridden
    env = [r["Properties"]["Environment"]["Variables"]["PIPELINE_SETTINGS"] for r in pipeline["Resources"].values()
           if r["Type"] == "AWS::Lambda::Function"]  # fmt: skip
    assert env and all('\\"polling\\":{\\"firstWaitSeconds\\":1,\\"maxWaitSeconds\\":1' in json.dumps(e) for e in env)
