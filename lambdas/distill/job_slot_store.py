"""The job-slot ledger in S3, the task tokens it answers and the quota it follows (the rules: distill.job_slots).

One object per pipeline, ``queue/ledger.json`` in the data bucket, changed only by conditional writes
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): read it with its ETag, change
it, PutObject with ``If-Match: <ETag>`` -- ``If-None-Match: *`` while there is none. S3 answers 412
PreconditionFailed when another writer came first and 409 ConditionalRequestConflict when a conflicting operation
ran at the same time ("On a 409 failure you should fetch the object's ETag and retry the upload", PutObject
IfMatch); an If-Match write of a key deleted meanwhile answers 404 NoSuchKey. Each means: read again, change
again, write again -- at most :data:`MAX_WRITES` times with jittered backoff, then JobSlotsBusy.

Permissions (same page): a write with If-None-Match needs s3:PutObject; with If-Match, s3:PutObject and
s3:GetObject. No s3:ListBucket is granted, so reading a ledger that does not exist yet is 403 AccessDenied, not
404 ("If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403", GetObject).
A read answered AccessDenied is taken as "no ledger yet" and the change is written with If-None-Match: when the
ledger does exist that write fails (412) and the AccessDenied was real, so it is raised.

Every call goes through :func:`distill.aws.client`; botocore is imported where it is used (light cold starts).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distill import aws, clock, job_slots
from distill.errors import JobSlotsBusy, QuotaExceeded
from distill.job_slots import Change, Grant, Ledger, Limit, MaxConcurrentJobs, Outcome
from distill.locations import S3Location
from distill.settings import BucketLayout, PipelineSettings

LEDGER_NAME = "ledger.json"
MAX_WRITES = 12
MAX_ROUNDS = 10  # rounds of "send, settle" when sent tokens turn out closed and their slots go to the next
_CLOSED = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey")
_CONFLICT_STATUS = (409, 412)


def ledger_location(bucket: str, layout: BucketLayout | None = None) -> S3Location:
    return S3Location(bucket, f"{(layout or BucketLayout()).queue_prefix}{LEDGER_NAME}")


# --- reading, for `distill status` ----------------------------------------------------------------------------------
def read_ledger(bucket: str, layout: BucketLayout | None = None) -> Ledger:
    """The ledger as it is (an empty one when there is none yet). A reader without s3:ListBucket cannot tell a
    missing ledger from a forbidden one: AccessDenied is raised either way."""
    read = _read(aws.client("s3"), ledger_location(bucket, layout))
    if read.denied is not None:
        raise read.denied
    return read.ledger


def queue_position(bucket: str, run: str, layout: BucketLayout | None = None) -> int | None:
    """0 while the run (run id or execution ARN) holds a job slot, n when it is n-th in line, else None."""
    return job_slots.position(read_ledger(bucket, layout), run)


# --- the three operations of the workflow ---------------------------------------------------------------------------
def take(settings: PipelineSettings, run_id: str, token: str, execution_arn: str = "",
         max_concurrent_jobs: MaxConcurrentJobs | None = None) -> dict[str, Any]:  # fmt: skip
    """State "Wait for a job slot": a slot now (the token is answered here) or a place in line (the token is kept
    for the release that frees a slot)."""
    done = _operate(settings, max_concurrent_jobs, lambda ledger, now: job_slots.take(ledger, run_id, token, now,
                                                                                     execution_arn), taking=True)  # fmt: skip
    place = job_slots.position(done.after, run_id)
    # "gone": its own token was closed (the task timed out meanwhile); the retried task takes again.
    slot = "gone" if place is None else "granted" if place == 0 else "queued"
    return {"slot": slot, "position": place, "answered": done.sent.get(token) == "delivered", **done.summary()}


def release(settings: PipelineSettings, run_id_or_execution: str) -> dict[str, Any]:
    """Give the run's slot back, or take it out of the line (a run that ends while it waits); idempotent. The
    freed slot goes to the first in line. ``run_id_or_execution``: the run id or the execution's ARN (the
    failure notifier has the ARN)."""
    return _give_back(settings, run_id_or_execution, backing_off=False)


def sweep(settings: PipelineSettings) -> dict[str, Any]:
    """The hourly janitor: free the slots of runs whose execution ended without giving theirs back (their
    failure notice was lost), checked with states:DescribeExecution once the sweep is due; each freed slot goes
    to the first in line. Only the janitor may: a function the state machine runs cannot name the state
    machine's executions in its policy without a circular dependency."""
    done = _operate(settings, None, lambda ledger, now: (ledger, []), sweep=True)
    return {"swept": done.swept, **done.summary()}


