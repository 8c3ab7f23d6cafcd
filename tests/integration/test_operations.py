"""Unattended operation: the file-drop trigger, the run summary, failure notices and the cost guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from distill import aws, naming
from distill.errors import InvalidRunInput
from distill.settings import SETTINGS_ENV, load_settings
from distill.steps import job_snapshot
from distill_cli.offline.bedrock import SimulatedBedrockRuntime
from handlers import (
    check_deployment,
    check_run_settings,
    check_throughput,
    deploy_on_demand,
    finish_run,
    notify_failure,
    provision_throughput,
    start_from_drop,
    start_job,
    try_model,
)
from tests.support.aws_world import BUCKET, EXECUTION_ARN, RecordingTopic, World, records

TOPIC = "arn:aws:sns:us-east-1:123456789012:distill-notifications"


@pytest.fixture
def ops(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world plus a notification topic and a (moto) state machine to start."""
    settings = world.settings.__class__(**{**_fields(world.settings), "notification_topic_arn": TOPIC})
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    load_settings.cache_clear()
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="DistillPipeline",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/StatesRole",
    )
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
    topic = RecordingTopic()
    clients = {
        "s3": world.s3,
        "bedrock": world.bedrock,
        "bedrock-runtime": SimulatedBedrockRuntime(world.bedrock),
        "sns": topic,
        "stepfunctions": sfn,
    }
    aws.use_factory(clients.__getitem__)
    world.topic, world.sfn, world.machine = topic, sfn, machine["stateMachineArn"]  # type: ignore[attr-defined]
    return world


def _fields(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}


def _drop_event(key: str, etag: str = "0cc175b9c0f1b6a831c399e269772661") -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "etag": etag, "size": 10}},
    }


def _executions(ops: World) -> list[dict[str, Any]]:
    return ops.sfn.list_executions(stateMachineArn=ops.machine)["executions"]  # type: ignore[attr-defined]


def test_given_a_dropped_file_when_the_event_arrives_twice_then_one_execution_runs(ops: World) -> None:
    ops.upload("incoming/tickets.jsonl", records(120))
    first = start_from_drop.handler(_drop_event("incoming/tickets.jsonl"), ops.context)
    second = start_from_drop.handler(_drop_event("incoming/tickets.jsonl"), ops.context)
    assert first["started"] is True
    # The run is still going: StartExecution would quietly return it, the handler must say "duplicate".
    assert second["started"] is False and second["reason"].startswith("duplicate event")
    assert second["name"] == first["name"] and second["executionArn"] == first["executionArn"]
    executions = _executions(ops)
    assert len(executions) == 1
    started = ops.sfn.describe_execution(executionArn=executions[0]["executionArn"])  # type: ignore[attr-defined]
    assert json.loads(started["input"]) == {"dataset": f"s3://{BUCKET}/incoming/tickets.jsonl"}


def test_given_a_new_version_of_the_file_when_dropped_then_a_second_run_starts(ops: World) -> None:
    ops.upload("incoming/tickets.jsonl", records(120))
    start_from_drop.handler(_drop_event("incoming/tickets.jsonl", "etag-1"), ops.context)
    start_from_drop.handler(_drop_event("incoming/tickets.jsonl", "etag-2"), ops.context)
    assert len(_executions(ops)) == 2


def test_given_a_sidecar_when_a_file_is_dropped_then_its_settings_join_the_input(ops: World) -> None:
    sidecar = {"provisionedThroughput": {"modelUnits": 1}, "systemPrompt": "Be brief."}
    ops.s3.put_object(Bucket=BUCKET, Key="incoming/tickets.jsonl.settings.json", Body=json.dumps(sidecar))
    ops.upload("incoming/tickets.jsonl", records(120))
    start_from_drop.handler(_drop_event("incoming/tickets.jsonl"), ops.context)
    started = ops.sfn.describe_execution(executionArn=_executions(ops)[0]["executionArn"])  # type: ignore[attr-defined]
    assert json.loads(started["input"]) == {"dataset": f"s3://{BUCKET}/incoming/tickets.jsonl", **sidecar}


