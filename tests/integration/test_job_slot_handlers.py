"""Job slots against moto's S3: the three handlers and the failure path share one ledger, changed only by
conditional writes; tokens are answered through a fake Step Functions that knows which tasks are gone; the limit
comes from the settings or the account's quota (a fake Service Quotas)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from botocore.exceptions import ClientError

from distill import aws, clock, job_slot_store, job_slots
from distill.errors import JobSlotsBusy, QuotaExceeded
from distill.settings import SETTINGS_ENV, load_settings
from handlers import back_off_job_slot, check_run_settings, release_job_slot, take_job_slot
from tests.support.aws_world import BUCKET, World

LEDGER = "queue/ledger.json"
MACHINE = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:"


def _error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)  # fmt: skip


class StepFunctions:
    """A fake with behaviour: a token answers once (then TaskTimedOut, as AWS says for a closed task); tokens in
    ``closed`` belong to tasks that timed out or runs that ended; tokens in ``throttled`` fail for now.
    ``executions`` gives DescribeExecution's status (RUNNING when not listed). Thread-safe."""

    def __init__(self) -> None:
        self.answered: dict[str, Any] = {}
        self.closed: set[str] = set()
        self.throttled: set[str] = set()
        self.executions: dict[str, str] = {}
        self.described: list[str] = []
        self.lock = threading.Lock()
        self.events: dict[str, threading.Event] = {}

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        with self.lock:
            if taskToken in self.throttled:
                raise _error("ThrottlingException", "SendTaskSuccess")
            if taskToken in self.answered or taskToken in self.closed:
                raise _error("TaskTimedOut", "SendTaskSuccess")
            self.answered[taskToken] = json.loads(output)
            event = self.events.setdefault(taskToken, threading.Event())
        event.set()
        return {}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.described.append(executionArn)
        return {"executionArn": executionArn, "status": self.executions.get(executionArn, "RUNNING")}

    def answer_of(self, token: str, timeout: float = 30.0) -> dict[str, Any]:
        with self.lock:
            event = self.events.setdefault(token, threading.Event())
        assert event.wait(timeout), f"{token} was never answered"
        return dict(self.answered[token])


class ServiceQuotas:
    """A fake: ``applied``/``default`` are the values, or an error code to raise. Counts the calls."""

    def __init__(self, applied: float | str = 3.0, default: float | str = 2.0) -> None:
        self.applied, self.default = applied, default
        self.calls: list[str] = []

    def _quota(self, value: float | str, operation: str, **params: str) -> dict[str, Any]:
        self.calls.append(operation)
        assert params == {"ServiceCode": "bedrock", "QuotaCode": "L-0406044C"}
        if isinstance(value, str):
            raise _error(value, operation)
        return {"Quota": {"ServiceCode": "bedrock", "QuotaCode": "L-0406044C", "Value": value,
                          "QuotaName": job_slots.QUOTA_NAME}}  # fmt: skip

    def get_service_quota(self, **params: str) -> dict[str, Any]:
        return self._quota(self.applied, "GetServiceQuota", **params)

    def get_aws_default_service_quota(self, **params: str) -> dict[str, Any]:
        return self._quota(self.default, "GetAWSDefaultServiceQuota", **params)


class S3Between:
    """moto's S3 with a hook run before each PutObject (another writer getting in first) and, with
    ``no_list_bucket``, GetObject of a missing key answered as S3 does without s3:ListBucket: 403 AccessDenied.
    ``atomic`` makes each PutObject one step: S3 checks If-Match and writes atomically; moto does not lock."""

    def __init__(self, s3: Any, before_put: Any = None, no_list_bucket: bool = False, atomic: bool = False) -> None:
        self.s3, self.before_put, self.no_list_bucket = s3, before_put, no_list_bucket
        self.lock = threading.Lock() if atomic else None
        self.puts: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_object(self, **params: Any) -> Any:
        try:
            return self.s3.get_object(**params)
        except ClientError as error:
            if self.no_list_bucket and error.response["Error"]["Code"] == "NoSuchKey":
                raise _error("AccessDenied", "GetObject", 403) from None
            raise

    def put_object(self, **params: Any) -> Any:
        if self.before_put:
            self.before_put(params)
        self.puts.append({k: v for k, v in params.items() if k != "Body"})
        if self.lock is None:
            return self.s3.put_object(**params)
        with self.lock:
            return self.s3.put_object(**params)