def back_off(settings: PipelineSettings, run_id: str, attempt: int) -> dict[str, Any]:
    """State "Back off and queue again": Bedrock refused the job for the quota despite the slot (something else
    in the account uses it). Give the slot back and wait before queueing again; ``attempt`` is how many times
    the run backed off before. After :data:`job_slots.MAX_BACKOFFS` the run fails with QuotaExceeded."""
    given_back = _give_back(settings, run_id, backing_off=True)
    if attempt >= job_slots.MAX_BACKOFFS:
        raise QuotaExceeded(
            f"CreateModelCustomizationJob: ServiceQuotaExceededException after {attempt} back-offs: the quota "
            f'"{job_slots.QUOTA_NAME}" ({job_slots.QUOTA_CODE}) stays in use by something else in the account; '
            "free it or request an increase (Service Quotas > Amazon Bedrock)"
        )
    return {"attempt": attempt + 1, "waitSeconds": job_slots.back_off_seconds(attempt + 1), **given_back}


def _give_back(settings: PipelineSettings, run: str, backing_off: bool) -> dict[str, Any]:
    found: dict[str, bool] = {}

    def change(ledger: Ledger, now: int) -> Change:
        runs = job_slots.run_ids(ledger, run)
        found["held"] = any(r in ledger.running for r in runs)  # as the ledger was when the write succeeded
        found["waited"] = any(w.run_id in runs for w in ledger.waiting)
        if backing_off:
            return job_slots.back_off(ledger, runs[0], now)
        return job_slots.release(ledger, runs, now)

    done = _operate(settings, None, change)
    return {"released": found.get("held", False), "leftTheLine": found.get("waited", False), **done.summary()}


# --- the limit --------------------------------------------------------------------------------------------------------
def resolve_limit(settings: PipelineSettings, max_concurrent_jobs: MaxConcurrentJobs | None = None,
                  current: Limit | None = None, now: int | None = None) -> Limit:  # fmt: skip
    """The limit in force: ``max_concurrent_jobs`` (default: the settings' maxConcurrentJobs) when a number; for
    "auto" the quota's applied value, else its default value, else a safe default, the reason recorded. A limit
    in ``current`` that is still good (see job_slots.limit_due) is kept as it is."""
    configured = job_slots.check_configured(
        settings.max_concurrent_jobs if max_concurrent_jobs is None else max_concurrent_jobs
    )
    at = int(clock.now()) if now is None else now
    if current is not None and not job_slots.limit_due(current, configured, at):
        return current
    if configured != job_slots.AUTO:
        return job_slots.configured_limit(int(configured), at)
    return job_slots.quota_limit(*read_jobs_quota(), now=at)


def read_jobs_quota() -> tuple[float | None, float | None, list[str]]:
    """(applied value, default value, what went wrong) of the scheduled-jobs quota. GetServiceQuota gives no
    quota whose applied value is not available (API reference): GetAWSDefaultServiceQuota then gives the
    default."""
    quotas = aws.client("service-quotas")
    problems: list[str] = []
    applied = _quota_value(quotas, "get_service_quota", problems)
    default = None if applied is not None else _quota_value(quotas, "get_aws_default_service_quota", problems)
    return applied, default, problems