@pytest.mark.parametrize("body", [b'{"dataset": "s3://elsewhere/x.jsonl"}', b"{not json", b'["a list"]'])
def test_given_a_bad_sidecar_when_a_file_is_dropped_then_no_run_starts_and_the_error_names_the_sidecar(
    ops: World, body: bytes
) -> None:
    ops.s3.put_object(Bucket=BUCKET, Key="incoming/t.jsonl.settings.json", Body=body)
    ops.upload("incoming/t.jsonl", records(120))
    with pytest.raises(InvalidRunInput, match=r"incoming/t\.jsonl\.settings\.json"):
        start_from_drop.handler(_drop_event("incoming/t.jsonl"), ops.context)
    assert _executions(ops) == []


@pytest.mark.parametrize("key", ["incoming/notes.txt", "datasets/x.jsonl", "incoming/t.jsonl.settings.json"])
def test_given_an_object_that_is_not_a_dataset_when_created_then_no_run_starts(ops: World, key: str) -> None:
    assert start_from_drop.handler(_drop_event(key), ops.context)["started"] is False
    assert _executions(ops) == []


def test_given_evaluation_prompts_under_the_drop_zone_when_created_then_no_run_starts(ops: World) -> None:
    # A file for a run's evaluation.dataset is kept in the drop zone's evaluation/ folder: it is not a run.
    ops.upload("incoming/evaluation/prompts.jsonl", records(30))
    result = start_from_drop.handler(_drop_event("incoming/evaluation/prompts.jsonl"), ops.context)
    assert result["started"] is False and "evaluation prompts" in result["reason"]
    assert _executions(ops) == []


@pytest.mark.parametrize("as_sent", ["incoming/red+flower (v2) été.jsonl", "incoming/red%20flower%20%28v2%29%20%C3%A9t%C3%A9.jsonl",
                                     "incoming/red flower (v2) été.jsonl"])
def test_given_a_key_as_s3_may_encode_it_when_dropped_then_the_run_reads_the_real_object(ops: World, as_sent: str) -> None:
    real = "incoming/red flower (v2) été.jsonl"
    ops.upload(real, records(120))
    ops.s3.put_object(Bucket=BUCKET, Key=real + ".settings.json", Body=b'{"systemPrompt": "Be brief."}')

    started = start_from_drop.handler(_drop_event(as_sent), ops.context)

    assert started["started"] is True
    run_input = json.loads(ops.sfn.describe_execution(executionArn=started["executionArn"])["input"])  # type: ignore[attr-defined]
    assert run_input == {"dataset": f"s3://{BUCKET}/{real}", "systemPrompt": "Be brief."}


@pytest.mark.parametrize("meant", ["incoming/a+b.jsonl", "incoming/a b.jsonl"])
def test_given_keys_that_differ_only_by_encoding_when_dropped_then_the_etag_picks_the_object_meant(
    ops: World, meant: str
) -> None:
    ops.upload("incoming/a+b.jsonl", records(120))
    ops.upload("incoming/a b.jsonl", records(110))
    etag = ops.s3.head_object(Bucket=BUCKET, Key=meant)["ETag"].strip('"')

    # "a+b.jsonl" is what the event says either way: raw for the first object, URL-encoded for the second.
    started = start_from_drop.handler(_drop_event("incoming/a+b.jsonl", etag), ops.context)

    run_input = json.loads(ops.sfn.describe_execution(executionArn=started["executionArn"])["input"])  # type: ignore[attr-defined]
    assert run_input["dataset"] == f"s3://{BUCKET}/{meant}"


def test_given_the_object_was_deleted_when_its_event_arrives_then_no_run_starts(ops: World) -> None:
    result = start_from_drop.handler(_drop_event("incoming/gone.jsonl"), ops.context)
    assert result["started"] is False and "no longer exists" in result["reason"]
    assert _executions(ops) == []


SERVING_INPUT = {"none": {}, "provisioned-throughput": {"provisionedThroughput": {}},
                 "on-demand": {"onDemandDeployment": {}}}  # fmt: skip


