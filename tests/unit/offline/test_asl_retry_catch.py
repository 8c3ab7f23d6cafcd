"""Retry and Catch: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.offline.sfn_world import LambdaError, World, seconds, task


def scripted(*outcomes: Any) -> Callable[[Any], Any]:
    """A handler that gives these outcomes in turn (an exception is raised), then keeps giving the last one."""
    remaining = list(outcomes)

    def handler(_payload: Any) -> Any:
        outcome = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return handler


def machine(state: dict[str, Any], *, caught: bool = True) -> dict[str, Any]:
    states: dict[str, Any] = {"Work": {**state, "End": True}}
    if caught:
        states["Recover"] = {"Type": "Pass", "End": True}
    return {"StartAt": "Work", "States": states}


def retry_delays(world: World, execution: str) -> list[float]:
    """Seconds from each failed attempt to the next attempt."""
    events = world.history(execution)
    failed = [seconds(e["timestamp"]) for e in events if e["type"] == "LambdaFunctionFailed"]
    scheduled = [seconds(e["timestamp"]) for e in events if e["type"] == "LambdaFunctionScheduled"]
    return [round(start - end, 6) for end, start in zip(failed, scheduled[1:], strict=False)]


def test_given_backoff_when_a_task_keeps_failing_then_waits_are_interval_times_rate_to_the_n(world: World) -> None:
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Busy")))
    state = task(flaky, Retry=[{"ErrorEquals": ["Busy"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}])

    execution, described = world.run(machine(state, caught=False))

    assert (described["status"], described["error"]) == ("FAILED", "Busy")
    assert len(world.lambdas.payloads("flaky")) == 4  # the first try and MaxAttempts retries
    assert retry_delays(world, execution) == [2, 6, 18]
    assert len(world.events(execution, "TaskStateEntered")) == 1  # a retry does not re-enter the state


def test_given_max_delay_seconds_when_the_backoff_grows_then_each_wait_is_capped(world: World) -> None:
    # MaxDelaySeconds: "the maximum value, in seconds, up to which a retry interval can increase".
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Busy")))
    state = task(flaky, Retry=[{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 4,
                                "MaxDelaySeconds": 25}])  # fmt: skip

    execution, _ = world.run(machine(state, caught=False))

    assert retry_delays(world, execution) == [10, 20, 25, 25]


def test_given_defaults_when_a_task_keeps_failing_then_it_is_retried_three_times_after_1_2_4_seconds(
    world: World,
) -> None:
    # IntervalSeconds 1, MaxAttempts 3 and BackoffRate 2.0 by default.
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Busy")))

    execution, _ = world.run(machine(task(flaky, Retry=[{"ErrorEquals": ["States.ALL"]}]), caught=False))

    assert retry_delays(world, execution) == [1, 2, 4]


def test_given_max_attempts_zero_when_the_error_matches_then_it_is_never_retried_even_if_a_later_retrier_matches(
    world: World,
) -> None:
    # "A value of 0 specifies that the error or errors are never retried"; the doc's example retries "any error
    # except States.Timeout" with [{States.Timeout, MaxAttempts 0}, {States.ALL}]: the first match decides.
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Fatal")))
    state = task(flaky, Retry=[{"ErrorEquals": ["Fatal"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"]}])

    _, described = world.run(machine(state, caught=False))

    assert described["error"] == "Fatal"
    assert len(world.lambdas.payloads("flaky")) == 1


def test_given_the_documented_complex_retry_scenario_when_run_then_waits_and_catch_are_as_documented(
    world: World,
) -> None:
    # "This task fails four times in succession, outputting these error names: ErrorA, ErrorB, ErrorC, and ErrorB":
    # waits of 1 and 2 s (first retrier), 5 s (second); "The fourth error also matches the first retrier. However,
    # it already reached its maximum of two retries ... the execution redirects the workflow to the Z state through
    # the Catch field." -- "A retrier's parameters apply across all visits to the retrier".
    flaky = world.lambdas.add("flaky", scripted(*(LambdaError(e, f"cause {e}") for e in
                                                  ("ErrorA", "ErrorB", "ErrorC", "ErrorB", "Unexpected"))))  # fmt: skip
    state = task(flaky, Retry=[{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0,
                                "MaxAttempts": 2},
                               {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
                 Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}])  # fmt: skip

    execution, described = world.run(machine(state), {"order": 7})

    assert described["status"] == "SUCCEEDED"
    assert retry_delays(world, execution) == [1, 2, 5]
    assert len(world.lambdas.payloads("flaky")) == 4
    assert world.output(execution) == {"order": 7, "error": {"Error": "ErrorB", "Cause": "cause ErrorB"}}


def test_given_full_jitter_when_retrying_then_each_wait_is_between_zero_and_the_computed_delay(world: World) -> None:
    # JitterStrategy FULL: "a random number between 0 and the computed backoff for the given retry attempt count"
    # (https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_stepfunctions/JitterType.html).
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Busy")))
    state = task(flaky, Retry=[{"ErrorEquals": ["Busy"], "IntervalSeconds": 4, "BackoffRate": 2, "MaxAttempts": 8,
                                "MaxDelaySeconds": 60, "JitterStrategy": "FULL"}])  # fmt: skip

    execution, _ = world.run(machine(state, caught=False))

    delays = retry_delays(world, execution)
    computed = [min(4 * 2**n, 60) for n in range(8)]
    assert len(delays) == 8
    assert all(0 <= d <= c for d, c in zip(delays, computed, strict=True)), (delays, computed)
    assert delays != computed  # really jittered


def test_given_retries_when_the_state_reads_its_context_then_retry_count_counts_the_retries(world: World) -> None:
    flaky = world.lambdas.add("flaky", scripted(LambdaError("Busy"), LambdaError("Busy"), {"done": True}))
    state = task(flaky, Parameters={"retry.$": "$$.State.RetryCount"},
                 Retry=[{"ErrorEquals": ["Busy"], "IntervalSeconds": 1}])  # fmt: skip

    world.run(machine(state, caught=False))

    assert world.lambdas.payloads("flaky") == [{"retry": 0}, {"retry": 1}, {"retry": 2}]


def test_given_catchers_when_an_error_is_caught_then_the_first_matching_catcher_wins(world: World) -> None:
    failing = world.lambdas.add("failing", scripted(ValueError("bad value")))
    definition = {"StartAt": "Work", "States": {
        "Work": task(failing, Catch=[{"ErrorEquals": ["KeyError"], "Next": "Wrong"},
                                     {"ErrorEquals": ["ValueError", "TypeError"], "Next": "Right"},
                                     {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}], End=True),
        "Wrong": {"Type": "Fail", "Error": "WrongCatcher"},
        "Right": {"Type": "Pass", "End": True}}}  # fmt: skip

    execution, described = world.run(definition, {"lost": True})

    assert described["status"] == "SUCCEEDED"
    # Without ResultPath the catcher's ResultPath is "$": the error output replaces the input.
    out = world.output(execution)
    assert out["Error"] == "ValueError"
    assert json.loads(out["Cause"])["errorMessage"] == "bad value"
    assert set(out) == {"Error", "Cause"}


def test_given_a_caught_error_when_the_state_has_an_output_path_then_the_error_output_is_not_filtered(
    world: World,
) -> None:
    failing = world.lambdas.add("failing", scripted(LambdaError("Oops", "why")))
    state = task(failing, OutputPath="$.nothing",
                 Catch=[{"ErrorEquals": ["Oops"], "ResultPath": "$.err", "Next": "Recover"}])  # fmt: skip

    execution, _ = world.run(machine(state), {"a": 1})

    assert world.output(execution) == {"a": 1, "err": {"Error": "Oops", "Cause": "why"}}


@pytest.mark.parametrize(("error", "caught"), [("ValueError", True), ("Lambda.Unknown", True), ("States.Timeout", False)])
def test_given_states_task_failed_when_matching_then_it_matches_any_error_except_states_timeout(
    world: World, error: str, caught: bool
) -> None:
    # "States.TaskFailed acts as a wildcard that matches any known error name except for States.Timeout".
    failing = world.lambdas.add("failing", scripted(LambdaError(error)))
    state = task(failing, Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Recover"}])

    _, described = world.run(machine(state))

    assert described["status"] == ("SUCCEEDED" if caught else "FAILED")


def test_given_a_failing_task_when_nothing_catches_then_the_execution_fails_with_the_error_and_cause(
    world: World,
) -> None:
    failing = world.lambdas.add("failing", scripted(LambdaError("Custom.Error", "it broke")))

    execution, described = world.run(machine(task(failing, Catch=[{"ErrorEquals": ["Other"], "Next": "Recover"}])))

    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Custom.Error", "it broke")
    (failed,) = world.details(execution, "ExecutionFailed")
    assert failed == {"error": "Custom.Error", "cause": "it broke"}


def test_given_a_retrier_and_catcher_naming_states_runtime_when_a_runtime_error_happens_then_neither_applies(
    world: World,
) -> None:
    # "A States.Runtime error is not retriable, and will always cause the execution to fail" (concepts-error-handling).
    worker = world.lambdas.add("worker", lambda _payload: {})
    state = task(worker, Parameters={"x.$": "$.missing"}, Retry=[{"ErrorEquals": ["States.Runtime"]}],
                 Catch=[{"ErrorEquals": ["States.Runtime"], "Next": "Recover"}])  # fmt: skip

    execution, described = world.run(machine(state), {})

    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert seconds(described["stopDate"]) == seconds(described["startDate"])  # no retry interval was waited
    assert not world.events(execution, "PassStateEntered")
