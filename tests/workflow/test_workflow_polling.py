"""The poll loop of the synthesized state machine over a job that runs for days (on the offline world's virtual
clock): the wait between checks grows to its cap, and the execution's history stays far from Step Functions'
25,000-event limit."""

from __future__ import annotations

import itertools

HISTORY_LIMIT = 25_000  # events in one Standard execution's history
SEVEN_DAYS = 7 * 86_400


def _waits_in_history(result, state: str) -> list[float]:
    """Seconds each visit of the Wait state ``state`` took, from the execution's own history."""
    entered: dict[str, object] = {}
    waits = []
    for event in result.history:
        if event["type"] == "WaitStateEntered" and event["stateEnteredEventDetails"]["name"] == state:
            entered["at"] = event["timestamp"]
        elif event["type"] == "WaitStateExited" and event["stateExitedEventDetails"]["name"] == state:
            waits.append((event["timestamp"] - entered.pop("at")).total_seconds())
    return waits


def test_given_a_job_that_runs_seven_days_when_run_then_the_wait_grows_to_its_cap_and_the_history_stays_small(
    offline, dataset_file
):
    pipeline = offline(job_seconds=SEVEN_DAYS)
    polling = pipeline.settings["polling"]
    first, cap = polling["firstWaitSeconds"], polling["maxWaitSeconds"]
    key = pipeline.upload(dataset_file)

    result = pipeline.run({"dataset": key})

    assert result.status == "SUCCEEDED", result.message
    assert result.virtual_seconds >= SEVEN_DAYS
    (started,) = pipeline.invocations_of("start_job")
    checks = [i.result for i in pipeline.invocations_of("check_job")]
    assert all(i.ok for i in pipeline.invocations_of("check_job"))
    assert [c["status"] for c in checks] == ["InProgress"] * (len(checks) - 1) + ["Completed"]
    # The wait before each check: the first from "Start distillation job", then what each check asked for.
    waits = [started.result["waitSeconds"], *(c["waitSeconds"] for c in checks[:-1])]
    assert waits[0] == first
    ramp = list(itertools.takewhile(lambda w: w < cap, waits))
    assert len(ramp) >= 3, waits[:10]  # the default policy needs several checks to reach the cap
    assert all(a < b for a, b in itertools.pairwise(ramp)), ramp  # strictly growing ...
    assert waits[len(ramp) :] == [cap] * (len(waits) - len(ramp)), waits[len(ramp) : len(ramp) + 10]  # ... then capped
    assert len(waits) - len(ramp) > 900  # most of the week is spent at the cap
    # The state machine really waited what the task asked for (SecondsPath), check after check.
    assert _waits_in_history(result, "Wait for the job") == waits
    # The job's end is seen at the next check, at most one capped wait after it.
    assert result.virtual_seconds < SEVEN_DAYS + cap + 300
    # The execution's own history: one wait/check/choice turn per check, far below the service limit.
    assert len(result.history) < HISTORY_LIMIT // 2, len(result.history)
