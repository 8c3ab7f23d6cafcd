"""The execution history, shaped as GetExecutionHistory returns it:
https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html"""

from __future__ import annotations

import json

from tests.unit.offline.sfn_world import LambdaError, World, task


def test_given_a_direct_lambda_task_when_it_succeeds_then_the_lambda_events_carry_their_details(world: World) -> None:
    double = world.lambdas.add("double", lambda payload: {"n": payload["n"] * 2})
    definition = {"StartAt": "Double", "States": {"Double": task(double, TimeoutSeconds=30, End=True)}}

    execution, _ = world.run(definition, {"n": 21})

    assert [e["type"] for e in world.history(execution)] == [
        "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]  # fmt: skip
    (scheduled,) = world.details(execution, "LambdaFunctionScheduled")
    assert scheduled["resource"] == double
    assert json.loads(scheduled["input"]) == {"n": 21}
    assert scheduled["inputDetails"] == {"truncated": False}
    assert scheduled["timeoutInSeconds"] == 30
    (lambda_started,) = world.events(execution, "LambdaFunctionStarted")
    assert not [key for key in lambda_started if key.endswith("EventDetails")]  # LambdaFunctionStarted has none
    (succeeded,) = world.details(execution, "LambdaFunctionSucceeded")
    assert json.loads(succeeded["output"]) == {"n": 42}
    assert succeeded["outputDetails"] == {"truncated": False}


def test_given_a_direct_lambda_task_when_it_fails_then_lambda_function_failed_has_error_and_cause(
    world: World,
) -> None:
    def boom(_payload: object) -> None:
        raise LambdaError("Boom", "the cause")

    broken = world.lambdas.add("broken", boom)

    execution, described = world.run({"StartAt": "Call", "States": {"Call": task(broken, End=True)}})

    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Boom", "the cause")
    (failed,) = world.details(execution, "LambdaFunctionFailed")
    assert failed == {"error": "Boom", "cause": "the cause"}
    assert [e["type"] for e in world.history(execution)][-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]


def test_given_several_states_when_run_then_entered_and_exited_events_name_the_state_and_carry_json(
    world: World,
) -> None:
    definition = {"StartAt": "Shape", "States": {
        "Shape": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}  # fmt: skip

    execution, _ = world.run(definition, {"who": "ünïcode"})

    events = world.history(execution)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))  # ids increase by one
    assert [e["previousEventId"] for e in events][1:] == [e["id"] for e in events][:-1]
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]  # fmt: skip
    (entered,) = world.details(execution, "PassStateEntered")
    assert (entered["name"], json.loads(entered["input"])) == ("Shape", {"who": "ünïcode"})
    (exited,) = world.details(execution, "PassStateExited")
    assert (exited["name"], json.loads(exited["output"])) == ("Shape", {"greeting": "hi ünïcode"})
    (succeed_entered,) = world.details(execution, "SucceedStateEntered")
    assert json.loads(succeed_entered["input"]) == {"greeting": "hi ünïcode"}
    (started,) = world.details(execution, "ExecutionStarted")
    assert json.loads(started["input"]) == {"who": "ünïcode"}
    assert started["roleArn"].endswith(":role/machine-role")
    (succeeded,) = world.details(execution, "ExecutionSucceeded")
    assert json.loads(succeeded["output"]) == {"greeting": "hi ünïcode"}


def test_given_a_fail_state_when_reached_then_the_execution_fails_with_its_error_and_cause(world: World) -> None:
    definition = {"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Error": "Distill.Refused",
                                                         "Cause": "nothing to do"}}}  # fmt: skip

    execution, described = world.run(definition)

    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Distill.Refused",
                                                                              "nothing to do")  # fmt: skip
    assert [e["type"] for e in world.history(execution)] == ["ExecutionStarted", "FailStateEntered",
                                                             "ExecutionFailed"]  # fmt: skip


def test_given_history_options_when_read_then_order_paging_and_data_follow_the_request(world: World) -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    execution, _ = world.run(definition, {"secret": 1})
    every = world.history(execution)

    first = world.sfn.get_execution_history(executionArn=execution, maxResults=2)
    second = world.sfn.get_execution_history(executionArn=execution, maxResults=2, nextToken=first["nextToken"])
    newest = world.sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=1)
    bare = world.sfn.get_execution_history(executionArn=execution, includeExecutionData=False)

    assert first["events"] + second["events"] == every[:4]
    assert newest["events"] == [every[-1]]
    entered = next(e for e in bare["events"] if e["type"] == "PassStateEntered")
    assert entered["stateEnteredEventDetails"] == {"name": "A", "inputDetails": {"truncated": False}}
