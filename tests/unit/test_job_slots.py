"""The job-slot ledger's rules (distill.job_slots), without AWS: who gets a slot, who waits, in which order, what
a release, a settled grant, a sweep and the limit do (every interleaving: test_job_slots_interleavings.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distill import job_slots
from distill.job_slots import Grant, Ledger, Limit

ARN = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:{}"


def _ledger(limit: int = 2) -> Ledger:
    return Ledger(limit=Limit(value=limit, source="config"))


def _take(ledger: Ledger, run: str, token: str | None = None, now: int = 0) -> tuple[Ledger, list[Grant]]:
    return job_slots.take(ledger, run, token or f"tok-{run}", now, ARN.format(run))


def _delivered(ledger: Ledger, grants: list[Grant], now: int = 0) -> Ledger:
    return job_slots.settle(ledger, [(g, "delivered") for g in grants], now)[0]


def _full(limit: int = 2, waiting: int = 0) -> Ledger:
    """``limit`` runs r0.. holding (answered) slots and ``waiting`` runs w0.. in line."""
    ledger = _ledger(limit)
    for n in range(limit):
        ledger, grants = _take(ledger, f"r{n}")
        ledger = _delivered(ledger, grants)
    for n in range(waiting):
        ledger, _ = _take(ledger, f"w{n}", now=10 + n)
    return ledger


# --- take ---------------------------------------------------------------------------------------------------------
def test_given_a_free_slot_when_a_run_takes_then_it_is_granted_at_once_and_has_not_waited():
    ledger, grants = _take(_ledger(2), "a", now=100)

    assert grants == [Grant("a", "tok-a", waited=False, waited_seconds=0)]
    assert job_slots.position(ledger, "a") == 0
    holder = ledger.running["a"]
    assert (holder.token, holder.answered, holder.execution_arn) == ("tok-a", False, ARN.format("a"))
    assert grants[0].output(ledger) == {"slot": "granted", "position": 0, "waited": False, "waitedSeconds": 0,
                                        "limit": 2}  # fmt: skip


def test_given_every_slot_held_when_runs_take_then_they_queue_in_arrival_order_and_nothing_is_granted():
    ledger = _full(2)

    ledger, first = _take(ledger, "x")
    ledger, second = _take(ledger, "y")

    assert first == second == []
    assert [w.run_id for w in ledger.waiting] == ["x", "y"]
    assert (job_slots.position(ledger, "x"), job_slots.position(ledger, "y")) == (1, 2)


def test_given_a_run_in_line_when_its_task_is_retried_then_it_keeps_its_place_with_the_new_token():
    ledger = _full(1, waiting=3)

    ledger, grants = _take(ledger, "w1", token="tok-w1-again")

    assert grants == []
    assert [(w.run_id, w.token) for w in ledger.waiting] == [("w0", "tok-w0"), ("w1", "tok-w1-again"),
                                                             ("w2", "tok-w2")]  # fmt: skip


def test_given_a_run_holding_a_slot_when_its_task_is_retried_then_the_new_token_is_answered_and_no_slot_is_added():
    ledger = _full(2, waiting=1)

    ledger, grants = _take(ledger, "r0", token="tok-r0-again")

    assert grants == [Grant("r0", "tok-r0-again", waited=False, first_send=False)]
    assert len(ledger.running) == 2 and [w.run_id for w in ledger.waiting] == ["w0"]


def test_given_a_run_holding_a_slot_when_the_same_token_takes_again_then_nothing_is_sent_twice():
    ledger, _ = _take(_ledger(2), "a")

    again, grants = _take(ledger, "a")

    assert grants == [] and again == ledger


# --- release ------------------------------------------------------------------------------------------------------
def test_given_runs_in_line_when_a_slot_is_given_back_then_the_first_in_line_gets_it_and_has_waited():
    ledger = _full(2, waiting=2)

    ledger, grants = job_slots.release(ledger, ["r1"], now=50)

    assert grants == [Grant("w0", "tok-w0", waited=True, waited_seconds=40)]
    assert set(ledger.running) == {"r0", "w0"} and [w.run_id for w in ledger.waiting] == ["w1"]


def test_given_a_run_in_line_when_it_ends_then_it_leaves_the_line_and_no_slot_moves():
    ledger = _full(2, waiting=3)

    ledger, grants = job_slots.release(ledger, ["w1"], now=50)

    assert grants == [] and [w.run_id for w in ledger.waiting] == ["w0", "w2"]


def test_given_a_released_run_when_released_again_then_nothing_changes():
    once, _ = job_slots.release(_full(2, waiting=1), ["r0"], now=50)
    once = _delivered(once, [Grant("w0", "tok-w0", waited=True, waited_seconds=40)])

    twice, grants = job_slots.release(once, ["r0"], now=60)

    assert grants == [] and twice == once


def test_given_a_lowered_limit_when_a_slot_is_given_back_then_no_slot_is_handed_on_until_under_the_limit():
    ledger = job_slots.with_limit(_full(3, waiting=1), Limit(value=1, source="config"))

    ledger, grants = job_slots.release(ledger, ["r0"], now=50)
    assert grants == [] and len(ledger.running) == 2
    ledger, grants = job_slots.release(ledger, ["r1"], now=51)
    assert grants == []
    ledger, grants = job_slots.release(ledger, ["r2"], now=52)
    assert [g.run_id for g in grants] == ["w0"]


# --- settling what was sent ---------------------------------------------------------------------------------------
def test_given_a_grant_whose_task_is_gone_when_settled_then_its_slot_goes_to_the_next_in_line():
    ledger, grants = job_slots.release(_full(1, waiting=2), ["r0"], now=50)

    ledger, more = job_slots.settle(ledger, [(grants[0], "closed")], now=51)

    assert "w0" not in ledger.running and ledger.counters.dropped == 1
    assert more == [Grant("w1", "tok-w1", waited=True, waited_seconds=40)] and "w1" in ledger.running


def test_given_a_resent_token_answered_closed_when_settled_then_the_slot_is_kept_and_only_marked_answered():
    ledger, _ = _take(_ledger(1), "a", now=0)
    (again,) = job_slots.redeliveries(ledger, now=job_slots.REDELIVER_AFTER_SECONDS)

    ledger, more = job_slots.settle(ledger, [(again, "closed")], now=job_slots.REDELIVER_AFTER_SECONDS)

    assert more == [] and ledger.running["a"].answered and ledger.running["a"].token is None
    assert ledger.counters.redelivered == 1 and ledger.counters.dropped == 0


def test_given_a_holder_with_a_newer_token_when_the_old_grant_settles_closed_then_the_slot_is_kept():
    ledger, (first,) = _take(_ledger(1), "a", token="old")
    ledger, _ = _take(ledger, "a", token="new")

    ledger, _ = job_slots.settle(ledger, [(first, "closed")], now=1)

    assert ledger.running["a"].token == "new" and not ledger.running["a"].answered


def test_given_a_send_that_failed_when_settled_then_the_grant_stays_unanswered_for_a_redelivery():
    ledger, grants = _take(_ledger(1), "a", now=0)

    ledger, _ = job_slots.settle(ledger, [(grants[0], "failed")], now=0)

    assert not ledger.running["a"].answered
    assert job_slots.redeliveries(ledger, now=job_slots.REDELIVER_AFTER_SECONDS - 1) == []
    assert [g.token for g in job_slots.redeliveries(ledger, now=job_slots.REDELIVER_AFTER_SECONDS)] == ["tok-a"]


# --- position -----------------------------------------------------------------------------------------------------
def test_given_holders_and_a_line_when_positions_are_asked_then_0_is_a_slot_n_the_place_and_none_unknown():
    ledger = _full(2, waiting=2)

    assert [job_slots.position(ledger, r) for r in ("r0", "r1", "w0", "w1", "nobody")] == [0, 0, 1, 2, None]
    assert job_slots.position(ledger, ARN.format("w1")) == 2
    assert job_slots.run_ids(ledger, ARN.format("r1")) == ["r1"]


# --- sweeping runs that ended without giving their slot back -------------------------------------------------------
def test_given_old_slots_when_a_sweep_is_due_then_they_are_checked_and_ended_ones_freed():
    ledger = _full(2, waiting=1)
    now = job_slots.SWEEP_EVERY_SECONDS

    checks = job_slots.sweep_due(ledger, now)
    ledger, grants = job_slots.swept(ledger, ["r1"], now)

    assert checks == [("r0", ARN.format("r0")), ("r1", ARN.format("r1"))]
    assert [g.run_id for g in grants] == ["w0"] and ledger.counters.swept == 1
    assert job_slots.sweep_due(ledger, now + 1) == []


# --- the limit ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "configured", "now", "due"),
    [
        (None, 3, 0, True),
        (Limit(value=3, source="config"), 3, 10**9, False),
        (Limit(value=3, source="config"), 4, 0, True),
        (Limit(value=3, source="config"), "auto", 0, True),
        (Limit(value=3, source="quota-applied", checked_at=0), 3, 0, True),
        (Limit(value=3, source="quota-applied", checked_at=0), "auto", job_slots.QUOTA_TTL_SECONDS - 1, False),
        (Limit(value=3, source="quota-default", checked_at=0), "auto", job_slots.QUOTA_TTL_SECONDS, True),
        (Limit(value=2, source="fallback", checked_at=0), "auto", job_slots.FALLBACK_TTL_SECONDS - 1, False),
        (Limit(value=2, source="fallback", checked_at=0), "auto", job_slots.FALLBACK_TTL_SECONDS, True),
    ],
)
def test_given_a_limit_in_the_ledger_when_checked_then_it_is_worked_out_again_only_when_stale_or_reconfigured(
    current: Limit | None, configured: Any, now: int, due: bool
):
    assert job_slots.limit_due(current, configured, now) is due


@pytest.mark.parametrize(
    ("applied", "default", "value", "source"),
    [(4.0, None, 4, "quota-applied"), (None, 3.0, 3, "quota-default"), (0.0, None, 1, "quota-applied"),
     (None, None, job_slots.SAFE_DEFAULT_LIMIT, "fallback")],
)  # fmt: skip
def test_given_quota_readings_when_the_limit_is_made_then_applied_beats_default_beats_the_safe_default(
    applied: float | None, default: float | None, value: int, source: str
):
    limit = job_slots.quota_limit(applied, default, ["get_service_quota: AccessDeniedException"], now=7)

    assert (limit.value, limit.source, limit.checked_at) == (value, source, 7)
    assert job_slots.QUOTA_CODE in limit.reason
    if source == "fallback":
        assert "AccessDeniedException" in limit.reason


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "3", "AUTO", None])
def test_given_a_bad_max_concurrent_jobs_when_checked_then_the_error_names_the_setting(bad: Any):
    with pytest.raises(ValueError, match="maxConcurrentJobs"):
        job_slots.check_configured(bad)


def test_given_back_off_attempts_when_counted_then_waits_double_from_5_minutes_up_to_an_hour():
    assert [job_slots.back_off_seconds(n) for n in range(1, 8)] == [300, 600, 1200, 2400, 3600, 3600, 3600]


@given(st.integers(min_value=1, max_value=10**6))
def test_given_any_attempt_when_backing_off_then_the_wait_grows_and_stays_within_5_minutes_and_an_hour(n: int):
    wait = job_slots.back_off_seconds(n)
    assert job_slots.FIRST_BACKOFF_SECONDS <= wait <= job_slots.MAX_BACKOFF_SECONDS
    assert wait <= job_slots.back_off_seconds(n + 1)