def _successful_state(ops: World, serving: str) -> dict[str, Any]:
    """Walk the real handlers through a run, as the state machine would, and return its final state."""
    from handlers import prepare_dataset

    ops.upload("incoming/tickets.jsonl", records(120))
    raw = {"dataset": "incoming/tickets.jsonl", **SERVING_INPUT[serving]}
    state: dict[str, Any] = check_run_settings.handler(
        {"input": raw, "execution": {"arn": EXECUTION_ARN, "name": "run-1"}}, ops.context
    )
    state["dataset"] = prepare_dataset.handler(state, ops.context)
    state["job"] = start_job.handler(state, ops.context)
    while state["job"]["status"] == "InProgress":
        state["job"] = job_snapshot(state["job"], state["run"]["outputUri"], ops.settings)
    assert state["run"]["serving"] == serving
    if serving == "provisioned-throughput":
        state["serving"] = provision_throughput.handler(state, ops.context)
        while state["serving"]["status"] == "Creating":
            state["serving"] = check_throughput.handler(state, ops.context)
        state["smokeTest"] = try_model.handler(state, ops.context)
    elif serving == "on-demand":
        state["serving"] = deploy_on_demand.handler(state, ops.context)
        while state["serving"]["status"] == "Creating":
            state["serving"] = check_deployment.handler(state, ops.context)
        state["smokeTest"] = try_model.handler(state, ops.context)
    else:
        state["serving"] = {"modelId": None}  # what the Pass state "No serving requested" writes
    return state


def test_given_a_finished_run_when_summarized_then_the_summary_lands_in_s3_and_the_notice_carries_the_arns(
    ops: World,
) -> None:
    state = _successful_state(ops, "provisioned-throughput")
    output = finish_run.handler({"state": state}, ops.context)
    summary = json.loads(
        ops.s3.get_object(Bucket=BUCKET, Key=f"reports/{state['run']['runId']}/summary.json")["Body"].read()
    )
    assert summary["status"] == "SUCCEEDED"
    assert summary["customModelArn"] == state["job"]["outputModelArn"] == output["customModelArn"]
    assert summary["provisionedModelArn"] == state["serving"]["provisionedModelArn"] == output["provisionedModelArn"]
    # 20 records held out to evaluate the student (the hold-out's minimum), 100 trained on.
    assert (summary["dataset"]["recordsWritten"], summary["dataset"]["recordsHeldOut"]) == (100, 20)
    assert summary["job"]["statusDetails"]["trainingDetails"]["status"] == "Completed"
    assert summary["timings"]["jobStartedAt"] is not None and summary["timings"]["secondsSinceJobStart"] >= 0
    assert summary["timings"]["jobEndedAt"]  # Bedrock's endTime of the completed job
    assert summary["smokeTest"]["answer"].startswith("(distilled model)")
    assert summary["smokeTest"]["prompt"] == "Question 0: how do I reset my password?"
    [notice] = ops.topic.published  # type: ignore[attr-defined]
    assert notice["TopicArn"] == TOPIC
    assert state["job"]["outputModelArn"] in notice["Message"]
    assert state["serving"]["provisionedModelArn"] in notice["Message"]
    assert "delete-provisioned-model-throughput" in notice["Message"]
    assert f"s3://{BUCKET}/reports/{state['run']['runId']}/summary.json" in notice["Message"]


def test_given_a_run_without_throughput_when_summarized_then_the_notice_says_none_was_requested(ops: World) -> None:
    state = _successful_state(ops, "none")
    assert finish_run.handler({"state": state}, ops.context)["provisionedModelArn"] is None
    [notice] = ops.topic.published  # type: ignore[attr-defined]
    assert "none (not requested)" in notice["Message"]
    assert "billed every hour" not in notice["Message"]


