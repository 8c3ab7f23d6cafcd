"""Input and output processing: InputPath -> Parameters -> (task) -> ResultSelector -> ResultPath -> OutputPath,
the context object and the intrinsic functions CDK emits.

https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.offline.sfn_world import START, World, single, task


def test_given_every_filter_when_a_task_runs_then_they_apply_in_the_documented_order(world: World) -> None:
    seen: list[Any] = []
    echo = world.lambdas.add("echo", lambda payload: seen.append(payload) or {"sum": payload["a"] + 1, "noise": 1})
    definition = single(task(echo, InputPath="$.inner", Parameters={"a.$": "$.value", "fixed": "text"},
                             ResultSelector={"total.$": "$.sum"}, ResultPath="$.inner.result",
                             OutputPath="$.inner"))  # fmt: skip

    execution, described = world.run(definition, {"inner": {"value": 41}, "outer": True})

    assert described["status"] == "SUCCEEDED"
    assert seen == [{"a": 41, "fixed": "text"}]  # InputPath, then Parameters
    # ResultSelector reshapes the result; ResultPath merges it into the *raw* state input; OutputPath filters.
    assert world.output(execution) == {"value": 41, "result": {"total": 42}}


def test_given_result_path_null_when_the_task_returns_then_the_input_passes_through(world: World) -> None:
    # "If you set ResultPath to null, it will pass the original input to the output" (input-output-resultpath).
    worker = world.lambdas.add("worker", lambda _payload: {"ignored": True})

    execution, _ = world.run(single(task(worker, ResultPath=None)), {"keep": 1})

    assert world.output(execution) == {"keep": 1}


def test_given_result_path_dollar_when_the_task_returns_then_the_result_replaces_the_input(world: World) -> None:
    worker = world.lambdas.add("worker", lambda _payload: ["only", "this"])

    execution, _ = world.run(single(task(worker, ResultPath="$")), {"gone": 1})

    assert world.output(execution) == ["only", "this"]


def test_given_a_nested_result_path_when_parts_are_missing_then_they_are_created_beside_the_siblings(
    world: World,
) -> None:
    definition = single({"Type": "Pass", "Result": 7, "ResultPath": "$.a.b.c"})

    execution, _ = world.run(definition, {"a": {"sibling": 1}, "top": 2})

    assert world.output(execution) == {"a": {"sibling": 1, "b": {"c": 7}}, "top": 2}


@pytest.mark.parametrize("state_input", ["a string", {"a": 5}])
def test_given_a_result_path_into_a_non_object_when_applied_then_it_is_a_result_path_match_failure(
    world: World, state_input: Any
) -> None:
    # States.ResultPathMatchFailure: "A state's ResultPath field cannot be applied to the input the state
    # received" (concepts-error-handling).
    definition = single({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"})

    _, described = world.run(definition, state_input)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.ResultPathMatchFailure"


def test_given_input_path_and_output_path_null_when_applied_then_each_gives_an_empty_object(world: World) -> None:
    seen: list[Any] = []
    worker = world.lambdas.add("worker", lambda payload: seen.append(payload) or {"x": 1})

    execution, _ = world.run(single(task(worker, InputPath=None, OutputPath=None)), {"anything": 1})

    assert seen == [{}]
    assert world.output(execution) == {}


@pytest.mark.parametrize(
    "field",
    [{"InputPath": "$.missing.deep"}, {"OutputPath": "$.missing.deep"}, {"Parameters": {"x.$": "$.missing.deep"}},
     {"ResultSelector": {"x.$": "$.missing.deep"}}],
    ids=["InputPath", "OutputPath", "Parameters", "ResultSelector"],
)
def test_given_a_path_that_is_not_in_the_input_when_applied_then_it_is_states_runtime_naming_the_path(
    world: World, field: dict[str, Any]
) -> None:
    # AWS reports e.g. "States.Runtime ... The JSONPath '$.JobName' specified for the field 'JobName.$' could not be
    # found in the input '{}'", and "A retry or catch on States.ALL will not catch States.Runtime errors"
    # (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    worker = world.lambdas.add("worker", lambda _payload: {"result": 1})
    definition = {"StartAt": "Only", "States": {
        "Only": task(worker, **field, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": {"Type": "Succeed"}}}  # fmt: skip

    _, described = world.run(definition, {"present": 1})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "$.missing.deep" in described["cause"]


def test_given_the_context_object_when_parameters_read_it_then_execution_and_state_fields_are_there(
    world: World,
) -> None:
    definition = {"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Read the context"},
        "Read the context": {"Type": "Pass", "Parameters": {
            "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input",
            "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime",
            "machine.$": "$$.StateMachine.Name", "retries.$": "$$.State.RetryCount"}, "End": True}}}  # fmt: skip
    machine = world.machine(definition, name="ctx-machine")

    execution = world.start(machine, {"k": [1, 2]}, name="run-ctx")
    world.finish(execution)
    out = world.output(execution)

    assert out["id"] == execution == "arn:aws:states:us-east-1:123456789012:execution:ctx-machine:run-ctx"
    assert out["name"] == "run-ctx"
    assert out["input"] == {"k": [1, 2]}  # the execution's input, not the state's
    assert out["state"] == "Read the context"
    assert out["machine"] == "ctx-machine"
    assert out["retries"] == 0
    # The context object's times are ISO 8601 in UTC with a 'Z', e.g. "EnteredTime": "2019-03-26T20:14:13.192Z"
    # (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
    for stamp in (out["entered"], out["started"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", stamp), stamp
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) == datetime.fromtimestamp(START, UTC)


def test_given_cdk_intrinsics_when_a_pass_state_renders_them_then_each_gives_the_documented_value(
    world: World,
) -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-intrinsic-functions.html
    definition = single({"Type": "Pass", "Parameters": {
        "parsed.$": "States.StringToJson($.escaped)",
        "text.$": "States.JsonToString($.object)",
        "greeting.$": "States.Format('Hello, my name is {}.', $.name)",
        "mixed.$": "States.Format('{} and {} of {}', $.n, $.flag, $.object)",
        "escaped.$": "States.Format('\\{literal\\} it\\'s {}', $.name)",
        "array.$": "States.Array('Foo', 2022, $.object, null)",
        "nested.$": "States.Array(States.MathAdd($.n, -3), States.Format('{}', $.name))",
        "sum.$": "States.MathAdd($.n, 1)",
        "static": {"kept": "as is"}}})  # fmt: skip
    data = {"escaped": '{"foo": "bar", "n": [1, 2]}', "object": {"foo": "bar"}, "name": "Arnav", "n": 41, "flag": True}

    execution, _ = world.run(definition, data)
    out = world.output(execution)

    assert out["parsed"] == {"foo": "bar", "n": [1, 2]}
    assert out["text"] == '{"foo":"bar"}'
    assert out["greeting"] == "Hello, my name is Arnav."
    assert out["mixed"] == '41 and true of {"foo":"bar"}'
    # Reserved characters ' { } \ are escaped with a backslash inside an intrinsic's string literal.
    assert out["escaped"] == "{literal} it's Arnav"
    assert out["array"] == ["Foo", 2022, {"foo": "bar"}, None]
    assert out["nested"] == [38, "Arnav"]
    assert out["sum"] == 42
    assert out["static"] == {"kept": "as is"}


def test_given_an_argument_with_a_backslash_brace_when_formatted_then_the_value_is_inserted_verbatim(
    world: World,
) -> None:
    # Escapes belong to the template literal; an interpolated *value* is inserted as it is.
    definition = single({"Type": "Pass", "Parameters": {"text.$": "States.Format('[{}]', $.value)"}})

    execution, _ = world.run(definition, {"value": "a\\{b\\}c"})

    assert world.output(execution) == {"text": "[a\\{b\\}c]"}


@pytest.mark.parametrize(
    "expression",
    ["States.StringToJson($.notjson)", "States.Format('{} {}', $.n)", "States.MathAdd($.notjson, 1)"],
)
def test_given_an_intrinsic_that_cannot_apply_when_rendered_then_it_is_an_intrinsic_failure(
    world: World, expression: str
) -> None:
    # "States.IntrinsicFailure: This error occurs when the attempt to invoke an intrinsic function within a
    # payload template fails" (concepts-error-handling).
    _, described = world.run(single({"Type": "Pass", "Parameters": {"x.$": expression}}), {"notjson": "{", "n": 1})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.IntrinsicFailure"


def test_given_a_pass_state_with_parameters_and_result_when_run_then_result_is_the_result(world: World) -> None:
    # Pass: Parameters "will be passed as input"; Result "refers to the output of a virtual task"
    # (https://docs.aws.amazon.com/step-functions/latest/dg/state-pass.html).
    both = single({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "Result": {"fixed": 1}, "ResultPath": "$.r"})
    only_parameters = single({"Type": "Pass", "Parameters": {"x.$": "$.a"}, "ResultPath": "$.r"})

    with_both, _ = world.run(both, {"a": 5})
    with_parameters, _ = world.run(only_parameters, {"a": 5})

    assert world.output(with_both) == {"a": 5, "r": {"fixed": 1}}
    assert world.output(with_parameters) == {"a": 5, "r": {"x": 5}}
