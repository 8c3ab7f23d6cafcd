"""Executions through the Step Functions API: timeouts, stops, idempotent starts, names, quotas and definitions the
offline interpreter must refuse rather than guess at.

https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from distill_cli.offline.asl.errors import DefinitionError
from tests.unit.offline.sfn_world import World, error_code, fn, seconds, task

WAIT_AN_HOUR = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def callback(world: World, **fields: Any) -> dict[str, Any]:
    world.lambdas.add("worker", lambda _payload: {})
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": fn("worker"), "Payload": {"token.$": "$$.Task.Token"}}, **fields}  # fmt: skip


def test_given_an_execution_timeout_when_it_passes_then_the_execution_times_out_whatever_the_task_catches(
    world: World,
) -> None:
    # State machine TimeoutSeconds: the execution ends TIMED_OUT; no state's Retry or Catch applies to it.
    definition = {"TimeoutSeconds": 60, "StartAt": "Work", "States": {
        "Work": callback(world, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": {"Type": "Succeed"}}}  # fmt: skip

    execution, described = world.run(definition)

    assert described["status"] == "TIMED_OUT"
    assert seconds(described["stopDate"]) - seconds(described["startDate"]) == 60
    kinds = [e["type"] for e in world.history(execution)]
    assert kinds[-1] == "ExecutionTimedOut"
    assert "SucceedStateEntered" not in kinds


def test_given_a_waiting_execution_when_it_is_stopped_then_it_is_aborted_at_once(world: World) -> None:
    execution = world.start(world.machine(WAIT_AN_HOUR))
    world.scheduler.advance(100)

    answer = world.sfn.stop_execution(executionArn=execution, error="Operator.Stop", cause="no longer needed")

    described = world.describe(execution)
    assert described["status"] == "ABORTED"
    assert seconds(described["stopDate"]) == seconds(answer["stopDate"]) == seconds(described["startDate"]) + 100
    assert world.details(execution, "ExecutionAborted") == [{"error": "Operator.Stop", "cause": "no longer needed"}]
    world.scheduler.run_idle()
    assert world.describe(execution)["status"] == "ABORTED"  # the hour passing later changes nothing


def test_given_an_execution_waiting_for_a_token_when_it_is_stopped_then_the_token_is_closed(world: World) -> None:
    execution = world.start(world.machine({"StartAt": "Work", "States": {"Work": callback(world, End=True)}}))
    world.run_until(lambda: bool(world.lambdas.calls))

    world.sfn.stop_execution(executionArn=execution)

    with pytest.raises(ClientError) as raised:
        world.sfn.send_task_success(taskToken=world.token(execution), output="{}")
    assert error_code(raised.value) == "TaskTimedOut"


def test_given_a_running_execution_when_started_again_with_the_same_name_and_input_then_the_same_arn_comes_back(
    world: World,
) -> None:
    # "If StartExecution is called with the same name and input as a running execution, the call succeeds and
    # return the same response as the original request. If the execution is closed or if the input is different,
    # it returns a 400 ExecutionAlreadyExists error."
    machine = world.machine(WAIT_AN_HOUR)
    first = world.start(machine, {"a": 1}, name="run-1")

    again = world.start(machine, {"a": 1}, name="run-1")

    assert again == first
    assert len(world.sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
    with pytest.raises(ClientError) as different:
        world.start(machine, {"a": 2}, name="run-1")
    assert error_code(different.value) == "ExecutionAlreadyExists"
    world.finish(first)
    with pytest.raises(ClientError) as closed:
        world.start(machine, {"a": 1}, name="run-1")
    assert error_code(closed.value) == "ExecutionAlreadyExists"


@pytest.mark.parametrize(
    "name",
    ["has space", "tab\there", "new\nline", *"<>{}[]?*\"#%\\^|~`$&,;:/", "nul\x00", "del\x7f", "c1\x85", "x" * 81,
     "\u00a0nbsp"],
)
def test_given_a_name_step_functions_refuses_when_an_execution_starts_then_it_is_refused(world: World, name: str) -> None:
    # Names "must not contain: white space; brackets < > { } [ ]; wildcard characters ? *; special characters
    # " # % \ ^ | ~ ` $ & , ; : /; control characters (U+0000-001F, U+007F-009F)" and are 1-80 characters.
    name = name if len(name) > 1 else f"a{name}b"
    machine = world.machine(WAIT_AN_HOUR)

    with pytest.raises(ClientError) as raised:
        world.start(machine, name=name)

    assert error_code(raised.value) in ({"InvalidName", "ValidationException"} if len(name) > 80 else {"InvalidName"})
    assert world.sfn.list_executions(stateMachineArn=machine)["executions"] == []


@pytest.mark.parametrize("name", ["run-(1)!", "it's_fine", "ünïcode-名前", "x" * 80, "a.b@c=d+e"])
def test_given_a_name_step_functions_accepts_when_an_execution_starts_then_it_runs(world: World, name: str) -> None:
    execution = world.start(world.machine(WAIT_AN_HOUR), name=name)

    assert world.describe(execution)["name"] == name


def test_given_input_over_256_kib_in_utf8_when_an_execution_starts_then_it_is_refused(world: World) -> None:
    machine = world.machine(WAIT_AN_HOUR)
    fits = json.dumps({"v": "é" * ((262_144 - 9) // 2)}, ensure_ascii=False)  # {"v":"..."} is 8 bytes + 2 per é
    too_big = json.dumps({"v": "é" * ((262_144 - 8) // 2 + 1)}, ensure_ascii=False)  # 262,146 bytes, fewer chars
    assert len(fits.encode()) <= 262_144 < len(too_big.encode()) and len(too_big) < 262_144

    with pytest.raises(ClientError) as raised:
        world.start(machine, text=too_big, name="too-big")

    assert error_code(raised.value) == "ValidationException"
    assert world.describe(world.start(machine, text=fits, name="fits"))["status"] == "RUNNING"


def test_given_input_that_is_not_json_when_an_execution_starts_then_invalid_execution_input(world: World) -> None:
    with pytest.raises(ClientError) as raised:
        world.start(world.machine(WAIT_AN_HOUR), text="{nope")

    assert error_code(raised.value) == "InvalidExecutionInput"


def test_given_executions_when_listed_then_the_newest_come_first_and_the_status_filter_applies(world: World) -> None:
    machine = world.machine(WAIT_AN_HOUR)
    older = world.start(machine, name="older")
    world.finish(older)
    newer = world.start(machine, name="newer")

    listed = world.sfn.list_executions(stateMachineArn=machine)["executions"]
    running = world.sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]

    assert [e["executionArn"] for e in listed] == [newer, older]
    assert [e["executionArn"] for e in running] == [newer]
    assert [e["status"] for e in listed] == ["RUNNING", "SUCCEEDED"]


def test_given_unknown_arns_when_used_then_the_service_answers_does_not_exist(world: World) -> None:
    machine = world.machine(WAIT_AN_HOUR)

    with pytest.raises(ClientError) as no_machine:
        world.start(machine + "-gone")
    with pytest.raises(ClientError) as no_execution:
        world.describe(machine.replace(":stateMachine:", ":execution:") + ":nobody")

    assert error_code(no_machine.value) == "StateMachineDoesNotExist"
    assert error_code(no_execution.value) == "ExecutionDoesNotExist"


@pytest.mark.parametrize(
    "definition",
    [
        {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [], "End": True}}},
        {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}",
                                          "End": True}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Inner", "States": {"Inner": {"Type": "Parallel", "Branches": [], "End": True}}}}}},
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                                          "Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "End": True}}},
    ],
    ids=["parallel", "jsonata-machine", "jsonata-state", "distributed-map", "parallel-inside-map", "sqs-task"],
)
def test_given_a_definition_the_interpreter_does_not_implement_when_created_then_it_is_refused_not_guessed(
    world: World, definition: dict[str, Any]
) -> None:
    # Refused when the machine is created (as CreateStateMachine validates a definition), before anything runs.
    with pytest.raises(DefinitionError):
        world.machine(definition)


def test_given_an_endless_loop_when_the_history_reaches_25000_events_then_the_execution_fails(world: World) -> None:
    # "Maximum execution history size: 25,000 events ... If the execution history reaches this quota, the execution
    # will fail" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
    definition = {"StartAt": "Ping", "States": {"Ping": {"Type": "Pass", "Next": "Pong"},
                                                "Pong": {"Type": "Pass", "Next": "Ping"}}}  # fmt: skip

    execution, described = world.run(definition)

    assert described["status"] == "FAILED"
    events = world.history(execution)
    assert 25_000 <= len(events) <= 25_001
    assert events[-1]["type"] == "ExecutionFailed"


def test_given_a_direct_lambda_task_when_the_function_is_named_by_arn_then_it_is_called_with_the_input(
    world: World,
) -> None:
    seen: list[Any] = []
    worker = world.lambdas.add("direct", lambda payload: seen.append(payload) or "ok")

    execution, _ = world.run({"StartAt": "T", "States": {"T": task(worker, End=True)}}, {"in": 1})

    assert seen == [{"in": 1}]
    assert world.output(execution) == "ok"


@pytest.mark.parametrize("inside_a_map", [False, True])
def test_given_an_intrinsic_the_interpreter_does_not_implement_when_reached_then_the_driver_gets_the_refusal(
    world: World, inside_a_map: bool
) -> None:
    state = {"Type": "Pass", "Parameters": {"n.$": "States.MathRandom(1, 10)"}, "End": True}
    definition = {"StartAt": "Roll", "States": {"Roll": state}}
    if inside_a_map:
        definition = {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                                             "ItemProcessor": definition}}}  # fmt: skip

    with pytest.raises(DefinitionError, match="MathRandom"):
        world.run(definition, {"items": [1, 2]})
