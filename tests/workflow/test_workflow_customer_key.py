"""A pipeline deployed with its own KMS key (kmsKeyArn), a long default system prompt and a cross-Region
default teacher, run offline: everything the key touches needs its permission, and the imported key's policy
must admit CloudWatch for the alarm to publish (README, "Security and compliance")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from distill_cli.offline.synthesis import SynthesizedApp, synthesize
from distill_cli.offline.world import ACCOUNT, OfflinePipeline

KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# Over the 2.8 KB that fitted in a function's 4 KB environment before it moved into the definition.
SYSTEM_PROMPT = "You are the support agent of Example Corp. " + "Answer in two short sentences, politely. " * 80
CONTEXT = {"kmsKeyArn": KEY, "systemPrompt": SYSTEM_PROMPT, "teacherModelId": "us.amazon.nova-pro-v1:0"}
ROOT = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*", "Resource": "*"}  # fmt: skip
CLOUDWATCH = {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
              "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}  # fmt: skip


@pytest.fixture(scope="module")
def keyed() -> SynthesizedApp:
    return synthesize(CONTEXT)


@pytest.fixture
def world(keyed: SynthesizedApp) -> Iterator[OfflinePipeline]:
    policy = {"Version": "2012-10-17", "Statement": [ROOT, CLOUDWATCH]}
    with OfflinePipeline(synthesized=keyed, job_checks=1, throughput_checks=1, key_policies={KEY: policy}) as world:
        yield world


def test_given_a_customer_key_when_a_served_run_goes_through_then_every_use_of_the_key_is_allowed(world, dataset_file):
    key = world.upload(dataset_file)

    result = world.run({"dataset": key, "provisionedThroughput": {}})

    assert result.status == "SUCCEEDED", result.message
    (job,) = world.bedrock.jobs.values()
    assert job.request["customModelKmsKeyId"] == KEY
    assert job.request["customizationConfig"]["distillationConfig"]["teacherModelConfig"][
        "teacherModelIdentifier"] == "us.amazon.nova-pro-v1:0"  # fmt: skip
    used = {(g.requirement.action, g.operation) for g in world.authorizer.grants if g.requirement.resource == KEY}
    assert {("kms:CreateGrant", "to encrypt the custom model with customModelKmsKeyId"),
            ("kms:Decrypt", "to use the encrypted custom model"),
            ("kms:GenerateDataKey", "Publish")} <= used  # fmt: skip
    assert not world.denials


def test_given_a_default_system_prompt_over_the_old_environment_limit_when_run_then_every_record_carries_it(
    world, dataset_file
):
    key = world.upload(dataset_file)

    result = world.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    dataset = result.output["reportsUri"].replace("/reports/", "/datasets/") + "train.jsonl"
    body = world.s3.get_object(Bucket=world.bucket, Key=dataset.split("/", 3)[3])["Body"].read().decode()
    records = [json.loads(line) for line in body.splitlines()]
    assert records and all(r["system"] == [{"text": SYSTEM_PROMPT}] for r in records)
    assert all(len(json.dumps(f.environment)) <= 4096 for f in world.deployment.functions.values())


def test_given_the_imported_key_does_not_admit_cloudwatch_when_a_run_fails_then_the_alarm_cannot_publish(
    keyed, dataset_file
):
    with OfflinePipeline(synthesized=keyed, job_outcome="failed", job_checks=1) as world:  # the key's default policy
        result = world.run({"dataset": world.upload(dataset_file)})

    assert result.status == "FAILED"
    (notice,) = world.alarm_notices
    assert "CloudWatch Alarms does not have authorization to access the SNS topic encryption key" in notice["error"]


def _uses_a_key(ref) -> bool:
    return any(a.startswith("kms:") for a in ref.actions)


def test_given_the_customer_key_when_each_kms_statement_is_removed_then_a_run_fails_naming_it(keyed, dataset_file):
    # The statements only a kmsKeyArn deployment has (the rest: test_workflow_strictness.py).
    from tests.support import strictness
    from tests.workflow.test_workflow_strictness import SCENARIOS, bound

    policy = {"Version": "2012-10-17", "Statement": [ROOT, CLOUDWATCH]}
    scenarios = {name: SCENARIOS[name] for name in ("served by throughput", "dropped for on demand",
                                                    "throughput fails", "distilled from invocation logs",
                                                    "promoted behind a deployment", "weak student removed",
                                                    "queued for the quota", "janitor sweeps serving")}  # fmt: skip

    def open_world(**options):
        return OfflinePipeline(synthesized=keyed, bucket_name="distill-keyed", key_policies={KEY: policy}, **options)

    scenarios = bound(scenarios, dataset_file)
    plan = strictness.plan(open_world, scenarios, wanted=_uses_a_key)
    assert sum(len(refs) for refs in plan.values()) >= 15  # 12 environments, the writers, the encrypter, ...
    # A function's environment key is proven by re-deciding (the world records a refused start); one of them is
    # also removed for real, as a check of that shortcut.
    starts = [(name, ref) for name, refs in plan.items() for ref in refs if ref.evident == "a refused start is recorded"]
    assert len(starts) >= 12, starts
    checked_name, checked = starts[0]
    silent = []
    for name, refs in plan.items():
        with open_world(**scenarios[name][0]) as world:
            silent += strictness.ablate(world, scenarios[name][1], refs)
    with open_world(**scenarios[checked_name][0]) as world:
        silent += strictness.ablate(world, scenarios[checked_name][1], [replace(checked, evident="")])
    assert not silent, "removed, yet no run failed naming the permission:\n" + "\n".join(silent)
