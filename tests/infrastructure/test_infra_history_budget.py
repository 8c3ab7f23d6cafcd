"""A long job must not exhaust a Standard execution's 25,000-event history, nor be noticed late."""

from __future__ import annotations

from distill.polling import next_wait_seconds

# History events one turn of wait -> check -> choice adds.
WAIT_EVENTS = 2  # WaitStateEntered, WaitStateExited
TASK_EVENTS = 5  # TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited
CHOICE_EVENTS = 2  # ChoiceStateEntered, ChoiceStateExited
EVENTS_PER_LOOP = WAIT_EVENTS + TASK_EVENTS + CHOICE_EVENTS
# Everything outside the loops: execution started/succeeded, four tasks, two choices, two passes, succeed.
FIXED_EVENTS = 2 + 4 * TASK_EVENTS + 2 * CHOICE_EVENTS + 2 * 2 + 2
HISTORY_LIMIT = 25_000
SEVEN_DAYS = 7 * 24 * 3600


def _waits_until(seconds: float, policy) -> list[int]:
    """The waits the poll loop makes before it first sees a job that ends after ``seconds``: the first from
    "Start distillation job" (checks=0), then one per "Check distillation job"."""
    waits: list[int] = []
    while sum(waits) < seconds:
        waits.append(next_wait_seconds(len(waits), policy))
    return waits


def test_given_default_polling_when_a_job_runs_seven_days_then_history_stays_small_and_the_end_is_seen_soon(synth):
    policy = synth.config.polling
    waits = _waits_until(SEVEN_DAYS, policy)
    events = FIXED_EVENTS + EVENTS_PER_LOOP * len(waits)
    assert events <= 10_000, events
    # The job's end is noticed at the next check: never more than 10 minutes after it happens.
    assert max(waits) <= 600
    assert waits[0] == policy.first_wait_seconds
    assert waits == sorted(waits)  # the wait only grows


def test_given_default_polling_when_the_execution_runs_until_its_timeout_then_history_stays_under_the_limit(synth):
    policy = synth.config.polling
    timeout = synth.config.execution_timeout_hours * 3600
    # Worst case: both loops share the timeout and the throughput loop starts its short waits over again.
    job_loops = len(_waits_until(timeout, policy))
    ramp = sum(1 for n in range(200) if next_wait_seconds(n, policy) < policy.max_wait_seconds)
    events = FIXED_EVENTS + EVENTS_PER_LOOP * (job_loops + ramp + 1)
    assert events < HISTORY_LIMIT, events


def test_given_the_machine_timeout_when_compared_with_the_loop_then_it_is_shorter_than_a_year(synth):
    assert synth.definition["TimeoutSeconds"] <= 365 * 24 * 3600
