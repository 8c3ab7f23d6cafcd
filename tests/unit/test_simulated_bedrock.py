"""The simulator must answer like the real API, or the offline run would prove nothing."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

from distill import bedrock
from distill.run_request import parse_request, resolve
from distill.settings import PipelineSettings
from distill_cli.offline.bedrock import FAILURE_MESSAGES, SimulatedBedrock

MODEL = botocore.session.get_session().get_service_model("bedrock")
SETTINGS = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn="arn:aws:iam::123456789012:role/R")
RUN = resolve(
    parse_request({"dataset": "incoming/x.jsonl", "provisionedThroughput": {}}),
    SETTINGS,
    "run-1",
    "arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
)


def _assert_shape(operation: str, answer: dict[str, Any]) -> None:
    report = ParamValidator().validate(answer, MODEL.operation_model(operation).output_shape)
    assert not report.has_errors(), report.generate_report()


def _start(fake: SimulatedBedrock) -> str:
    request = bedrock.customization_job_request(RUN, SETTINGS.bedrock_role_arn)
    return str(fake.create_model_customization_job(**request)["jobArn"])


@pytest.mark.parametrize("outcome", ["completed", "failed", "stopped"])
def test_given_a_job_when_checked_until_done_then_every_answer_has_the_real_shape(outcome: str) -> None:
    fake = SimulatedBedrock(job_outcome=outcome, job_checks=3)  # type: ignore[arg-type]
    arn = _start(fake)
    statuses = []
    for _ in range(3):
        answer = fake.get_model_customization_job(jobIdentifier=arn)
        _assert_shape("GetModelCustomizationJob", answer)
        statuses.append(answer["status"])
    assert statuses[:2] == ["InProgress", "InProgress"]
    assert statuses[2] == outcome.capitalize()
    if outcome == "completed":
        assert answer["outputModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
        assert all(d["status"] == "Completed" for d in answer["statusDetails"].values())
    else:
        assert answer["failureMessage"] == FAILURE_MESSAGES[outcome]


def test_given_the_same_token_when_a_job_is_created_twice_then_one_job_exists() -> None:
    fake = SimulatedBedrock()
    assert _start(fake) == _start(fake)
    assert len(fake.jobs) == 1


def test_given_a_request_the_real_api_would_refuse_when_sent_then_it_is_refused() -> None:
    with pytest.raises(ParamValidationError):
        SimulatedBedrock().create_model_customization_job(jobName="x", customizationType="DISTILL")


def test_given_a_queued_fault_when_called_then_the_error_comes_first_and_then_the_answer() -> None:
    fake = SimulatedBedrock()
    fake.fail_next("CreateModelCustomizationJob", "ThrottlingException")
    with pytest.raises(ClientError) as caught:
        _start(fake)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert _start(fake).startswith("arn:aws:bedrock:")


@pytest.mark.parametrize("fails", [False, True])
def test_given_a_completed_job_when_throughput_is_provisioned_then_it_ends_in_service_or_failed(fails: bool) -> None:
    fake = SimulatedBedrock(job_checks=1, throughput_fails=fails, throughput_checks=2)
    job = fake.get_model_customization_job(jobIdentifier=_start(fake))
    created = fake.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="distilled-run-1-pt", modelId=job["outputModelArn"], clientRequestToken="t1"
    )
    arn = created["provisionedModelArn"]
    first = fake.get_provisioned_model_throughput(provisionedModelId=arn)
    second = fake.get_provisioned_model_throughput(provisionedModelId=arn)
    _assert_shape("GetProvisionedModelThroughput", second)
    assert first["status"] == "Creating"
    assert second["status"] == ("Failed" if fails else "InService")


def test_given_no_completed_model_when_throughput_is_requested_then_the_model_is_not_found() -> None:
    fake = SimulatedBedrock()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        fake.create_provisioned_model_throughput(
            modelUnits=1,
            provisionedModelName="x",
            modelId="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456",
        )


def _completed_model(fake: SimulatedBedrock) -> str:
    return str(fake.get_model_customization_job(jobIdentifier=_start(fake))["outputModelArn"])


def _deploy(fake: SimulatedBedrock, token: str = "t1") -> str:
    plan = resolve(parse_request({"dataset": "incoming/x.jsonl", "onDemandDeployment": {}}), SETTINGS, "run-1",
                   "arn:aws:states:us-east-1:123456789012:execution:sm:run-1").on_demand_deployment  # fmt: skip
    assert plan is not None
    answer = fake.create_custom_model_deployment(
        modelDeploymentName=plan.deployment_name, modelArn=_completed_model(fake), description=plan.description,
        clientRequestToken=token, tags=[{"key": "created-by", "value": "distill-pipeline"}],
    )  # fmt: skip
    _assert_shape("CreateCustomModelDeployment", answer)
    return str(answer["customModelDeploymentArn"])


@pytest.mark.parametrize("fails", [False, True])
def test_given_a_completed_job_when_the_model_is_deployed_then_it_ends_active_or_failed_in_the_real_shape(
    fails: bool,
) -> None:
    from distill_cli.offline.bedrock import DEPLOYMENT_FAILURE, SimulatedBedrockRuntime

    fake = SimulatedBedrock(job_checks=1, deployment_fails=fails, deployment_checks=2)
    arn = _deploy(fake)
    first = fake.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    second = fake.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    for answer in (first, second):
        _assert_shape("GetCustomModelDeployment", answer)
    assert first["status"] == "Creating"
    assert second["status"] == ("Failed" if fails else "Active")
    assert ("failureMessage" in second) is fails
    if fails:
        assert second["failureMessage"] == DEPLOYMENT_FAILURE
    listed = fake.list_custom_model_deployments()
    _assert_shape("ListCustomModelDeployments", listed)
    assert [s["customModelDeploymentArn"] for s in listed["modelDeploymentSummaries"]] == [arn]
    tags = fake.list_tags_for_resource(resourceARN=arn)
    _assert_shape("ListTagsForResource", tags)
    assert tags["tags"] == [{"key": "created-by", "value": "distill-pipeline"}]
    # Converse takes the deployment ARN as modelId once it is active.
    runtime = SimulatedBedrockRuntime(fake)
    request = {"modelId": arn, "messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    if fails:
        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            runtime.converse(**request)
    else:
        assert runtime.converse(**request)["output"]["message"]["content"][0]["text"].startswith("(distilled model)")


def test_given_the_same_token_when_a_deployment_is_created_twice_then_one_deployment_exists() -> None:
    fake = SimulatedBedrock(job_checks=1)
    assert _deploy(fake) == _deploy(fake)
    assert len(fake.deployments) == 1
    with pytest.raises(ClientError, match="ConflictException"):
        _deploy(fake, token="another-token")


def test_given_a_deployment_when_deleted_then_it_is_gone_from_get_list_and_converse() -> None:
    from distill_cli.offline.bedrock import SimulatedBedrockRuntime

    fake = SimulatedBedrock(job_checks=1, deployment_checks=1)
    arn = _deploy(fake)
    _assert_shape(
        "DeleteCustomModelDeployment", fake.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        fake.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert fake.list_custom_model_deployments()["modelDeploymentSummaries"] == []
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        SimulatedBedrockRuntime(fake).converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "x"}]}])


def test_given_no_completed_model_when_a_deployment_is_requested_then_the_model_is_not_found() -> None:
    fake = SimulatedBedrock()
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        fake.create_custom_model_deployment(
            modelDeploymentName="x",
            modelArn="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456",
        )


def test_given_a_deployment_request_the_real_api_would_refuse_when_sent_then_it_is_refused() -> None:
    with pytest.raises(ParamValidationError):
        SimulatedBedrock().create_custom_model_deployment(modelDeploymentName="a--b", modelArn="arn:x")


@pytest.mark.parametrize(("filters", "ends"), [({"equals": {"use-case": "support"}}, "Completed"),
                                              ({"equals": {"use-case": "returns"}}, "Failed")])  # fmt: skip
def test_given_a_job_from_invocation_logs_when_it_ends_then_bedrock_applied_the_filter(filters, ends) -> None:
    # Bedrock reads the logs and applies requestMetadataFilters itself: a selection under its minimum fails the
    # job even when nothing checked it before (the preview is ours, not Bedrock's).
    import boto3
    from moto import mock_aws

    from tests.workflow.test_workflow_invocation_logs import SAMPLE

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="distill-data-bucket")
        for path in SAMPLE.rglob("*.json.gz"):
            s3.put_object(Bucket="distill-data-bucket", Key=f"invocation-logs/{path.relative_to(SAMPLE).as_posix()}",
                          Body=path.read_bytes())  # fmt: skip
        run = resolve(parse_request({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/",
                                                        "requestMetadataFilters": filters}}),
                      SETTINGS, "run-2", "arn:aws:states:us-east-1:123456789012:execution:sm:run-2")  # fmt: skip
        fake = SimulatedBedrock(s3=s3, job_checks=1)
        arn = fake.create_model_customization_job(**bedrock.customization_job_request(run, SETTINGS.bedrock_role_arn))
        answer = fake.get_model_customization_job(jobIdentifier=arn["jobArn"])
    _assert_shape("GetModelCustomizationJob", answer)
    assert answer["status"] == ends
    if ends == "Failed":
        assert answer["failureMessage"].startswith("Data validation failed: REJECTED: the filter selects 12")
