"""A Fail state's cause comes from the check steps: it must never be empty, even when Bedrock says nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from distill import aws, steps
from distill.run_request import parse_request, resolve
from distill.settings import PipelineSettings

SETTINGS = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn="arn:aws:iam::123456789012:role/R")
RUN = resolve(
    parse_request({"dataset": "incoming/x.jsonl"}), SETTINGS, "r", "arn:aws:states:us-east-1:1:execution:sm:r"
)
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abcdef123456"
PT_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _stubbed(method: str, answer: dict) -> Stubber:
    client = boto3.client("bedrock", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(method, answer)
    stub.activate()
    aws.use_factory(lambda service: client)
    return stub


@pytest.fixture(autouse=True)
def _restore_clients():
    yield
    aws.use_factory(None)


@pytest.mark.parametrize(("status", "message"), [("Failed", True), ("Stopped", True), ("Completed", False)])
def test_given_a_job_that_ended_without_a_message_when_checked_then_the_failure_still_says_what_happened(
    status: str, message: bool
) -> None:
    _stubbed(
        "get_model_customization_job",
        {
            "jobArn": JOB_ARN, "jobName": "j", "outputModelName": "m", "roleArn": SETTINGS.bedrock_role_arn,
            "status": status, "creationTime": NOW, "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/x.y",
            "trainingDataConfig": {"s3Uri": "s3://b/d"}, "validationDataConfig": {"validators": []},
            "outputDataConfig": {"s3Uri": "s3://b/o"},
        },
    )  # fmt: skip
    checked = steps.job_snapshot({"jobArn": JOB_ARN, "checks": 2}, RUN.output_uri, SETTINGS)
    assert checked["checks"] == 3 and checked["status"] == status
    expected = f"the distillation job ended {status} without a failure message" if message else ""
    assert checked["failureMessage"] == expected


def test_given_throughput_that_failed_without_a_message_when_checked_then_the_failure_still_says_so() -> None:
    _stubbed(
        "get_provisioned_model_throughput",
        {
            "modelUnits": 1, "desiredModelUnits": 1, "provisionedModelName": "p", "provisionedModelArn": PT_ARN,
            "modelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/x", "desiredModelArn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/x",
            "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/x.y", "status": "Failed",
            "creationTime": NOW, "lastModifiedTime": NOW,
        },
    )  # fmt: skip
    checked = steps.check_throughput(RUN, {"provisionedModelArn": PT_ARN, "checks": 0}, SETTINGS)
    assert checked["failureMessage"] == "the provisioned throughput ended Failed without a failure message"
