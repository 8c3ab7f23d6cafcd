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


def _bedrock_runtime(pipeline):
    """The simulated bedrock-runtime the world's functions call (Converse lives there, not on pipeline.bedrock)."""
    runtime = aws.client("bedrock-runtime")
    assert runtime.bedrock is pipeline.bedrock, "not the open world's bedrock-runtime"
    return runtime


def test_given_bedrock_is_unavailable_once_when_the_job_is_checked_then_the_check_is_retried_and_the_run_succeeds(
    offline, dataset_file
):
    pipeline = offline(job_checks=2)
    pipeline.bedrock.fail_next(CHECK_JOB, "ServiceUnavailableException")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    # The first check failed as BedrockThrottled (the error the state machine retries) and was tried again.
    assert _failed_attempts(result, "Check distillation job") == ["BedrockThrottled"]
    assert len(pipeline.bedrock.calls_of(CHECK_JOB)) == 3  # the failed call, then two real checks
    retried = [e for e in result.history if e["type"] == "LambdaFunctionScheduled"]
    assert len(retried) == len(result.events("TaskStateEntered")) + 1  # one task was scheduled twice
    assert result.states_entered().count("Check distillation job") == 2


def test_given_the_quota_is_exceeded_when_the_model_is_tried_then_the_summary_says_so_and_the_run_succeeds(
    offline, dataset_file
):
    pipeline = offline()
    _bedrock_runtime(pipeline).fail_next("Converse", "ServiceQuotaExceededException")
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key, "provisionedThroughput": {"modelUnits": 1}})

    assert result.status == "SUCCEEDED", result.message
    assert _failed_attempts(result, "Try the distilled model") == []  # reported, not raised
    assert result.states_entered()[-3:] == ["Try the distilled model", "Write run summary", "Distillation finished"]
    summary = pipeline.read_json(result.output["summaryUri"].removeprefix(f"s3://{pipeline.bucket}/"))
    assert summary["status"] == "SUCCEEDED"
    smoke = summary["smokeTest"]
    assert smoke["answer"] is None
    assert "ServiceQuotaExceededException" in smoke["error"]
    assert smoke["prompt"].startswith("Ticket 1: ")
    assert summary["provisionedModelArn"] == result.output["provisionedModelArn"]
    (throughput,) = pipeline.bedrock.throughputs.values()
    assert not throughput.deleted  # the run succeeded: the model stays served
