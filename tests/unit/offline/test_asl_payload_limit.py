"""The 256 KiB payload quota: "Maximum input or output size for a task, state, or execution: 256 KiB of data as a
UTF-8 encoded string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), and
States.DataLimitExceeded, "a terminal error that can't be caught by the States.ALL error type"
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.offline.sfn_world import World, task

LIMIT = 262_144  # 256 KiB


def json_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def returning(world: World, result: Any) -> dict[str, Any]:
    """A task returning ``result``, with a States.ALL catcher that must not catch States.DataLimitExceeded."""
    big = world.lambdas.add("big", lambda _payload: result)
    return {"StartAt": "Work", "States": {
        "Work": task(big, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": {"Type": "Succeed"}}}  # fmt: skip


@pytest.mark.parametrize(
    ("result", "size"),
    [("x" * (LIMIT - 2), LIMIT), ("x" * (LIMIT - 1), LIMIT + 1),
     # é is 2 bytes in UTF-8 (and 6 as a \u00e9 escape): the quota counts UTF-8 bytes.
     ("é" * ((LIMIT - 2) // 2), LIMIT), ("é" * ((LIMIT - 2) // 2 + 1), LIMIT + 2)],
    ids=["ascii-at-limit", "ascii-one-over", "multibyte-at-limit", "multibyte-one-over"],
)
def test_given_a_task_result_near_256_kib_when_returned_then_only_one_over_the_limit_fails(
    world: World, result: str, size: int
) -> None:
    assert json_bytes(result) == size  # the quoted JSON string
    fails = size > LIMIT

    execution, described = world.run(returning(world, result))

    if fails:
        assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
        assert not world.events(execution, "SucceedStateEntered")  # the States.ALL catcher did not catch it
    else:
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == result


def test_given_a_state_output_over_256_kib_when_a_pass_state_builds_it_then_the_execution_fails(world: World) -> None:
    half = "y" * (LIMIT // 2)  # the input itself is within the quota; the state's output is not
    definition = {"StartAt": "Double", "States": {
        "Double": {"Type": "Pass", "Parameters": {"both.$": "States.Array($.half, $.half)"}, "End": True}}}

    _, described = world.run(definition, {"half": half})

    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_given_parameters_that_build_a_task_input_over_256_kib_when_the_task_starts_then_it_fails_before_calling(
    world: World,
) -> None:
    # "When, after Parameters processing, the input of a state is larger than the payload size quota".
    called = world.lambdas.add("called", lambda _payload: {})
    definition = {"StartAt": "Work", "States": {
        "Work": task(called, Parameters={"a.$": "$.half", "b.$": "$.half"},
                     Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], End=True),
        "Caught": {"Type": "Succeed"}}}  # fmt: skip

    _, described = world.run(definition, {"half": "z" * (LIMIT // 2)})

    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert world.lambdas.payloads("called") == []
