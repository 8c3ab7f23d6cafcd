"""Each Lambda handler, invoked as Lambda would, against moto S3 and the simulated Bedrock."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from distill.errors import BedrockRejected, BedrockThrottled, DatasetInvalid, InvalidRunInput, QuotaExceeded
from distill.steps import job_snapshot
from handlers import (
    check_deployment,
    check_run_settings,
    check_throughput,
    deploy_on_demand,
    provision_throughput,
    start_job,
    try_model,
)
from tests.support.aws_world import BUCKET, EXECUTION_ARN, World, records


def _look(world: World, run: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """One look at the job, as "Wait for the job to end" and the job's state-change event make it."""
    return job_snapshot(job, run["outputUri"], world.settings)


def _settle(world: World, raw: dict[str, Any]) -> dict[str, Any]:
    event = {"input": raw, "execution": {"arn": EXECUTION_ARN, "name": "run-1"}}
    return check_run_settings.handler(event, world.context)["run"]


def _assert_waits_grow_to_the_cap(waits: list[int], world: World) -> None:
    """The wait before each check: the configured first one, then strictly longer each time until the cap."""
    policy = world.settings.polling
    assert waits[0] == policy.first_wait_seconds, waits
    for before, after in itertools.pairwise(waits):
        assert after > before or before == after == policy.max_wait_seconds, waits
    assert max(waits) <= policy.max_wait_seconds, waits


def test_given_console_input_when_settings_are_checked_then_the_run_is_resolved(world: World) -> None:
    run = _settle(world, {"dataset": "incoming/tickets.jsonl"})
    assert run["source"] == "s3://distill-data-bucket/incoming/tickets.jsonl"
    assert run["jobName"].startswith("distill-run-1-")
    assert run["serving"] == "none"
    assert run["provisionedThroughput"] is None and run["onDemandDeployment"] is None


def test_given_both_ways_of_serving_when_settings_are_checked_then_invalid_run_input_names_both(world: World) -> None:
    with pytest.raises(InvalidRunInput, match=r"provisionedThroughput.*onDemandDeployment"):
        _settle(world, {"dataset": "incoming/t.jsonl", "provisionedThroughput": {}, "onDemandDeployment": {}})


def test_given_an_unknown_field_when_settings_are_checked_then_invalid_run_input_names_it(world: World) -> None:
    with pytest.raises(InvalidRunInput, match="`studentModel`"):
        _settle(world, {"dataset": "incoming/t.jsonl", "studentModel": "x"})


def test_given_a_run_when_the_job_is_started_twice_then_bedrock_holds_one_job(world: World) -> None:
    run = _settle(world, {"dataset": "incoming/t.jsonl"})
    first = start_job.handler({"run": run}, world.context)
    second = start_job.handler({"run": run}, world.context)
    assert first["jobArn"] == second["jobArn"]
    assert len(world.bedrock.jobs) == 1
    assert first["status"] == "InProgress"
    assert first["checks"] == 0 and "waitSeconds" not in first  # its end comes by event (distill.job_waits)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ThrottlingException", BedrockThrottled),
        ("ServiceQuotaExceededException", QuotaExceeded),
        ("ValidationException", BedrockRejected),
    ],
)
def test_given_bedrock_refuses_when_the_job_starts_then_the_handler_raises_the_named_error(
    world: World, code: str, error: type[Exception]
) -> None:
    run = _settle(world, {"dataset": "incoming/t.jsonl"})
    world.bedrock.fail_next("CreateModelCustomizationJob", code)
    with pytest.raises(error):
        start_job.handler({"run": run}, world.context)
    assert world.bedrock.jobs == {}


@pytest.mark.parametrize(
    ("outcome", "final_status", "message"),
    [
        ("completed", "Completed", ""),
        ("failed", "Failed", "insufficient valid prompts"),
        ("stopped", "Stopped", "stopped by user"),
    ],
)
def test_given_a_job_when_looked_at_until_it_ends_then_status_and_message_are_reported(
    world: World, outcome: str, final_status: str, message: str
) -> None:
    world.bedrock.job_outcome = outcome  # type: ignore[assignment]
    run = _settle(world, {"dataset": "incoming/t.jsonl"})
    job = start_job.handler({"run": run}, world.context)
    seen = [job["status"]]
    while job["status"] == "InProgress":
        job = _look(world, run, job)
        seen.append(job["status"])
    assert seen == ["InProgress", "InProgress", final_status]
    assert job["checks"] == 2
    assert message in job["failureMessage"].lower()
    assert job["statusDetails"]["validationDetails"]["status"] == "Completed"
    assert bool(job["outputModelArn"]) is (outcome == "completed")


