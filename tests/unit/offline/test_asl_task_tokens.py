"""The callback pattern (``.waitForTaskToken``) and SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat.

https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token and
https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html ("TaskTimedOut: The task
token has either expired or the task associated with the token has already been closed"; "InvalidToken: The
provided token is not valid").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.offline.sfn_world import World, error_code, fn, seconds

CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def callback_machine(world: World, handler: Callable[[Any], Any] | None = None, **fields: Any) -> dict[str, Any]:
    world.lambdas.add("worker", handler or (lambda _payload: {"accepted": True}))
    state = {"Type": "Task", "Resource": CALLBACK, "End": True,
             "Parameters": {"FunctionName": fn("worker"), "Payload": {"token.$": "$$.Task.Token", "job.$": "$.job"}},
             **fields}  # fmt: skip
    return {"StartAt": "Wait for the worker", "States": {"Wait for the worker": state}}


def started(world: World, definition: dict[str, Any], data: Any = None) -> str:
    """Start an execution and run it until the worker has its token."""
    execution = world.start(world.machine(definition), data if data is not None else {"job": "j-1"})
    world.run_until(lambda: bool(world.lambdas.calls))
    return execution


def test_given_a_callback_task_when_the_worker_succeeds_then_its_output_is_the_result(world: World) -> None:
    execution = started(world, callback_machine(world))
    token = world.token(execution)
    assert world.lambdas.payloads("worker") == [{"token": token, "job": "j-1"}]
    world.scheduler.advance(3600)
    assert world.describe(execution)["status"] == "RUNNING"  # it waits for the token, however long

    world.sfn.send_task_success(taskToken=token, output=json.dumps({"done": 1}))

    assert world.finish(execution)["status"] == "SUCCEEDED"
    assert world.output(execution) == {"done": 1}


def test_given_a_callback_task_when_it_runs_then_the_history_has_the_task_events_with_their_details(
    world: World,
) -> None:
    execution = started(world, callback_machine(world, TimeoutSeconds=600, HeartbeatSeconds=60))
    world.sfn.send_task_success(taskToken=world.token(execution), output='"ok"')
    world.finish(execution)

    kinds = [e["type"] for e in world.history(execution)]
    assert kinds == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                     "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]  # fmt: skip
    (scheduled,) = world.details(execution, "TaskScheduled")
    assert set(scheduled) == {"resourceType", "resource", "region", "parameters", "timeoutInSeconds",
                              "heartbeatInSeconds"}  # fmt: skip
    assert (scheduled["resourceType"], scheduled["resource"]) == ("lambda", "invoke.waitForTaskToken")
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (600, 60)
    assert json.loads(scheduled["parameters"])["FunctionName"] == fn("worker")
    (task_started,) = world.details(execution, "TaskStarted")
    assert task_started == {"resourceType": "lambda", "resource": "invoke.waitForTaskToken"}
    (submitted,) = world.details(execution, "TaskSubmitted")
    assert set(submitted) == {"resourceType", "resource", "output", "outputDetails"}
    assert json.loads(submitted["output"])["Payload"] == {"accepted": True}  # what the invocation answered
    (succeeded,) = world.details(execution, "TaskSucceeded")
    assert set(succeeded) == {"resourceType", "resource", "output", "outputDetails"}
    assert json.loads(succeeded["output"]) == "ok"


def test_given_a_callback_task_when_the_worker_fails_then_the_state_fails_with_its_error_and_cause(
    world: World,
) -> None:
    execution = started(world, callback_machine(world))

    world.sfn.send_task_failure(taskToken=world.token(execution), error="Worker.Broken", cause="disk full")

    described = world.finish(execution)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Worker.Broken", "disk full")
    (failed,) = world.details(execution, "TaskFailed")
    assert failed == {"resourceType": "lambda", "resource": "invoke.waitForTaskToken", "error": "Worker.Broken",
                      "cause": "disk full"}  # fmt: skip


def test_given_timeout_seconds_when_no_answer_comes_then_the_task_times_out_counted_from_its_start(
    world: World,
) -> None:
    # TimeoutSeconds: "The count begins after the task has been started, for example, when ActivityStarted or
    # LambdaFunctionStarted are logged" (https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html).
    execution = started(world, callback_machine(world, TimeoutSeconds=300))

    described = world.finish(execution)

    assert (described["status"], described["error"]) == ("FAILED", "States.Timeout")
    (task_started,) = world.events(execution, "TaskStarted")
    (timed_out,) = world.events(execution, "TaskTimedOut")
    assert seconds(timed_out["timestamp"]) - seconds(task_started["timestamp"]) == pytest.approx(300)
    assert set(timed_out["taskTimedOutEventDetails"]) == {"resourceType", "resource", "error", "cause"}
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"


def test_given_heartbeat_seconds_when_no_heartbeat_comes_then_the_task_fails_with_heartbeat_timeout(
    world: World,
) -> None:
    execution = started(world, callback_machine(world, TimeoutSeconds=600, HeartbeatSeconds=60))

    described = world.finish(execution)

    assert (described["status"], described["error"]) == ("FAILED", "States.HeartbeatTimeout")
    (task_started,) = world.events(execution, "TaskStarted")
    assert seconds(described["stopDate"]) - seconds(task_started["timestamp"]) == pytest.approx(60)


def test_given_heartbeats_when_each_comes_in_time_then_the_task_waits_on_until_it_succeeds(world: World) -> None:
    # SendTaskHeartbeat "resets the Heartbeat clock".
    execution = started(world, callback_machine(world, TimeoutSeconds=600, HeartbeatSeconds=60))
    token = world.token(execution)
    for _ in range(4):
        world.scheduler.advance(50)
        world.sfn.send_task_heartbeat(taskToken=token)
    world.scheduler.advance(50)
    assert world.describe(execution)["status"] == "RUNNING"  # 250 s in: far past one heartbeat interval

    world.sfn.send_task_success(taskToken=token, output="{}")

    assert world.finish(execution)["status"] == "SUCCEEDED"


def test_given_heartbeats_when_timeout_seconds_passes_then_the_task_times_out_all_the_same(world: World) -> None:
    # "The Timeout of a task ... is its maximum allowed duration, regardless of the number of SendTaskHeartbeat
    # requests received" (API_SendTaskHeartbeat).
    execution = started(world, callback_machine(world, TimeoutSeconds=200, HeartbeatSeconds=60))
    token = world.token(execution)
    while world.describe(execution)["status"] == "RUNNING":
        world.sfn.send_task_heartbeat(taskToken=token)
        world.scheduler.advance(30)

    assert world.describe(execution)["error"] == "States.Timeout"


def test_given_a_heartbeat_and_a_success_sent_together_when_the_world_runs_then_the_success_is_not_lost(
    world: World,
) -> None:
    execution = started(world, callback_machine(world, TimeoutSeconds=600, HeartbeatSeconds=60))
    token = world.token(execution)

    world.sfn.send_task_heartbeat(taskToken=token)
    world.sfn.send_task_success(taskToken=token, output='{"after": "heartbeat"}')

    assert world.finish(execution)["status"] == "SUCCEEDED"
    assert world.output(execution) == {"after": "heartbeat"}


def test_given_a_worker_that_answers_before_its_invocation_returns_when_run_then_the_token_is_valid(
    world: World,
) -> None:
    # The token is the task's from the moment the task starts: a function may call SendTaskSuccess itself.
    def worker(payload: dict[str, Any]) -> dict[str, Any]:
        world.sfn.send_task_success(taskToken=payload["token"], output=json.dumps({"answered": "inline"}))
        return {"accepted": True}

    execution = world.start(world.machine(callback_machine(world, worker)), {"job": "j-2"})

    assert world.finish(execution)["status"] == "SUCCEEDED"
    assert world.output(execution) == {"answered": "inline"}


@pytest.mark.parametrize("second", ["success", "failure", "heartbeat"])
def test_given_a_token_already_used_when_it_is_sent_again_then_task_timed_out(world: World, second: str) -> None:
    execution = started(world, callback_machine(world))
    token = world.token(execution)
    world.sfn.send_task_success(taskToken=token, output="{}")
    world.finish(execution)

    with pytest.raises(ClientError) as raised:
        send(world, second, token)

    assert error_code(raised.value) == "TaskTimedOut"


def test_given_two_answers_sent_back_to_back_when_the_second_arrives_then_it_is_refused(world: World) -> None:
    execution = started(world, callback_machine(world))
    token = world.token(execution)
    world.sfn.send_task_success(taskToken=token, output='"first"')

    with pytest.raises(ClientError) as raised:
        world.sfn.send_task_failure(taskToken=token, error="Late")

    assert error_code(raised.value) == "TaskTimedOut"
    world.finish(execution)
    assert world.output(execution) == "first"


def test_given_a_task_that_timed_out_when_its_token_is_used_then_task_timed_out(world: World) -> None:
    execution = started(world, callback_machine(world, TimeoutSeconds=10))
    world.finish(execution)

    with pytest.raises(ClientError) as raised:
        world.sfn.send_task_success(taskToken=world.token(execution), output="{}")

    assert error_code(raised.value) == "TaskTimedOut"


@pytest.mark.parametrize("kind", ["success", "failure", "heartbeat"])
def test_given_a_token_never_issued_when_it_is_sent_then_invalid_token(world: World, kind: str) -> None:
    with pytest.raises(ClientError) as raised:
        send(world, kind, "not-a-token-this-service-issued")

    assert error_code(raised.value) == "InvalidToken"


def test_given_output_that_is_not_json_when_sent_then_invalid_output(world: World) -> None:
    execution = started(world, callback_machine(world))

    with pytest.raises(ClientError) as raised:
        world.sfn.send_task_success(taskToken=world.token(execution), output="{not json")

    assert error_code(raised.value) == "InvalidOutput"


@pytest.mark.parametrize(
    ("fields", "catch", "caught"),
    [({"TimeoutSeconds": 10}, "States.Timeout", True), ({"TimeoutSeconds": 10}, "States.TaskFailed", False),
     ({"TimeoutSeconds": 100, "HeartbeatSeconds": 10}, "States.HeartbeatTimeout", True)],
)
def test_given_a_timed_out_callback_when_catchers_are_tried_then_the_timeout_names_match_as_documented(
    world: World, fields: dict[str, Any], catch: str, caught: bool
) -> None:
    definition = callback_machine(world, **fields)
    state = definition["States"]["Wait for the worker"]
    state["Catch"] = [{"ErrorEquals": [catch], "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Succeed"}

    execution = started(world, definition)

    assert world.finish(execution)["status"] == ("SUCCEEDED" if caught else "FAILED")


def test_given_a_plain_lambda_invoke_when_it_returns_then_the_result_is_the_invoke_envelope(world: World) -> None:
    world.lambdas.add("plain", lambda payload: {"echo": payload})
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
             "Parameters": {"FunctionName": fn("plain"), "Payload": {"x.$": "$.x"}},
             "ResultSelector": {"body.$": "$.Payload", "status.$": "$.StatusCode"}}  # fmt: skip

    execution, _ = world.run({"StartAt": "Call", "States": {"Call": state}}, {"x": 5})

    assert world.output(execution) == {"body": {"echo": {"x": 5}}, "status": 200}
    assert [e["type"] for e in world.history(execution)][2:5] == ["TaskScheduled", "TaskStarted", "TaskSucceeded"]


def send(world: World, kind: str, token: str) -> None:
    if kind == "success":
        world.sfn.send_task_success(taskToken=token, output="{}")
    elif kind == "failure":
        world.sfn.send_task_failure(taskToken=token, error="E", cause="C")
    else:
        world.sfn.send_task_heartbeat(taskToken=token)
