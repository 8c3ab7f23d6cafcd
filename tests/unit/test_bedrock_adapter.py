"""The Bedrock adapter against botocore's Stubber: real request/response shapes, every error translated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from distill import aws, bedrock, serving_inventory
from distill.errors import BedrockAccessDenied, BedrockRejected, BedrockThrottled, QuotaExceeded
from distill.run_request import parse_request, resolve
from distill.settings import PipelineSettings

ROLE = "arn:aws:iam::123456789012:role/BedrockDistillRole"
SETTINGS = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn=ROLE)
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abcdef123456"
MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
PT_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _run(**extra: Any):
    raw = {"dataset": "incoming/tickets.jsonl", **extra}
    return resolve(parse_request(raw), SETTINGS, "run-1", "arn:aws:states:us-east-1:123456789012:execution:sm:run-1")


@pytest.fixture
def stub() -> Iterator[Stubber]:
    client = boto3.client("bedrock", region_name="us-east-1")
    with Stubber(client) as stubber, aws.clients_from(lambda service: client):
        yield stubber
        stubber.assert_no_pending_responses()


def _job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "jobArn": JOB_ARN,
        "jobName": "distill-run-1",
        "outputModelName": "distilled-run-1",
        "roleArn": ROLE,
        "status": status,
        "creationTime": NOW,
        "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "trainingDataConfig": {"s3Uri": "s3://distill-data-bucket/datasets/r/train.jsonl"},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": "s3://distill-data-bucket/jobs/r/"},
        **extra,
    }


def test_given_a_run_when_the_job_starts_then_bedrock_gets_a_distillation_request_with_the_teacher_config(
    stub: Stubber,
) -> None:
    run = _run(maxResponseLength=800)
    expected = {
        "jobName": run.job_name,
        "customModelName": run.custom_model_name,
        "roleArn": ROLE,
        "clientRequestToken": run.client_request_token,
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customizationType": "DISTILLATION",
        "trainingDataConfig": {"s3Uri": run.dataset_uri},
        "outputDataConfig": {"s3Uri": run.output_uri},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                    "maxResponseLengthForInference": 800,
                }
            }
        },
        "jobTags": bedrock._tag_list(run.tags),
        "customModelTags": bedrock._tag_list(run.tags),
    }
    stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected)
    assert bedrock.start_distillation_job(run, ROLE) == JOB_ARN


def test_given_a_kms_key_when_the_job_starts_then_the_custom_model_is_encrypted_with_it() -> None:
    request = bedrock.customization_job_request(_run(), ROLE, "arn:aws:kms:us-east-1:123456789012:key/" + "a" * 36)
    assert request["customModelKmsKeyId"].endswith("a" * 36)
    assert "hyperParameters" not in request


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", BedrockThrottled),
        ("InternalServerException", BedrockThrottled),
        ("ServiceQuotaExceededException", QuotaExceeded),
        ("AccessDeniedException", BedrockAccessDenied),
        ("ValidationException", BedrockRejected),
        ("TooManyTagsException", BedrockRejected),
    ],
)
def test_given_bedrock_answers_an_error_when_the_job_starts_then_the_pipeline_error_is_raised(
    stub: Stubber, code: str, error: type[Exception]
) -> None:
    stub.add_client_error("create_model_customization_job", service_error_code=code, service_message="nope")
    if error is BedrockRejected:
        # A rejected create looks for a job of its own first (a retried call that got through).
        stub.add_client_error("get_model_customization_job", service_error_code="ResourceNotFoundException")
    with pytest.raises(error, match=code):
        bedrock.start_distillation_job(_run(), ROLE)


def test_given_the_name_is_taken_by_this_runs_own_job_when_the_job_starts_then_that_job_is_adopted(
    stub: Stubber,
) -> None:
    run = _run()
    stub.add_client_error("create_model_customization_job", service_error_code="ConflictException")
    stub.add_response(
        "get_model_customization_job",
        _job("InProgress", clientRequestToken=run.client_request_token),
        {"jobIdentifier": run.job_name},
    )
    assert bedrock.start_distillation_job(run, ROLE) == JOB_ARN


def test_given_the_name_is_taken_by_another_job_when_the_job_starts_then_it_is_rejected(stub: Stubber) -> None:
    stub.add_client_error("create_model_customization_job", service_error_code="ConflictException")
    stub.add_response("get_model_customization_job", _job("InProgress", clientRequestToken="someone-else"))
    with pytest.raises(BedrockRejected, match="ConflictException"):
        bedrock.start_distillation_job(_run(), ROLE)


@pytest.mark.parametrize("status", ["InProgress", "Stopping", "Completed", "Failed", "Stopped"])
def test_given_each_job_status_when_described_then_the_snapshot_is_json_ready(stub: Stubber, status: str) -> None:
    extra: dict[str, Any] = {
        "statusDetails": {
            "validationDetails": {"status": "Completed", "creationTime": NOW, "lastModifiedTime": NOW},
            "dataProcessingDetails": {"status": "InProgress", "creationTime": NOW},
        }
    }
    if status == "Completed":
        extra |= {"outputModelArn": MODEL_ARN, "endTime": NOW}
    if status == "Failed":
        extra["failureMessage"] = "Insufficient valid prompts: 42 < 100"
    stub.add_response("get_model_customization_job", _job(status, **extra), {"jobIdentifier": JOB_ARN})
    snapshot = bedrock.describe_job(JOB_ARN)
    assert snapshot.status == status
    assert snapshot.status_details["validationDetails"]["creationTime"] == NOW.isoformat()
    assert snapshot.output_model_arn == (MODEL_ARN if status == "Completed" else "")
    assert snapshot.failure_message == ("Insufficient valid prompts: 42 < 100" if status == "Failed" else "")
    assert snapshot.output_uri == "s3://distill-data-bucket/jobs/r/"


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("get_model_customization_job", lambda: bedrock.describe_job(JOB_ARN)),
        ("create_model_customization_job", lambda: bedrock.start_distillation_job(_run(), ROLE)),
        ("get_provisioned_model_throughput", lambda: bedrock.describe_provisioned_throughput(PT_ARN)),
    ],
    ids=["check-job", "start-job", "check-throughput"],
)
def test_given_bedrock_is_unavailable_when_called_then_bedrock_throttled_is_raised_for_the_retry(
    stub: Stubber, method: str, call: Any
) -> None:
    stub.add_client_error(method, service_error_code="ServiceUnavailableException", http_status_code=503)
    # BedrockThrottled is the error the state machine retries with backoff; anything else would end the run.
    with pytest.raises(BedrockThrottled, match="ServiceUnavailableException"):
        call()


@pytest.mark.parametrize("commitment", [None, "OneMonth"])
def test_given_a_plan_when_throughput_is_created_then_a_commitment_is_sent_only_when_named(
    stub: Stubber, commitment: str | None
) -> None:
    run = _run(provisionedThroughput={"modelUnits": 2, **({"commitment": commitment} if commitment else {})})
    plan = run.provisioned_throughput
    assert plan is not None
    expected: dict[str, Any] = {
        "clientRequestToken": plan.client_request_token,
        "modelUnits": 2,
        "provisionedModelName": plan.provisioned_model_name,
        "modelId": MODEL_ARN,
        "tags": bedrock._tag_list(run.tags),
    }
    if commitment:
        expected["commitmentDuration"] = commitment
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}, expected)
    assert bedrock.create_provisioned_throughput(plan, MODEL_ARN, run.tags) == PT_ARN


def test_given_throughput_quota_is_exhausted_when_created_then_quota_exceeded_is_raised(stub: Stubber) -> None:
    plan = _run(provisionedThroughput={}).provisioned_throughput
    assert plan is not None
    stub.add_client_error("create_provisioned_model_throughput", service_error_code="ServiceQuotaExceededException")
    with pytest.raises(QuotaExceeded):
        bedrock.create_provisioned_throughput(plan, MODEL_ARN, {})


@pytest.mark.parametrize("status", ["Creating", "InService", "Updating", "Failed"])
def test_given_each_throughput_status_when_described_then_it_is_reported(stub: Stubber, status: str) -> None:
    answer = {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "distilled-run-1-pt",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
        "status": status,
        "creationTime": NOW,
        "lastModifiedTime": NOW,
        **({"failureMessage": "no capacity"} if status == "Failed" else {}),
    }
    stub.add_response("get_provisioned_model_throughput", answer, {"provisionedModelId": PT_ARN})
    snapshot = bedrock.describe_provisioned_throughput(PT_ARN)
    assert snapshot.status == status
    assert snapshot.failure_message == ("no capacity" if status == "Failed" else "")


DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"


def test_given_an_on_demand_plan_when_the_model_is_deployed_then_bedrock_gets_the_named_tagged_request(
    stub: Stubber,
) -> None:
    run = _run(onDemandDeployment={"description": "support bot"})
    plan = run.on_demand_deployment
    assert plan is not None
    expected = {
        "modelDeploymentName": plan.deployment_name,
        "modelArn": MODEL_ARN,
        "description": "support bot",
        "clientRequestToken": plan.client_request_token,
        "tags": bedrock._tag_list(run.tags),
    }
    stub.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT_ARN}, expected)
    assert bedrock.create_custom_model_deployment(plan, MODEL_ARN, run.tags) == DEPLOYMENT_ARN


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ServiceQuotaExceededException", QuotaExceeded),
        ("ValidationException", BedrockRejected),
        ("ThrottlingException", BedrockThrottled),
        ("AccessDeniedException", BedrockAccessDenied),
    ],
)
def test_given_bedrock_refuses_a_deployment_when_created_then_the_named_error_is_raised(
    stub: Stubber, code: str, error: type[Exception]
) -> None:
    plan = _run(onDemandDeployment={}).on_demand_deployment
    assert plan is not None
    stub.add_client_error("create_custom_model_deployment", service_error_code=code)
    with pytest.raises(error, match="CreateCustomModelDeployment"):
        bedrock.create_custom_model_deployment(plan, MODEL_ARN, {})


@pytest.mark.parametrize("status", ["Creating", "Active", "Failed"])
def test_given_each_deployment_status_when_described_then_it_is_reported(stub: Stubber, status: str) -> None:
    answer = {
        "customModelDeploymentArn": DEPLOYMENT_ARN,
        "modelDeploymentName": "distilled-run-1-od",
        "modelArn": MODEL_ARN,
        "createdAt": NOW,
        "status": status,
        **({"failureMessage": "not supported"} if status == "Failed" else {}),
    }
    stub.add_response("get_custom_model_deployment", answer, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
    snapshot = bedrock.describe_custom_model_deployment(DEPLOYMENT_ARN)
    assert snapshot.status == status
    assert snapshot.model_arn == MODEL_ARN
    assert snapshot.failure_message == ("not supported" if status == "Failed" else "")


def test_given_deployments_on_two_pages_when_the_pipelines_are_listed_then_only_tagged_ones_come_back(
    stub: Stubber,
) -> None:
    other = DEPLOYMENT_ARN.replace("abcdef123456", "0123456789ab")

    def summary(arn: str, name: str) -> dict[str, Any]:
        return {"customModelDeploymentArn": arn, "customModelDeploymentName": name, "modelArn": MODEL_ARN,
                "createdAt": NOW, "status": "Active"}  # fmt: skip

    stub.add_response("list_custom_model_deployments",
                      {"modelDeploymentSummaries": [summary(DEPLOYMENT_ARN, "ours")], "nextToken": "p2"}, {})  # fmt: skip
    stub.add_response("list_tags_for_resource", {"tags": [{"key": "created-by", "value": "distill-pipeline"}]},
                      {"resourceARN": DEPLOYMENT_ARN})  # fmt: skip
    stub.add_response("list_custom_model_deployments",
                      {"modelDeploymentSummaries": [summary(other, "theirs")]}, {"nextToken": "p2"})  # fmt: skip
    stub.add_response("list_tags_for_resource", {"tags": [{"key": "team", "value": "search"}]}, {"resourceARN": other})
    (found,) = serving_inventory.pipeline_deployments("created-by", "distill-pipeline")
    assert (found.arn, found.name, found.status, found.model_arn) == (DEPLOYMENT_ARN, "ours", "Active", MODEL_ARN)
    assert found.created == NOW.isoformat()


def test_given_a_deployment_when_deleted_then_bedrock_is_asked_by_its_arn(stub: Stubber) -> None:
    stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
    bedrock.delete_custom_model_deployment(DEPLOYMENT_ARN)