@pytest.mark.parametrize(("fails", "final"), [(False, "InService"), (True, "Failed")])
def test_given_a_completed_job_when_throughput_is_provisioned_then_it_is_followed_to_the_end(
    world: World, fails: bool, final: str
) -> None:
    world.bedrock.throughput_fails = fails
    run = _settle(world, {"dataset": "incoming/t.jsonl", "provisionedThroughput": {"modelUnits": 1}})
    job = start_job.handler({"run": run}, world.context)
    job = _look(world, run, _look(world, run, job))
    assert job["status"] == "Completed"
    pt = provision_throughput.handler({"run": run, "job": job}, world.context)
    assert pt["status"] == "Creating" and pt["commitment"] is None
    assert pt["modelId"] == pt["provisionedModelArn"]
    created = world.bedrock.calls_of("CreateProvisionedModelThroughput")
    assert len(created) == 1 and "commitmentDuration" not in created[0]
    statuses = []
    while pt["status"] in ("Creating", "Updating"):
        pt = check_throughput.handler({"run": run, "serving": pt}, world.context)
        statuses.append(pt["status"])
    assert statuses[-1] == final
    assert ("capacity" in pt["failureMessage"].lower()) is fails


def test_given_no_provisioning_was_asked_when_the_provision_task_runs_then_it_refuses(world: World) -> None:
    run = _settle(world, {"dataset": "incoming/t.jsonl"})
    with pytest.raises(InvalidRunInput):
        provision_throughput.handler({"run": run, "job": {"outputModelArn": "x"}}, world.context)


def _completed_job(world: World, run: dict[str, Any]) -> dict[str, Any]:
    job = start_job.handler({"run": run}, world.context)
    while job["status"] == "InProgress":
        job = _look(world, run, job)
    assert job["status"] == "Completed"
    return job


@pytest.mark.parametrize(("fails", "final"), [(False, "Active"), (True, "Failed")])
def test_given_a_completed_job_when_deployed_on_demand_then_the_deployment_is_followed_to_the_end(
    world: World, fails: bool, final: str
) -> None:
    from handlers import prepare_dataset

    world.bedrock.deployment_fails = fails
    world.upload("incoming/t.jsonl", records(120))
    run = _settle(world, {"dataset": "incoming/t.jsonl", "onDemandDeployment": {"description": "tickets bot"}})
    prepare_dataset.handler({"run": run}, world.context)
    job = _completed_job(world, run)
    serving = deploy_on_demand.handler({"run": run, "job": job}, world.context)
    assert serving["status"] == "Creating" and serving["checks"] == 0
    assert serving["modelId"] == serving["deploymentArn"]
    assert serving["waitSeconds"] == world.settings.polling.first_wait_seconds
    (created,) = world.bedrock.calls_of("CreateCustomModelDeployment")
    assert created["modelArn"] == job["outputModelArn"]
    assert created["modelDeploymentName"] == run["onDemandDeployment"]["deploymentName"]
    assert created["description"] == "tickets bot"
    assert {"key": "created-by", "value": "distill-pipeline"} in created["tags"]
    # A retried task (same client request token) meets the same deployment.
    again = deploy_on_demand.handler({"run": run, "job": job}, world.context)
    assert again["deploymentArn"] == serving["deploymentArn"] and len(world.bedrock.deployments) == 1
    seen = [(serving["status"], serving["waitSeconds"])]
    while serving["status"] == "Creating":
        serving = check_deployment.handler({"run": run, "serving": serving}, world.context)
        seen.append((serving["status"], serving["waitSeconds"]))
    assert [s for s, _ in seen] == ["Creating", "Creating", final]
    _assert_waits_grow_to_the_cap([w for _, w in seen], world)
    assert serving["checks"] == 2
    assert ("not supported" in serving["failureMessage"]) is fails
    if not fails:
        answer = try_model.handler({"run": run, "serving": serving}, world.context)
        assert answer["error"] is None and answer["answer"].startswith("(distilled model)")
        assert answer["prompt"] == "Question 0: how do I reset my password?"


