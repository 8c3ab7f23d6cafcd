"""Job slots against moto's S3, through the handlers: take and release (the failure path too) share one ledger;
tokens are answered through a fake Step Functions; back-off; the limit from the settings or the account's quota."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from distill import clock, job_slot_store, job_slots
from distill.errors import QuotaExceeded
from handlers import back_off_job_slot, release_job_slot
from tests.support.aws_world import BUCKET
from tests.support.job_slot_world import (
    MACHINE,
    S3Between,
    configure,
    in_line,
    new_run,
    read_ledger,
    take,
    use_clients,
)


# --- take and release through the handlers ---------------------------------------------------------------------------
def test_given_a_free_slot_when_a_run_waits_for_one_then_its_token_is_answered_at_once(slots, sfn, quotas):
    run = new_run(slots, "run-1")

    result = take(slots, run, "tok-1")

    assert result["slot"] == "granted" and result["position"] == 0 and result["answered"] is True
    assert sfn.answered["tok-1"] == {"slot": "granted", "position": 0, "waited": False, "waitedSeconds": 0, "limit": 3}
    ledger = read_ledger(slots)
    assert list(ledger.running) == [run["runId"]] and ledger.running[run["runId"]].answered
    assert ledger.limit is not None and (ledger.limit.value, ledger.limit.source) == (3, "quota-applied")
    assert quotas.calls == ["GetServiceQuota"]


def test_given_every_slot_taken_when_runs_wait_then_they_queue_and_each_release_hands_the_slot_on_in_order(
    slots, sfn, monkeypatch
):
    configure(monkeypatch, slots, max_concurrent_jobs=1)
    first, second, third = (new_run(slots, f"run-{n}") for n in range(3))
    take(slots, first, "tok-0")

    queued = [take(slots, second, "tok-1"), take(slots, third, "tok-2")]

    assert [(q["slot"], q["position"], q["answered"]) for q in queued] == [("queued", 1, False), ("queued", 2, False)]
    assert set(sfn.answered) == {"tok-0"}
    assert job_slot_store.queue_position(BUCKET, third["runId"]) == 2

    given_back = release_job_slot.handler({"run": first}, slots.context)

    assert given_back["released"] is True and given_back["handedTo"] == [second["runId"]]
    assert sfn.answered["tok-1"]["waited"] is True and "tok-2" not in sfn.answered
    assert job_slot_store.queue_position(BUCKET, third["runId"]) == 1
    assert release_job_slot.handler({"run": second}, slots.context)["handedTo"] == [third["runId"]]
    assert (read_ledger(slots).limit.value, read_ledger(slots).limit.source) == (1, "config")  # type: ignore[union-attr]


def test_given_the_first_in_line_is_gone_when_a_slot_is_freed_then_it_is_dropped_and_the_next_gets_the_slot(
    slots, sfn, monkeypatch
):
    holder, gone, next_one = in_line(slots, monkeypatch)
    sfn.closed.add("tok-1")  # its task timed out

    result = release_job_slot.handler({"run": holder}, slots.context)

    assert result["dropped"] == [gone["runId"]] and result["handedTo"] == [next_one["runId"]]
    assert list(read_ledger(slots).running) == [next_one["runId"]] and read_ledger(slots).counters.dropped == 1


def test_given_a_task_that_timed_out_before_its_function_ran_when_it_takes_then_nothing_is_held_for_it(slots, sfn):
    sfn.closed.add("tok-late")

    result = take(slots, new_run(slots, "run-0"), "tok-late")

    assert (result["slot"], result["position"], result["dropped"]) == ("gone", None, [new_run(slots, "run-0")["runId"]])
    assert read_ledger(slots).running == {} and read_ledger(slots).waiting == []


def test_given_status_reads_the_queue_when_the_ledger_may_not_be_read_then_access_denied_is_raised(slots, sfn, quotas):
    use_clients(slots, S3Between(slots.s3, no_list_bucket=True), sfn, quotas)

    with pytest.raises(ClientError, match="AccessDenied"):
        job_slot_store.queue_position(BUCKET, MACHINE + "run-0")


def test_given_a_retried_waiting_task_when_it_takes_again_then_the_run_keeps_its_place_and_the_new_token_is_used(
    slots, sfn, monkeypatch
):
    holder, first, _second = in_line(slots, monkeypatch)
    sfn.closed.add("tok-1")

    again = take(slots, first, "tok-1-retry")
    release_job_slot.handler({"run": holder}, slots.context)

    assert again["slot"] == "queued" and again["position"] == 1
    assert "tok-1-retry" in sfn.answered and "tok-2" not in sfn.answered


def test_given_a_run_holding_a_slot_when_its_task_is_retried_then_the_new_token_is_answered_without_a_second_slot(
    slots, sfn, monkeypatch
):
    run, _other = in_line(slots, monkeypatch, count=2)

    again = take(slots, run, "tok-0-retry")

    assert again["slot"] == "granted" and again["answered"] is True and "tok-1" not in sfn.answered
    assert list(read_ledger(slots).running) == [run["runId"]]


def test_given_a_run_that_failed_while_in_line_when_the_failure_path_releases_by_execution_then_it_leaves_the_line(
    slots, sfn, monkeypatch
):
    holder, failed = in_line(slots, monkeypatch, count=2)

    first = job_slot_store.release(slots.settings, failed["executionArn"])
    second = job_slot_store.release(slots.settings, failed["executionArn"])

    assert (first["released"], first["leftTheLine"]) == (False, True)
    assert (second["released"], second["leftTheLine"]) == (False, False)
    assert read_ledger(slots).waiting == [] and list(read_ledger(slots).running) == [holder["runId"]]


def test_given_no_ledger_when_a_run_that_never_queued_is_released_then_nothing_is_written(slots, sfn, quotas):
    result = job_slot_store.release(slots.settings, MACHINE + "never-queued")

    assert result["released"] is False and slots.keys("queue/") == [] and quotas.calls == []


# --- back off and queue again ---------------------------------------------------------------------------------------
def test_given_bedrock_refused_the_job_for_the_quota_when_backing_off_then_the_slot_moves_on_and_the_wait_grows(
    slots, sfn, monkeypatch
):
    configure(monkeypatch, slots, max_concurrent_jobs=1)
    refused, waiting = new_run(slots, "run-0"), new_run(slots, "run-1")
    take(slots, refused, "tok-0")
    take(slots, waiting, "tok-1")

    first = back_off_job_slot.handler({"run": refused}, slots.context)
    take(slots, refused, "tok-0-again")
    release_job_slot.handler({"run": waiting}, slots.context)
    second = back_off_job_slot.handler({"run": refused, "attempt": first["attempt"]}, slots.context)

    assert (first["attempt"], first["waitSeconds"], first["released"]) == (1, 300, True)
    assert first["handedTo"] == [waiting["runId"]]
    assert "tok-0-again" in sfn.answered and (second["attempt"], second["waitSeconds"]) == (2, 600)
    assert read_ledger(slots).counters.backed_off == 2


def test_given_a_run_that_backed_off_too_often_when_refused_again_then_it_fails_with_quota_exceeded_and_frees_its_slot(
    slots, sfn
):
    run = new_run(slots, "run-0")
    take(slots, run, "tok-0")

    with pytest.raises(QuotaExceeded, match="after 24 back-offs"):
        back_off_job_slot.handler({"run": run, "attempt": job_slots.MAX_BACKOFFS}, slots.context)

    assert read_ledger(slots).running == {}


# --- the limit ------------------------------------------------------------------------------------------------------
def test_given_the_quota_cannot_be_read_when_the_limit_is_needed_then_the_safe_default_is_used_and_why_recorded(
    slots, quotas
):
    quotas.applied, quotas.default = "AccessDeniedException", "NoSuchResourceException"

    take(slots, new_run(slots, "run-0"), "tok-0")

    limit = read_ledger(slots).limit
    assert limit is not None and (limit.value, limit.source) == (job_slots.SAFE_DEFAULT_LIMIT, "fallback")
    assert "AccessDeniedException" in limit.reason and "NoSuchResourceException" in limit.reason


def test_given_no_applied_value_when_the_limit_is_needed_then_the_default_value_is_used(slots, quotas):
    quotas.applied = "NoSuchResourceException"

    take(slots, new_run(slots, "run-0"), "tok-0")

    limit = read_ledger(slots).limit
    assert limit is not None and (limit.value, limit.source) == (2, "quota-default")
    assert quotas.calls == ["GetServiceQuota", "GetAWSDefaultServiceQuota"]


def test_given_a_quota_read_in_the_ledger_when_runs_take_then_it_is_read_again_only_after_a_day(slots, quotas):
    now = [1_000_000.0]
    with clock.use(lambda: now[0], lambda s: None):
        take(slots, new_run(slots, "run-0"), "tok-0")
        take(slots, new_run(slots, "run-1"), "tok-1")
        assert quotas.calls == ["GetServiceQuota"]
        quotas.applied = 5.0
        now[0] += job_slots.QUOTA_TTL_SECONDS
        take(slots, new_run(slots, "run-2"), "tok-2")

    assert quotas.calls == ["GetServiceQuota"] * 2 and read_ledger(slots).limit.value == 5  # type: ignore[union-attr]