def test_given_a_run_served_on_demand_when_summarized_then_summary_and_notice_hold_the_deployment_and_its_cost(
    ops: World,
) -> None:
    state = _successful_state(ops, "on-demand")
    arn = state["serving"]["deploymentArn"]
    assert state["serving"]["modelId"] == arn and state["serving"]["status"] == "Active"
    output = finish_run.handler({"state": state}, ops.context)
    summary = json.loads(
        ops.s3.get_object(Bucket=BUCKET, Key=f"reports/{state['run']['runId']}/summary.json")["Body"].read()
    )
    assert summary["serving"] == "on-demand"
    assert summary["deploymentArn"] == output["deploymentArn"] == arn
    assert summary["onDemandDeployment"]["status"] == "Active"
    assert summary["provisionedModelArn"] is None and output["provisionedModelArn"] is None
    assert summary["provisionedThroughput"] is None
    # The smoke test went through the deployment.
    assert summary["smokeTest"]["answer"].startswith("(distilled model)")
    (converse_model,) = {d.arn for d in ops.bedrock.deployments.values()}
    assert converse_model == arn
    [notice] = ops.topic.published  # type: ignore[attr-defined]
    assert arn in notice["Message"]
    assert "per token" in notice["Message"] and "no hourly charge" in notice["Message"]
    assert f"delete-custom-model-deployment --custom-model-deployment-identifier {arn}" in notice["Message"]
    assert "billed every hour" not in notice["Message"]


def test_given_a_run_with_a_deployment_when_it_fails_then_the_cost_guard_leaves_the_deployment_alone(
    ops: World,
) -> None:
    state = _successful_state(ops, "on-demand")
    arn = state["serving"]["deploymentArn"]
    clients = {
        "s3": ops.s3,
        "bedrock": ops.bedrock,
        "sns": ops.topic,
        "stepfunctions": _history_client("Write run summary", "States.Timeout", "late", after="Try the distilled model"),
    }  # type: ignore[attr-defined]
    aws.use_factory(clients.__getitem__)
    event = {
        "detail": {"executionArn": EXECUTION_ARN, "name": "run-1", "status": "TIMED_OUT", "error": None, "cause": None}
    }
    report = notify_failure.handler(event, ops.context)
    assert report["throughputDeleted"] == []
    assert not ops.bedrock.deployments[arn].deleted  # billed per token: nothing runs up while it sits idle
    assert ops.bedrock.calls_of("DeleteCustomModelDeployment") == []


