"""Bedrock faults met by the synthesized state machine offline: a transient outage is retried, a failed try of the
distilled model is reported in the run summary without failing the run."""

from __future__ import annotations

from distill import aws

CHECK_JOB = "GetModelCustomizationJob"


def _failed_attempts(result, state: str) -> list[str]:
    """Error names of the failed attempts of the task state ``state``, in order."""
    failed, current = [], ""
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        if event["type"] == "LambdaFunctionFailed" and current == state:
            failed.append(event["lambdaFunctionFailedEventDetails"]["error"])
    return failed


def test_given_bedrock_is_unavailable_once_when_the_job_is_looked_at_then_the_look_is_retried_and_the_run_succeeds(
    offline, dataset_file
):
    pipeline = offline(job_checks=2)
    pipeline.bedrock.fail_next(CHECK_JOB, "ServiceUnavailable")  # the common error any AWS API may answer
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    # The first look failed as BedrockThrottled (the error the state machine retries) and was tried again.
    failed = [e["taskFailedEventDetails"]["error"] for e in result.events("TaskFailed")]
    assert failed == ["BedrockThrottled"]
    assert len(pipeline.bedrock.calls_of(CHECK_JOB)) == 3  # the failed call, then two real looks
    assert result.states_entered().count("Wait for the job to end (first hour)") == 1


def test_given_the_quota_is_exceeded_when_the_model_is_tried_then_the_summary_says_so_and_the_run_succeeds(
    offline, dataset_file
):
    # Converse signals an exhausted quota with ThrottlingException (it has no ServiceQuotaExceededException):
    # still throttled after the state machine's retries, the try is reported, not a failed run.
    pipeline = offline()
    assert aws.client("bedrock-runtime") is pipeline.runtime
    pipeline.runtime.fail_next("Converse", *["ThrottlingException"] * 9)
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}, "evaluation": False})

    assert result.status == "SUCCEEDED", result.message
    assert _failed_attempts(result, "Try the distilled model") == ["BedrockThrottled"] * 9  # 1 + 8 retries
    assert result.states_entered()[-4:] == ["Try the distilled model", "Evaluate the student?", "Write run summary",
                                            "Distillation finished"]  # fmt: skip
    summary = pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))
    assert summary["status"] == "SUCCEEDED"
    smoke = summary["smokeTest"]
    assert smoke["Error"] == "BedrockThrottled" and "ThrottlingException" in smoke["Cause"]
    assert summary["provisionedModelArn"] == result.output["provisionedModelArn"]
    (throughput,) = pipeline.bedrock.throughputs.values()
    assert not throughput.deleted  # the run succeeded: the model stays served


def test_given_the_model_errors_when_tried_then_the_summary_and_the_notice_say_so_and_the_run_succeeds(
    offline, dataset_file
):
    pipeline = offline()
    pipeline.runtime.fail_next("Converse", "ModelErrorException")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "onDemandDeployment": {}})

    assert result.status == "SUCCEEDED", result.message
    summary = pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))
    assert summary["smokeTest"]["answer"] is None and "ModelErrorException" in summary["smokeTest"]["error"]
    (notice,) = [m for m in pipeline.published() if m["Subject"].startswith("Distillation succeeded")]
    assert "the model did not answer: " in notice["Message"] and "ModelErrorException" in notice["Message"]


def test_given_a_fault_the_api_cannot_answer_when_injected_then_the_simulator_refuses_it(offline):
    import pytest

    pipeline = offline()
    with pytest.raises(ValueError, match="cannot answer 'ServiceQuotaExceededException'"):
        pipeline.runtime.fail_next("Converse", "ServiceQuotaExceededException")
    with pytest.raises(ValueError, match="no operation"):
        pipeline.bedrock.fail_next("Converse", "ThrottlingException")