@pytest.fixture
def sfn() -> StepFunctions:
    return StepFunctions()


@pytest.fixture
def quotas() -> ServiceQuotas:
    return ServiceQuotas()


@pytest.fixture
def slots(world: World, sfn: StepFunctions, quotas: ServiceQuotas) -> Iterator[World]:
    _use(world, world.s3, sfn, quotas)
    yield world


def _use(world: World, s3: Any, sfn: StepFunctions, quotas: ServiceQuotas) -> None:
    clients = {"s3": s3, "bedrock": world.bedrock, "stepfunctions": sfn, "service-quotas": quotas}
    aws.use_factory(clients.__getitem__)


def _configure(monkeypatch: pytest.MonkeyPatch, world: World, **changes: Any) -> None:
    settings = msgspec.structs.replace(world.settings, **changes)
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    load_settings.cache_clear()
    world.settings = settings


def _run(world: World, name: str) -> dict[str, Any]:
    event = {"input": {"dataset": "incoming/t.jsonl"}, "execution": {"arn": MACHINE + name, "name": name}}
    return dict(check_run_settings.handler(event, world.context)["run"])


def _ledger(world: World) -> job_slots.Ledger:
    return job_slots.decode(world.s3.get_object(Bucket=BUCKET, Key=LEDGER)["Body"].read())


def _take(world: World, run: dict[str, Any], token: str) -> dict[str, Any]:
    return take_job_slot.handler({"run": run, "token": token}, world.context)


# --- take and release through the handlers ---------------------------------------------------------------------------
def test_given_a_free_slot_when_a_run_waits_for_one_then_its_token_is_answered_at_once(slots, sfn, quotas):
    run = _run(slots, "run-1")

    result = _take(slots, run, "tok-1")

    assert result["slot"] == "granted" and result["position"] == 0 and result["answered"] is True
    assert sfn.answered["tok-1"] == {"slot": "granted", "position": 0, "waited": False, "waitedSeconds": 0, "limit": 3}
    ledger = _ledger(slots)
    assert list(ledger.running) == [run["runId"]] and ledger.running[run["runId"]].answered
    assert ledger.limit is not None and (ledger.limit.value, ledger.limit.source) == (3, "quota-applied")
    assert quotas.calls == ["GetServiceQuota"]