def _history_client(failed_state: str, error: str, cause: str, *, after: str) -> Any:
    """A real Step Functions client whose GetExecutionHistory answer (newest first, as the notifier asks) is checked
    against the API model: ``after`` was entered and exited, then ``failed_state`` was entered and the run ended
    there. So the state exited last (``after``) is not the one that failed."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    stub = Stubber(client)
    now = datetime.now(UTC)

    def kind(state: str) -> str:
        return "Wait" if state.startswith("Wait ") else "Task"

    started = {"name": "Start distillation job", "output": json.dumps({"job": {"jobArn": JOB_ARN}})}
    oldest_first: list[tuple[str, dict[str, Any]]] = [
        ("TaskStateEntered", {"stateEnteredEventDetails": {"name": "Check run settings"}}),
        ("TaskStateExited", {"stateExitedEventDetails": {"name": "Check run settings"}}),
        ("TaskStateEntered", {"stateEnteredEventDetails": {"name": "Start distillation job"}}),
        ("TaskStateExited", {"stateExitedEventDetails": started}),
        (f"{kind(after)}StateEntered", {"stateEnteredEventDetails": {"name": after}}),
        (f"{kind(after)}StateExited", {"stateExitedEventDetails": {"name": after}}),
        (f"{kind(failed_state)}StateEntered", {"stateEnteredEventDetails": {"name": failed_state}}),
    ]
    if kind(failed_state) == "Task":
        oldest_first.append(("LambdaFunctionFailed", {"lambdaFunctionFailedEventDetails": {"error": error, "cause": cause}}))
    oldest_first.append(("ExecutionFailed", {"executionFailedEventDetails": {"error": error, "cause": cause}}))
    events = [
        {"timestamp": now, "type": type_, "id": n, "previousEventId": n - 1, **details}
        for n, (type_, details) in enumerate(oldest_first, start=2)
    ][::-1]
    stub.add_response("get_execution_history", {"events": events})  # newest first: the failed state
    stub.add_response("get_execution_history", {"events": events[::-1]})  # oldest first: the job it started
    stub.activate()
    return client


JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abcdefabcdef"


def test_given_a_failed_execution_when_notified_then_state_error_and_cause_are_told_and_throughput_is_deleted(
    ops: World,
) -> None:
    state = _successful_state(ops, "provisioned-throughput")  # a run that created provisioned throughput ...
    arn = state["serving"]["provisionedModelArn"]
    cause = "Provisioned throughput check timed out"
    clients = {
        "s3": ops.s3,
        "bedrock": ops.bedrock,
        "sns": ops.topic,
        "stepfunctions": _history_client("Check provisioned throughput", "States.Timeout", cause, after="Wait for the throughput"),
    }  # type: ignore[attr-defined]
    aws.use_factory(clients.__getitem__)
    event = {
        "detail": {"executionArn": EXECUTION_ARN, "name": "run-1", "status": "TIMED_OUT", "error": None, "cause": None}
    }
    report = notify_failure.handler(event, ops.context)  # ... then timed out: the cost guard must delete it
    # The state entered last before the failure, not "Wait for the throughput", the state exited last.
    assert report["failedState"] == "Check provisioned throughput"
    assert report["error"] == "States.Timeout" and report["cause"] == cause
    assert report["throughputDeleted"] == [arn]
    assert ops.bedrock.throughputs[arn].deleted
    [notice] = ops.topic.published  # type: ignore[attr-defined]
    assert "Failed state:  Check provisioned throughput\n" in notice["Message"] and cause in notice["Message"]
    assert notice["Subject"].startswith("Distillation timed_out")
    run_id = naming.run_id("run-1", EXECUTION_ARN)
    summary = json.loads(ops.s3.get_object(Bucket=BUCKET, Key=f"reports/{run_id}/summary.json")["Body"].read())
    assert summary["status"] == "TIMED_OUT" and summary["throughputDeleted"] == [arn]


def test_given_a_job_queue_that_cannot_be_changed_when_a_run_fails_then_the_notice_still_goes_out(ops: World) -> None:
    # The slot is given back best effort: the hourly janitor frees it later; the notice and summary must not wait.
    ops.s3.put_object(Bucket=BUCKET, Key="queue/ledger.json", Body=b"not a ledger")
    clients = {"s3": ops.s3, "bedrock": ops.bedrock, "sns": ops.topic,
               "stepfunctions": _history_client("Prepare dataset", "DatasetInvalid", "line 3: not JSON",
                                                after="Check run settings")}  # fmt: skip
    aws.use_factory(clients.__getitem__)
    event = {"detail": {"executionArn": EXECUTION_ARN, "name": "run-1", "status": "FAILED", "error": None,
                        "cause": None}}  # fmt: skip

    report = notify_failure.handler(event, ops.context)

    assert "is not a job-slot ledger" in report["jobSlot"]["error"]
    [notice] = ops.topic.published  # type: ignore[attr-defined]
    assert "line 3: not JSON" in notice["Message"]


def test_given_a_throughput_with_a_commitment_when_its_run_fails_then_it_is_not_deleted(ops: World) -> None:
    ops.upload("incoming/tickets.jsonl", records(120))
    ops.bedrock.job_checks = 1
    state: dict[str, Any] = check_run_settings.handler(
        {
            "input": {"dataset": "incoming/tickets.jsonl", "provisionedThroughput": {"commitment": "OneMonth"}},
            "execution": {"arn": EXECUTION_ARN, "name": "run-1"},
        },
        ops.context,
    )
    state["job"] = job_snapshot(start_job.handler(state, ops.context), state["run"]["outputUri"], ops.settings)
    arn = provision_throughput.handler(state, ops.context)["provisionedModelArn"]
    clients = {
        "s3": ops.s3,
        "bedrock": ops.bedrock,
        "sns": ops.topic,
        "stepfunctions": _history_client("Wait for the throughput", "States.Runtime", "x", after="Create provisioned throughput"),
    }  # type: ignore[attr-defined]
    aws.use_factory(clients.__getitem__)
    report = notify_failure.handler(
        {
            "detail": {
                "executionArn": EXECUTION_ARN,
                "name": "run-1",
                "status": "FAILED",
                "error": "States.Runtime",
                "cause": "x",
            }
        },
        ops.context,
    )
    assert report["throughputDeleted"] == []
    assert not ops.bedrock.throughputs[arn].deleted
