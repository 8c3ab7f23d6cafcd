"""The job-slot ledger under contention and after crashes: conditional writes retried on the new ledger, bounded
retries, settling after tokens were sent, a first write without s3:ListBucket, redelivery of unsent grants, the
janitor's sweep of runs that ended without giving their slot back, and many runs in threads at once."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from distill import aws, clock, job_slot_store, job_slots
from distill.errors import JobSlotsBusy
from handlers import release_job_slot
from tests.support.aws_world import BUCKET
from tests.support.job_slot_world import (
    LEDGER,
    MACHINE,
    S3Between,
    client_error,
    configure,
    new_run,
    read_ledger,
    take,
    use_clients,
)


# --- the conditional writes -----------------------------------------------------------------------------------------
def test_given_another_writer_gets_in_first_when_the_ledger_is_written_then_the_write_is_retried_on_the_new_ledger(
    slots, sfn, quotas
):
    first = new_run(slots, "run-0")
    take(slots, first, "tok-0")
    sneaked: list[bool] = []

    def other_writer(params: dict[str, Any]) -> None:
        if not sneaked:  # once: another run takes a slot between our read and our write
            sneaked.append(True)
            with aws.clients_from({"s3": slots.s3, "stepfunctions": sfn, "service-quotas": quotas}.__getitem__):
                take(slots, new_run(slots, "run-1"), "tok-1")

    racing = S3Between(slots.s3, before_put=other_writer)
    use_clients(slots, racing, sfn, quotas)
    with clock.use(time.time, lambda s: None):
        take(slots, new_run(slots, "run-2"), "tok-2")

    assert {r.split("-")[0] + "-" + r.split("-")[1] for r in read_ledger(slots).running} == {"run-0", "run-1", "run-2"}
    assert [p.get("IfMatch") is not None for p in racing.puts] == [True, True, True]  # lost once, then won


def test_given_the_ledger_keeps_changing_when_writing_then_the_retries_end_with_job_slots_busy(slots, sfn, quotas):
    now = [1_000_000.0]
    with clock.use(lambda: now[0], lambda s: None):
        take(slots, new_run(slots, "run-0"), "tok-0")
    now[0] += job_slots.QUOTA_TTL_SECONDS  # the limit is due again: read once for all the retries

    def always_first(params: dict[str, Any]) -> None:  # another writer changes the ledger every time
        ledger = read_ledger(slots)
        ledger.updated_at += 1
        slots.s3.put_object(Bucket=BUCKET, Key=LEDGER, Body=job_slots.encode(ledger))

    run = new_run(slots, "run-1")
    use_clients(slots, S3Between(slots.s3, before_put=always_first), sfn, quotas)
    with clock.use(lambda: now[0], lambda s: None), pytest.raises(JobSlotsBusy, match="12 conditional writes"):
        take(slots, run, "tok-1")

    assert quotas.calls == ["GetServiceQuota", "GetServiceQuota"] and "tok-1" not in sfn.answered


def test_given_the_ledger_keeps_changing_after_tokens_were_sent_when_settling_then_the_release_still_succeeds(
    slots, sfn, quotas, monkeypatch
):
    configure(monkeypatch, slots, max_concurrent_jobs=1)
    holder, waiting = new_run(slots, "run-0"), new_run(slots, "run-1")
    take(slots, holder, "tok-0")
    take(slots, waiting, "tok-1")
    writes: list[int] = []

    def busy_after_the_first_write(params: dict[str, Any]) -> None:
        writes.append(1)
        if len(writes) > 1:  # the release is written; every settle write then loses
            ledger = read_ledger(slots)
            ledger.updated_at += 1
            slots.s3.put_object(Bucket=BUCKET, Key=LEDGER, Body=job_slots.encode(ledger))

    use_clients(slots, S3Between(slots.s3, before_put=busy_after_the_first_write), sfn, quotas)
    with clock.use(time.time, lambda s: None):
        result = release_job_slot.handler({"run": holder}, slots.context)

    assert result["released"] is True and result["unsettled"] is True and result["handedTo"] == [waiting["runId"]]
    assert "tok-1" in sfn.answered
    ledger = read_ledger(slots)
    assert list(ledger.running) == [waiting["runId"]] and not ledger.running[waiting["runId"]].answered


def test_given_no_list_bucket_permission_when_the_first_run_takes_then_the_ledger_is_created_with_if_none_match(
    slots, sfn, quotas
):
    denied = S3Between(slots.s3, no_list_bucket=True)
    use_clients(slots, denied, sfn, quotas)

    result = take(slots, new_run(slots, "run-0"), "tok-0")

    assert result["slot"] == "granted" and denied.puts[0]["IfNoneMatch"] == "*"
    assert [p.get("IfMatch") is not None for p in denied.puts[1:]] == [True] * (len(denied.puts) - 1)


def test_given_a_ledger_the_function_may_not_read_when_a_run_takes_then_access_denied_is_raised(slots, sfn, quotas):
    take(slots, new_run(slots, "run-0"), "tok-0")

    class Unreadable(S3Between):
        def get_object(self, **params: Any) -> Any:
            raise client_error("AccessDenied", "GetObject", 403)

    use_clients(slots, Unreadable(slots.s3), sfn, quotas)
    with pytest.raises(ClientError, match="AccessDenied"):
        take(slots, new_run(slots, "run-1"), "tok-1")


# --- crashes and runs that ended without giving their slot back -----------------------------------------------------
def test_given_a_grant_whose_token_could_not_be_sent_when_a_later_operation_comes_then_it_is_sent_again(slots, sfn):
    now = [1_000_000.0]
    run = new_run(slots, "run-0")
    sfn.throttled.add("tok-0")
    with clock.use(lambda: now[0], lambda s: None):
        first = take(slots, run, "tok-0")
        sfn.throttled.clear()
        soon = job_slot_store.release(slots.settings, "someone-else")
        now[0] += job_slots.REDELIVER_AFTER_SECONDS
        later = job_slot_store.release(slots.settings, "someone-else")

    assert (first["slot"], first["answered"], first["undelivered"]) == ("granted", False, [run["runId"]])
    assert soon["handedTo"] == [] and later["handedTo"] == [run["runId"]]
    assert sfn.answered["tok-0"]["slot"] == "granted"
    ledger = read_ledger(slots)
    assert ledger.running[run["runId"]].answered and ledger.counters.redelivered == 1


def test_given_a_run_that_ended_without_giving_its_slot_back_when_the_hourly_sweep_runs_then_the_slot_is_freed(
    slots, sfn, monkeypatch
):
    configure(monkeypatch, slots, max_concurrent_jobs=1)
    now = [1_000_000.0]
    lost, waiting = new_run(slots, "run-0"), new_run(slots, "run-1")
    with clock.use(lambda: now[0], lambda s: None):
        take(slots, lost, "tok-0")
        take(slots, waiting, "tok-1")
        sfn.executions[lost["executionArn"]] = "ABORTED"  # and the failure notifier never ran
        now[0] += job_slots.SWEEP_EVERY_SECONDS
        swept = job_slot_store.sweep(slots.settings)  # as the hourly janitor does

    assert swept["handedTo"] == [waiting["runId"]] and sfn.described == [lost["executionArn"]]
    assert swept["swept"] == [lost["runId"]]
    assert read_ledger(slots).counters.swept == 1


# --- many runs at once ----------------------------------------------------------------------------------------------
def test_given_many_runs_in_threads_when_they_take_and_release_at_once_then_the_limit_holds_and_every_run_runs_once(
    slots, sfn, quotas
):
    limit, runs = 3, 16
    use_clients(slots, S3Between(slots.s3, atomic=True), sfn, quotas)
    active, most, errors = [0], [0], []
    lock = threading.Lock()

    def retried(operation: Any) -> Any:  # as the state machine retries JobSlotsBusy: again, after a jittered wait
        for _ in range(100):  # all sixteen start in the same instant, on a machine the other tests keep busy
            try:
                return operation()
            except JobSlotsBusy:
                time.sleep(random.uniform(0, 0.01))
        raise AssertionError("still busy")

    def one_run(n: int) -> None:
        run_id, token = f"run-{n}", f"tok-{n}"
        try:
            retried(lambda: job_slot_store.take(slots.settings, run_id, token, MACHINE + run_id, limit))
            sfn.answer_of(token)  # waits, without polling, until a release hands it the slot
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            clock.sleep(0.01)  # the job
            with lock:
                active[0] -= 1
            retried(lambda: job_slot_store.release(slots.settings, run_id))
        except BaseException as error:  # reported below, with the thread's run
            errors.append((run_id, error))

    threads = [threading.Thread(target=one_run, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == [] and not any(t.is_alive() for t in threads)
    assert 1 <= most[0] <= limit
    assert sorted(sfn.answered) == sorted(f"tok-{n}" for n in range(runs))
    ledger = read_ledger(slots)
    assert ledger.running == {} and ledger.waiting == []
    assert (ledger.counters.taken, ledger.counters.granted, ledger.counters.released) == (runs, runs, runs)