def _quota_value(quotas: Any, method: str, problems: list[str]) -> float | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        quota = getattr(quotas, method)(ServiceCode=job_slots.QUOTA_SERVICE_CODE, QuotaCode=job_slots.QUOTA_CODE)
    except ClientError as error:
        problems.append(f"{method}: {error.response.get('Error', {}).get('Code', '')}")
        return None
    except BotoCoreError as error:  # the quota is read best effort: a safe default replaces it
        problems.append(f"{method}: {type(error).__name__}: {error}"[:300])
        return None
    value = (quota.get("Quota") or {}).get("Value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        reason = ((quota.get("Quota") or {}).get("ErrorReason") or {}).get("ErrorCode", "no value")
        problems.append(f"{method}: {reason}")
        return None
    return float(value)


# --- one operation: change the ledger, deliver the grants, settle -----------------------------------------------------
@dataclass
class _Done:
    after: Ledger
    sent: dict[str, Outcome] = field(default_factory=dict)  # token -> outcome
    names: dict[str, str] = field(default_factory=dict)  # token -> run id
    unsettled: bool = False  # what became of sent tokens could not be written (see _operate)
    swept: list[str] = field(default_factory=list)  # runs whose slots a sweep freed

    def _runs(self, outcome: Outcome) -> list[str]:
        return [self.names[token] for token, got in self.sent.items() if got == outcome]

    def summary(self) -> dict[str, Any]:
        return {"handedTo": self._runs("delivered"), "dropped": self._runs("closed"),
                "undelivered": self._runs("failed"), "limit": job_slots.limit_value(self.after),
                "limitSource": self.after.limit.source if self.after.limit else "",
                "running": len(self.after.running), "waiting": len(self.after.waiting),
                "unsettled": self.unsettled}  # fmt: skip


def _operate(settings: PipelineSettings, configured: MaxConcurrentJobs | None,
             change: Callable[[Ledger, int], Change], taking: bool = False, sweep: bool = False) -> _Done:  # fmt: skip
    s3, place, now = aws.client("s3"), ledger_location(settings.bucket_name, settings.layout), int(clock.now())
    first = _read(s3, place)
    checks = job_slots.sweep_due(first.ledger, now) if sweep else []
    ended = _ended(checks)
    limits: list[Limit] = []

    def full_change(ledger: Ledger) -> Change:
        grants: list[Grant] = []
        # Only a take works the limit out (reads the quota): a release fills freed slots by the ledger's limit,
        # which the takes that queued the waiting runs wrote, so only the slot-taking function reads quotas.
        if taking and job_slots.limit_due(ledger.limit, _configured(settings, configured), now):
            if not limits:  # read once per operation, whatever the retries
                limits.append(resolve_limit(settings, configured, ledger.limit, now))
            ledger = job_slots.with_limit(ledger, limits[0])
        if checks or ended:
            ledger, grants = job_slots.swept(ledger, ended, now)
        ledger, more = change(ledger, now)
        return ledger, grants + more

    after, grants = _cas(s3, place, full_change, now, first)
    done = _Done(after, swept=[run for run in ended if run not in after.running])
    grants += job_slots.redeliveries(after, now)
    for _ in range(MAX_ROUNDS):
        if not grants:
            break
        outcomes = [(grant, _send(grant, after)) for grant in grants]
        for grant, outcome in outcomes:
            done.sent[grant.token], done.names[grant.token] = outcome, grant.run_id
        try:
            after, grants = _cas(s3, place, functools.partial(job_slots.settle, outcomes=outcomes, now=now), now)
        except JobSlotsBusy:
            # The change is written and the tokens are sent: failing now would fail a run whose job has ended.
            # What is left unsettled heals (job_slots notes): unanswered grants are sent again, a dead holder is
            # swept, a timed-out task takes again and finds its slot.
            done.unsettled = True
            break
    done.after = after
    return done


def _configured(settings: PipelineSettings, configured: MaxConcurrentJobs | None) -> MaxConcurrentJobs:
    return job_slots.check_configured(settings.max_concurrent_jobs if configured is None else configured)


def _send(grant: Grant, ledger: Ledger) -> Outcome:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("stepfunctions").send_task_success(taskToken=grant.token, output=json.dumps(grant.output(ledger)))
    except ClientError as error:
        return "closed" if error.response.get("Error", {}).get("Code") in _CLOSED else "failed"
    except BotoCoreError:
        return "failed"  # unanswered: redelivered later (or the waiting task's timeout takes again)
    return "delivered"


def _ended(checks: list[tuple[str, str]]) -> list[str]:
    """The runs among ``checks`` whose execution is no longer RUNNING (best effort: a look that fails is skipped)."""
    from botocore.exceptions import BotoCoreError, ClientError

    ended = []
    for run_id, execution_arn in checks:
        try:
            status = aws.client("stepfunctions").describe_execution(executionArn=execution_arn).get("status")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                ended.append(run_id)
            continue
        except BotoCoreError:
            continue
        if status and status != "RUNNING":
            ended.append(run_id)
    return ended


# --- the conditional writes -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Read:
    ledger: Ledger
    etag: str | None  # None: no ledger yet (or not readable: see ``denied``)
    denied: Exception | None = None


def _read(s3: Any, place: S3Location) -> _Read:
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=place.bucket, Key=place.key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            return _Read(Ledger(), None)
        if code in ("AccessDenied", "403"):  # no s3:ListBucket: a missing key looks like this (module notes)
            return _Read(Ledger(), None, error)
        raise
    raw = answer["Body"].read()
    try:
        return _Read(job_slots.decode(raw), answer["ETag"])
    except ValueError as error:  # msgspec's DecodeError and ValidationError are ValueErrors
        raise ValueError(f"s3://{place.bucket}/{place.key} is not a job-slot ledger ({error}); delete it to start "
                         "afresh (runs in line would then wait until their waiting task times out)") from None  # fmt: skip


def _cas(s3: Any, place: S3Location, change: Callable[[Ledger], Change], now: int,
         first: _Read | None = None) -> Change:  # fmt: skip
    """Apply ``change`` to the ledger with a conditional write, again on a fresh read after each conflict."""
    for attempt in range(MAX_WRITES):
        read = first if first is not None and attempt == 0 else _read(s3, place)
        after, grants = change(read.ledger)
        if job_slots.encode(after) == job_slots.encode(read.ledger):
            return after, grants  # nothing to write (and nothing granted: a grant changes the ledger)
        after.updated_at = now
        if _written(s3, place, after, read.etag):
            return after, grants
        if read.denied is not None:
            raise read.denied  # the ledger exists: the AccessDenied was real
        clock.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
    raise JobSlotsBusy(f"s3://{place.bucket}/{place.key} kept changing: {MAX_WRITES} conditional writes failed")


def _written(s3: Any, place: S3Location, ledger: Ledger, etag: str | None) -> bool:
    """False when the write lost to another writer (412, 409, or 404 for If-Match on a deleted key)."""
    from botocore.exceptions import ClientError

    condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
    try:
        s3.put_object(Bucket=place.bucket, Key=place.key, Body=job_slots.encode(ledger),
                      ContentType="application/json", **condition)  # fmt: skip
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _CONFLICT or status in _CONFLICT_STATUS:
            return False
        raise
    return True
