"""The inline Map state: https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.offline.sfn_world import LambdaError, World, seconds, task


def map_machine(iterator: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": iterator, **fields, "End": True}}}


class Gauge:
    """Counts iterations in flight through two fake functions, 'enter' and 'leave'."""

    def __init__(self, world: World) -> None:
        self.now, self.peak = 0, 0
        self.enter = world.lambdas.add("enter", self._enter)
        self.leave = world.lambdas.add("leave", self._leave)

    def _enter(self, payload: Any) -> Any:
        self.now += 1
        self.peak = max(self.peak, self.now)
        return payload

    def _leave(self, payload: Any) -> Any:
        self.now -= 1
        return payload

    def iterator(self, wait_seconds: int = 10) -> dict[str, Any]:
        return {"StartAt": "Enter", "States": {
            "Enter": task(self.enter, Next="Work"),
            "Work": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Leave"},
            "Leave": task(self.leave, End=True)}}  # fmt: skip


def test_given_iterations_that_finish_out_of_order_when_the_map_ends_then_results_keep_the_input_order(
    world: World,
) -> None:
    iterator = {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "SecondsPath": "$.d", "Next": "Tag"},
                                               "Tag": {"Type": "Pass", "Parameters": {"done.$": "$.d"}, "End": True}}}  # fmt: skip

    execution, _ = world.run(map_machine(iterator), {"items": [{"d": 30}, {"d": 10}, {"d": 20}]})

    assert world.output(execution) == [{"done": 30}, {"done": 10}, {"done": 20}]
    finished = [e["mapIterationSucceededEventDetails"]["index"] for e in world.events(execution, "MapIterationSucceeded")]
    assert finished == [1, 2, 0]  # they did finish out of order


@pytest.mark.parametrize(("max_concurrency", "peak", "rounds"), [(2, 2, 3), (1, 1, 5), (0, 5, 1)])
def test_given_max_concurrency_when_items_run_then_no_more_than_that_many_run_at_once(
    world: World, max_concurrency: int, peak: int, rounds: int
) -> None:
    # "a MaxConcurrency value of 10 will limit your Map state to 10 concurrent iterations"; 0 means no limit.
    gauge = Gauge(world)

    execution, described = world.run(map_machine(gauge.iterator(), MaxConcurrency=max_concurrency),
                                      {"items": list(range(5))})  # fmt: skip

    assert described["status"] == "SUCCEEDED"
    assert gauge.peak == peak
    assert world.output(execution) == list(range(5))
    elapsed = seconds(described["stopDate"]) - seconds(described["startDate"])
    assert rounds * 10 <= elapsed < rounds * 11  # each round is the 10 s Wait (and two quick invocations)


def test_given_item_selector_when_iterations_start_then_the_map_context_gives_index_and_value(world: World) -> None:
    selector = {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "shared.$": "$.shared"}
    iterator = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}

    execution, _ = world.run(map_machine(iterator, ItemSelector=selector), {"items": ["a", "b"], "shared": 9})

    assert world.output(execution) == [{"index": 0, "value": "a", "shared": 9}, {"index": 1, "value": "b", "shared": 9}]


def test_given_a_map_when_it_succeeds_then_the_history_has_the_map_events(world: World) -> None:
    iterator = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}

    execution, _ = world.run(map_machine(iterator, MaxConcurrency=1), {"items": ["a", "b"]})

    kinds = [e["type"] for e in world.history(execution)]
    assert kinds == ["ExecutionStarted", "MapStateEntered", "MapStateStarted",
                     "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
                     "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
                     "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]  # fmt: skip
    assert world.details(execution, "MapStateStarted") == [{"length": 2}]
    assert world.details(execution, "MapIterationStarted") == [{"name": "Each", "index": 0}, {"name": "Each", "index": 1}]


def test_given_a_failing_iteration_when_the_map_runs_then_the_map_fails_and_the_others_are_stopped(
    world: World,
) -> None:
    # "If any iteration fails, entire Map state fails, and all iterations are terminated."
    def check(item: dict[str, Any]) -> dict[str, Any]:
        if item["bad"]:
            raise LambdaError("Item.Bad", f"item {item['n']}")
        return item

    checker = world.lambdas.add("check", check)
    iterator = {"StartAt": "Check", "States": {"Check": task(checker, Next="Linger"),
                                               "Linger": {"Type": "Wait", "Seconds": 1000, "End": True}}}  # fmt: skip

    execution, described = world.run(map_machine(iterator), {"items": [{"n": 0, "bad": False}, {"n": 1, "bad": True}]})

    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Item.Bad", "item 1")
    assert seconds(described["stopDate"]) - seconds(described["startDate"]) < 1000  # item 0 did not linger
    world.scheduler.run_idle()  # nothing of item 0 is left to run on, after the execution ended
    kinds = [e["type"] for e in world.history(execution)]
    assert kinds[-4:] == ["MapIterationFailed", "MapIterationAborted", "MapStateFailed", "ExecutionFailed"]
    assert world.details(execution, "MapIterationAborted") == [{"name": "Each", "index": 0}]


def test_given_a_catch_on_the_map_when_an_iteration_fails_then_the_catcher_handles_it(world: World) -> None:
    def check(item: int) -> int:
        if item == 2:
            raise LambdaError("Item.Bad", "two")
        return item

    checker = world.lambdas.add("check", check)
    iterator = {"StartAt": "Check", "States": {"Check": task(checker, End=True)}}
    definition = map_machine(iterator, Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure",
                                               "Next": "Recover"}])  # fmt: skip
    definition["States"]["Each"].pop("End")
    definition["States"]["Recover"] = {"Type": "Pass", "End": True}

    execution, described = world.run(definition, {"items": [1, 2, 3]})

    assert described["status"] == "SUCCEEDED"
    assert world.output(execution) == {"items": [1, 2, 3], "failure": {"Error": "Item.Bad", "Cause": "two"}}


def test_given_a_retry_on_the_map_when_an_iteration_fails_then_every_iteration_runs_again(world: World) -> None:
    # "If you define Retriers for the Map state, the retry policy applies to all the Map state iterations instead of
    # only the failed iterations."
    failures = {"left": 1}

    def flaky(item: int) -> int:
        if item == 1 and failures["left"]:
            failures["left"] -= 1
            raise LambdaError("Flaky")
        return item * 10

    flaky_fn = world.lambdas.add("flaky", flaky)
    iterator = {"StartAt": "Call", "States": {"Call": task(flaky_fn, End=True)}}

    execution, _ = world.run(map_machine(iterator, MaxConcurrency=1, Retry=[{"ErrorEquals": ["Flaky"]}]),
                             {"items": [0, 1, 2]})  # fmt: skip

    assert world.output(execution) == [0, 10, 20]
    assert world.lambdas.payloads("flaky") == [0, 1, 0, 1, 2]  # item 0 ran again


def test_given_a_running_map_when_the_execution_is_stopped_then_every_iteration_is_aborted_before_the_end(
    world: World,
) -> None:
    iterator = {"StartAt": "Linger", "States": {"Linger": {"Type": "Wait", "Seconds": 1000, "End": True}}}
    execution = world.start(world.machine(map_machine(iterator)), {"items": [1, 2, 3]})
    world.scheduler.advance(10)

    world.sfn.stop_execution(executionArn=execution)
    world.scheduler.run_idle()

    assert world.describe(execution)["status"] == "ABORTED"
    events = world.history(execution)
    assert events[-1]["type"] == "ExecutionAborted"
    assert sorted(d["index"] for d in world.details(execution, "MapIterationAborted")) == [0, 1, 2]
    assert not world.events(execution, "MapIterationSucceeded")