def test_given_throttling_when_the_deployment_is_checked_then_bedrock_throttled_is_raised(world: World) -> None:
    run = _settle(world, {"dataset": "incoming/t.jsonl", "onDemandDeployment": {}})
    serving = deploy_on_demand.handler({"run": run, "job": _completed_job(world, run)}, world.context)
    world.bedrock.fail_next("GetCustomModelDeployment", "ThrottlingException")
    with pytest.raises(BedrockThrottled):
        check_deployment.handler({"run": run, "serving": serving}, world.context)


@pytest.mark.parametrize(
    ("raw", "handler"),
    [
        ({"dataset": "incoming/t.jsonl"}, deploy_on_demand),
        ({"dataset": "incoming/t.jsonl", "provisionedThroughput": {}}, deploy_on_demand),
        ({"dataset": "incoming/t.jsonl", "onDemandDeployment": {}}, provision_throughput),
    ],
)
def test_given_a_run_that_asked_for_another_serving_when_a_serving_task_runs_then_it_refuses(
    world: World, raw: dict[str, Any], handler: Any
) -> None:
    run = _settle(world, raw)
    with pytest.raises(InvalidRunInput):
        handler.handler({"run": run, "job": {"outputModelArn": "x"}}, world.context)


def test_given_valid_raw_data_when_the_dataset_is_prepared_then_the_converted_file_and_report_are_written(
    world: World,
) -> None:
    from handlers import prepare_dataset

    world.upload("incoming/tickets.jsonl", records(120))
    run = _settle(world, {"dataset": "incoming/tickets.jsonl", "systemPrompt": "You are a support agent."})
    result = prepare_dataset.handler({"run": run}, world.context)
    assert result["recordsRead"] == 120 and result["recordsWritten"] == 120 and result["recordsDropped"] == 0
    dataset = world.s3.get_object(Bucket=BUCKET, Key=f"datasets/{run['runId']}/train.jsonl")["Body"].read()
    first = json.loads(dataset.splitlines()[0])
    assert first["schemaVersion"] == "bedrock-conversation-2024"
    assert first["system"] == [{"text": "You are a support agent."}]
    assert first["messages"][0] == {"role": "user", "content": [{"text": "Question 0: how do I reset my password?"}]}
    assert world.keys(f"reports/{run['runId']}/") == [f"reports/{run['runId']}/validation-report.json"]


def test_given_a_bad_line_when_the_dataset_is_prepared_then_the_run_fails_with_the_line_and_writes_no_dataset(
    world: World,
) -> None:
    from handlers import prepare_dataset

    lines = records(120)
    lines[56] = {"prompt": "", "completion": "x"}  # line 57
    world.upload("incoming/tickets.jsonl", lines)
    run = _settle(world, {"dataset": "incoming/tickets.jsonl"})
    with pytest.raises(DatasetInvalid, match="line 57") as caught:
        prepare_dataset.handler({"run": run}, world.context)
    assert "validation-report.json" in str(caught.value)
    assert world.keys("datasets/") == []
    assert world.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    report = json.loads(
        world.s3.get_object(Bucket=BUCKET, Key=f"reports/{run['runId']}/validation-report.json")["Body"].read()
    )
    assert report["ok"] is False
    assert report["errors"][0]["line"] == 57
    assert report["errors"][0]["field"].startswith("$.prompt") or "prompt" in report["errors"][0]["message"]


def test_given_a_missing_file_when_the_dataset_is_prepared_then_dataset_invalid_names_it(world: World) -> None:
    from handlers import prepare_dataset

    run = _settle(world, {"dataset": "incoming/nothing-here.jsonl"})
    with pytest.raises(DatasetInvalid, match="nothing-here"):
        prepare_dataset.handler({"run": run}, world.context)
