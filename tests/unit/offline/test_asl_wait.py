"""Wait states on the virtual clock: https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.offline.sfn_world import START, World, seconds, single


def waited(world: World, execution: str) -> float:
    (entered,) = world.events(execution, "WaitStateEntered")
    (exited,) = world.events(execution, "WaitStateExited")
    return seconds(exited["timestamp"]) - seconds(entered["timestamp"])


def test_given_wait_seconds_when_run_then_the_clock_moves_by_exactly_that_much(world: World) -> None:
    execution, described = world.run(single({"Type": "Wait", "Seconds": 3600}), {"keep": True})

    assert waited(world, execution) == 3600
    assert seconds(described["stopDate"]) - seconds(described["startDate"]) == 3600
    assert world.output(execution) == {"keep": True}  # a Wait passes its input on


def test_given_seconds_path_when_run_then_the_wait_comes_from_the_input(world: World) -> None:
    execution, _ = world.run(single({"Type": "Wait", "SecondsPath": "$.delay"}), {"delay": 90})

    assert waited(world, execution) == 90


@pytest.mark.parametrize("delay", [1.5, "10", True, -1, None])
def test_given_seconds_path_that_is_not_a_non_negative_integer_when_run_then_the_execution_fails(
    world: World, delay: Any
) -> None:
    # SecondsPath: "You must specify an integer value for this field" (Wait state doc).
    _, described = world.run(single({"Type": "Wait", "SecondsPath": "$.delay"}), {"delay": delay})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"


def test_given_seconds_path_that_is_missing_when_run_then_it_is_states_runtime_naming_the_path(world: World) -> None:
    _, described = world.run(single({"Type": "Wait", "SecondsPath": "$.nowhere"}), {})

    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "$.nowhere" in described["cause"]


def test_given_a_timestamp_when_run_then_the_wait_ends_exactly_at_it(world: World) -> None:
    until = datetime.fromtimestamp(START + 86_400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    execution, _ = world.run(single({"Type": "Wait", "Timestamp": until}))

    (exited,) = world.events(execution, "WaitStateExited")
    assert seconds(exited["timestamp"]) == START + 86_400


def test_given_a_timestamp_path_in_the_past_when_run_then_it_does_not_wait(world: World) -> None:
    execution, _ = world.run(single({"Type": "Wait", "TimestampPath": "$.at"}), {"at": "2016-03-14T01:59:00Z"})

    assert waited(world, execution) == 0


def test_given_waits_in_sequence_when_run_then_their_durations_add_up(world: World) -> None:
    definition = {"StartAt": "One", "States": {"One": {"Type": "Wait", "Seconds": 5, "Next": "Two"},
                                               "Two": {"Type": "Wait", "Seconds": 7, "End": True}}}  # fmt: skip

    _, described = world.run(definition)

    assert seconds(described["stopDate"]) - seconds(described["startDate"]) == 12