def test_given_every_slot_taken_when_runs_wait_then_they_queue_and_each_release_hands_the_slot_on_in_order(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    first, second, third = (_run(slots, f"run-{n}") for n in range(3))
    _take(slots, first, "tok-0")

    queued = [_take(slots, second, "tok-1"), _take(slots, third, "tok-2")]

    assert [(q["slot"], q["position"], q["answered"]) for q in queued] == [("queued", 1, False), ("queued", 2, False)]
    assert set(sfn.answered) == {"tok-0"}
    assert job_slot_store.queue_position(BUCKET, third["runId"]) == 2

    given_back = release_job_slot.handler({"run": first}, slots.context)

    assert given_back["released"] is True and given_back["handedTo"] == [second["runId"]]
    assert sfn.answered["tok-1"]["waited"] is True and "tok-2" not in sfn.answered
    assert job_slot_store.queue_position(BUCKET, third["runId"]) == 1
    assert release_job_slot.handler({"run": second}, slots.context)["handedTo"] == [third["runId"]]
    assert (_ledger(slots).limit.value, _ledger(slots).limit.source) == (1, "config")  # type: ignore[union-attr]


def test_given_the_first_in_line_is_gone_when_a_slot_is_freed_then_it_is_dropped_and_the_next_gets_the_slot(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    holder, gone, next_one = (_run(slots, f"run-{n}") for n in range(3))
    _take(slots, holder, "tok-0")
    _take(slots, gone, "tok-1")
    _take(slots, next_one, "tok-2")
    sfn.closed.add("tok-1")  # its task timed out

    result = release_job_slot.handler({"run": holder}, slots.context)

    assert result["dropped"] == [gone["runId"]] and result["handedTo"] == [next_one["runId"]]
    assert list(_ledger(slots).running) == [next_one["runId"]] and _ledger(slots).counters.dropped == 1


def test_given_a_task_that_timed_out_before_its_function_ran_when_it_takes_then_nothing_is_held_for_it(slots, sfn):
    sfn.closed.add("tok-late")

    result = _take(slots, _run(slots, "run-0"), "tok-late")

    assert (result["slot"], result["position"], result["dropped"]) == ("gone", None, [_run(slots, "run-0")["runId"]])
    assert _ledger(slots).running == {} and _ledger(slots).waiting == []


def test_given_status_reads_the_queue_when_the_ledger_may_not_be_read_then_access_denied_is_raised(slots, sfn, quotas):
    _use(slots, S3Between(slots.s3, no_list_bucket=True), sfn, quotas)

    with pytest.raises(ClientError, match="AccessDenied"):
        job_slot_store.queue_position(BUCKET, MACHINE + "run-0")


def test_given_a_retried_waiting_task_when_it_takes_again_then_the_run_keeps_its_place_and_the_new_token_is_used(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    holder, first, second = (_run(slots, f"run-{n}") for n in range(3))
    _take(slots, holder, "tok-0")
    _take(slots, first, "tok-1")
    _take(slots, second, "tok-2")
    sfn.closed.add("tok-1")

    again = _take(slots, first, "tok-1-retry")
    release_job_slot.handler({"run": holder}, slots.context)

    assert again["slot"] == "queued" and again["position"] == 1
    assert "tok-1-retry" in sfn.answered and "tok-2" not in sfn.answered


def test_given_a_run_holding_a_slot_when_its_task_is_retried_then_the_new_token_is_answered_without_a_second_slot(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    run, other = _run(slots, "run-0"), _run(slots, "run-1")
    _take(slots, run, "tok-0")
    _take(slots, other, "tok-1")

    again = _take(slots, run, "tok-0-retry")

    assert again["slot"] == "granted" and again["answered"] is True and "tok-1" not in sfn.answered
    assert list(_ledger(slots).running) == [run["runId"]]


def test_given_a_run_that_failed_while_in_line_when_the_failure_path_releases_by_execution_then_it_leaves_the_line(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    holder, failed = _run(slots, "run-0"), _run(slots, "run-1")
    _take(slots, holder, "tok-0")
    _take(slots, failed, "tok-1")

    first = job_slot_store.release(slots.settings, failed["executionArn"])
    second = job_slot_store.release(slots.settings, failed["executionArn"])

    assert (first["released"], first["leftTheLine"]) == (False, True)
    assert (second["released"], second["leftTheLine"]) == (False, False)
    assert _ledger(slots).waiting == [] and list(_ledger(slots).running) == [holder["runId"]]


def test_given_no_ledger_when_a_run_that_never_queued_is_released_then_nothing_is_written(slots, sfn, quotas):
    result = job_slot_store.release(slots.settings, MACHINE + "never-queued")

    assert result["released"] is False and slots.keys("queue/") == [] and quotas.calls == []


# --- back off and queue again ---------------------------------------------------------------------------------------
def test_given_bedrock_refused_the_job_for_the_quota_when_backing_off_then_the_slot_moves_on_and_the_wait_grows(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    refused, waiting = _run(slots, "run-0"), _run(slots, "run-1")
    _take(slots, refused, "tok-0")
    _take(slots, waiting, "tok-1")

    first = back_off_job_slot.handler({"run": refused}, slots.context)
    _take(slots, refused, "tok-0-again")
    release_job_slot.handler({"run": waiting}, slots.context)
    second = back_off_job_slot.handler({"run": refused, "attempt": first["attempt"]}, slots.context)

    assert (first["attempt"], first["waitSeconds"], first["released"]) == (1, 300, True)
    assert first["handedTo"] == [waiting["runId"]]
    assert "tok-0-again" in sfn.answered and (second["attempt"], second["waitSeconds"]) == (2, 600)
    assert _ledger(slots).counters.backed_off == 2


def test_given_a_run_that_backed_off_too_often_when_refused_again_then_it_fails_with_quota_exceeded_and_frees_its_slot(
    slots, sfn
):
    run = _run(slots, "run-0")
    _take(slots, run, "tok-0")

    with pytest.raises(QuotaExceeded, match="after 24 back-offs"):
        back_off_job_slot.handler({"run": run, "attempt": job_slots.MAX_BACKOFFS}, slots.context)

    assert _ledger(slots).running == {}


# --- the limit ------------------------------------------------------------------------------------------------------
def test_given_the_quota_cannot_be_read_when_the_limit_is_needed_then_the_safe_default_is_used_and_why_recorded(
    slots, quotas
):
    quotas.applied, quotas.default = "AccessDeniedException", "NoSuchResourceException"

    _take(slots, _run(slots, "run-0"), "tok-0")

    limit = _ledger(slots).limit
    assert limit is not None and (limit.value, limit.source) == (job_slots.SAFE_DEFAULT_LIMIT, "fallback")
    assert "AccessDeniedException" in limit.reason and "NoSuchResourceException" in limit.reason


def test_given_no_applied_value_when_the_limit_is_needed_then_the_default_value_is_used(slots, quotas):
    quotas.applied = "NoSuchResourceException"

    _take(slots, _run(slots, "run-0"), "tok-0")

    limit = _ledger(slots).limit
    assert limit is not None and (limit.value, limit.source) == (2, "quota-default")
    assert quotas.calls == ["GetServiceQuota", "GetAWSDefaultServiceQuota"]


def test_given_a_quota_read_in_the_ledger_when_runs_take_then_it_is_read_again_only_after_a_day(slots, quotas):
    now = [1_000_000.0]
    with clock.use(lambda: now[0], lambda s: None):
        _take(slots, _run(slots, "run-0"), "tok-0")
        _take(slots, _run(slots, "run-1"), "tok-1")
        assert quotas.calls == ["GetServiceQuota"]
        quotas.applied = 5.0
        now[0] += job_slots.QUOTA_TTL_SECONDS
        _take(slots, _run(slots, "run-2"), "tok-2")

    assert quotas.calls == ["GetServiceQuota"] * 2 and _ledger(slots).limit.value == 5  # type: ignore[union-attr]


# --- the conditional writes -----------------------------------------------------------------------------------------
def test_given_another_writer_gets_in_first_when_the_ledger_is_written_then_the_write_is_retried_on_the_new_ledger(
    slots, sfn, quotas
):
    first = _run(slots, "run-0")
    _take(slots, first, "tok-0")
    sneaked: list[bool] = []

    def other_writer(params: dict[str, Any]) -> None:
        if not sneaked:  # once: another run takes a slot between our read and our write
            sneaked.append(True)
            with aws.clients_from({"s3": slots.s3, "stepfunctions": sfn, "service-quotas": quotas}.__getitem__):
                _take(slots, _run(slots, "run-1"), "tok-1")

    racing = S3Between(slots.s3, before_put=other_writer)
    _use(slots, racing, sfn, quotas)
    with clock.use(time.time, lambda s: None):
        _take(slots, _run(slots, "run-2"), "tok-2")

    assert {r.split("-")[0] + "-" + r.split("-")[1] for r in _ledger(slots).running} == {"run-0", "run-1", "run-2"}
    assert [p.get("IfMatch") is not None for p in racing.puts] == [True, True, True]  # lost once, then won


def test_given_the_ledger_keeps_changing_when_writing_then_the_retries_end_with_job_slots_busy(slots, sfn, quotas):
    now = [1_000_000.0]
    with clock.use(lambda: now[0], lambda s: None):
        _take(slots, _run(slots, "run-0"), "tok-0")
    now[0] += job_slots.QUOTA_TTL_SECONDS  # the limit is due again: read once for all the retries

    def always_first(params: dict[str, Any]) -> None:  # another writer changes the ledger every time
        ledger = _ledger(slots)
        ledger.updated_at += 1
        slots.s3.put_object(Bucket=BUCKET, Key=LEDGER, Body=job_slots.encode(ledger))

    run = _run(slots, "run-1")
    _use(slots, S3Between(slots.s3, before_put=always_first), sfn, quotas)
    with clock.use(lambda: now[0], lambda s: None), pytest.raises(JobSlotsBusy, match="12 conditional writes"):
        _take(slots, run, "tok-1")

    assert quotas.calls == ["GetServiceQuota", "GetServiceQuota"] and "tok-1" not in sfn.answered


def test_given_the_ledger_keeps_changing_after_tokens_were_sent_when_settling_then_the_release_still_succeeds(
    slots, sfn, quotas, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    holder, waiting = _run(slots, "run-0"), _run(slots, "run-1")
    _take(slots, holder, "tok-0")
    _take(slots, waiting, "tok-1")
    writes: list[int] = []

    def busy_after_the_first_write(params: dict[str, Any]) -> None:
        writes.append(1)
        if len(writes) > 1:  # the release is written; every settle write then loses
            ledger = _ledger(slots)
            ledger.updated_at += 1
            slots.s3.put_object(Bucket=BUCKET, Key=LEDGER, Body=job_slots.encode(ledger))

    _use(slots, S3Between(slots.s3, before_put=busy_after_the_first_write), sfn, quotas)
    with clock.use(time.time, lambda s: None):
        result = release_job_slot.handler({"run": holder}, slots.context)

    assert result["released"] is True and result["unsettled"] is True and result["handedTo"] == [waiting["runId"]]
    assert "tok-1" in sfn.answered
    ledger = _ledger(slots)
    assert list(ledger.running) == [waiting["runId"]] and not ledger.running[waiting["runId"]].answered


def test_given_no_list_bucket_permission_when_the_first_run_takes_then_the_ledger_is_created_with_if_none_match(
    slots, sfn, quotas
):
    denied = S3Between(slots.s3, no_list_bucket=True)
    _use(slots, denied, sfn, quotas)

    result = _take(slots, _run(slots, "run-0"), "tok-0")

    assert result["slot"] == "granted" and denied.puts[0]["IfNoneMatch"] == "*"
    assert [p.get("IfMatch") is not None for p in denied.puts[1:]] == [True] * (len(denied.puts) - 1)


def test_given_a_ledger_the_function_may_not_read_when_a_run_takes_then_access_denied_is_raised(slots, sfn, quotas):
    _take(slots, _run(slots, "run-0"), "tok-0")

    class Unreadable(S3Between):
        def get_object(self, **params: Any) -> Any:
            raise _error("AccessDenied", "GetObject", 403)

    _use(slots, Unreadable(slots.s3), sfn, quotas)
    with pytest.raises(ClientError, match="AccessDenied"):
        _take(slots, _run(slots, "run-1"), "tok-1")


# --- crashes and runs that ended without giving their slot back -----------------------------------------------------
def test_given_a_grant_whose_token_could_not_be_sent_when_a_later_operation_comes_then_it_is_sent_again(slots, sfn):
    now = [1_000_000.0]
    run = _run(slots, "run-0")
    sfn.throttled.add("tok-0")
    with clock.use(lambda: now[0], lambda s: None):
        first = _take(slots, run, "tok-0")
        sfn.throttled.clear()
        soon = job_slot_store.release(slots.settings, "someone-else")
        now[0] += job_slots.REDELIVER_AFTER_SECONDS
        later = job_slot_store.release(slots.settings, "someone-else")

    assert (first["slot"], first["answered"], first["undelivered"]) == ("granted", False, [run["runId"]])
    assert soon["handedTo"] == [] and later["handedTo"] == [run["runId"]]
    assert sfn.answered["tok-0"]["slot"] == "granted"
    ledger = _ledger(slots)
    assert ledger.running[run["runId"]].answered and ledger.counters.redelivered == 1


def test_given_a_run_that_ended_without_giving_its_slot_back_when_the_hourly_sweep_runs_then_the_slot_is_freed(
    slots, sfn, monkeypatch
):
    _configure(monkeypatch, slots, max_concurrent_jobs=1)
    now = [1_000_000.0]
    lost, waiting = _run(slots, "run-0"), _run(slots, "run-1")
    with clock.use(lambda: now[0], lambda s: None):
        _take(slots, lost, "tok-0")
        _take(slots, waiting, "tok-1")
        sfn.executions[lost["executionArn"]] = "ABORTED"  # and the failure notifier never ran
        now[0] += job_slots.SWEEP_EVERY_SECONDS
        swept = job_slot_store.sweep(slots.settings)  # as the hourly janitor does

    assert swept["handedTo"] == [waiting["runId"]] and sfn.described == [lost["executionArn"]]
    assert swept["swept"] == [lost["runId"]]
    assert _ledger(slots).counters.swept == 1


# --- many runs at once ----------------------------------------------------------------------------------------------
def test_given_many_runs_in_threads_when_they_take_and_release_at_once_then_the_limit_holds_and_every_run_runs_once(
    slots, sfn, quotas
):
    limit, runs = 3, 16
    _use(slots, S3Between(slots.s3, atomic=True), sfn, quotas)
    active, most, errors = [0], [0], []
    lock = threading.Lock()

    def retried(operation: Any) -> Any:  # as the state machine retries JobSlotsBusy
        for _ in range(20):
            try:
                return operation()
            except JobSlotsBusy:
                continue
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
            retried(lambda: job_slot_store.release(slots.settings, run_id, limit))
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
    ledger = _ledger(slots)
    assert ledger.running == {} and ledger.waiting == []
    assert (ledger.counters.taken, ledger.counters.granted, ledger.counters.released) == (runs, runs, runs)
