"""Job slots: how many distillation jobs of this pipeline may be scheduled at once, and who waits for one.

Bedrock limits how many customization jobs an account may have scheduled ("(Model customization) Scheduled
customization jobs", L-0406044C); a run over the limit fails with ServiceQuotaExceededException. So a run takes a
*slot* before "Start distillation job" and gives it back after its job ended. Runs that find no free slot wait in
line, first come first served, without polling: the callback task "Wait for a job slot" keeps its task token in the
ledger, and the release that frees a slot answers it.

This module is the ledger's logic alone (no AWS): plain functions from a ledger to a new ledger plus the grants to
deliver. ``distill.job_slot_store`` keeps the ledger in S3 and delivers the grants.

The ledger (one JSON object per pipeline):
* ``limit``: the limit in force, where it came from (config, the quota applied or by default, a fallback) and when;
* ``running``: ``{runId: {since, executionArn, token, answered, tokenAt}}``, the runs holding a slot;
* ``waiting``: ``[{runId, token, since, executionArn}]``, the line, first in first;
* ``counters``.

Rules:
* take: a run that holds a slot has its (new) token answered; a run already in line gets its new token and keeps
  its place (a retried task has a new token); any other run joins the line. Then the line moves up (fill).
* release: the run leaves ``running`` and ``waiting`` (a run may end while in line); then the line moves up.
* fill: while fewer runs hold a slot than the limit and someone waits, the first in line gets a slot.
* ``len(running)`` never grows past the limit (fill is the only thing that adds to it). A limit lowered below
  ``len(running)`` takes no slot back: fill grants nothing until enough runs released theirs.

Delivering a grant, in three steps (the order keeps every slot accounted for):
1. The grant is written to the ledger first: the grantee moves to ``running`` with its token and
   ``answered: false``. Sending first could let a run start its job without the ledger counting it (over the
   limit, if the write then failed).
2. Its token is answered (SendTaskSuccess).
3. The outcome is written (:func:`settle`): delivered -> ``answered``; *closed* (TaskTimedOut, InvalidToken,
   TaskDoesNotExist: the task is gone, its run ended or its task timed out) -> the grantee leaves ``running`` and
   the slot goes to the next in line (back to 1). A send that failed otherwise stays unanswered.
A crash between 1 and 3 leaves a grantee ``answered: false``. Any later operation sends its token again once it
is :data:`REDELIVER_AFTER_SECONDS` old -- longer than a Lambda function can run, so the invocation that granted
it is gone and cannot be sending it at the same time. A closed answer to such a second send is never read as
"gone" (the first send may have got through, and the run may be running its job): the grantee is only marked
answered. Only the first send of a grant from the line may free a slot. And the waiting task's own timeout is a
backstop: its retry takes again, finds the run holding a slot and answers the new token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

AUTO: Literal["auto"] = "auto"
MaxConcurrentJobs = int | Literal["auto"]

# The quota (Service Quotas, service code "bedrock"); distill_cli/doctor/quotas.py checks the same one.
QUOTA_SERVICE_CODE = "bedrock"
QUOTA_CODE = "L-0406044C"
QUOTA_NAME = "(Model customization) Scheduled customization jobs"
QUOTA_TTL_SECONDS = 24 * 3600  # a quota read is kept in the ledger this long
FALLBACK_TTL_SECONDS = 3600  # a failed read is tried again sooner
SAFE_DEFAULT_LIMIT = 2  # when the quota cannot be read

# Lambda runs a function for at most 900 s: a grant this old is not being sent by the invocation that made it.
REDELIVER_AFTER_SECONDS = 960
# How often the runs holding a slot are checked against their executions (a run that ended without giving its
# slot back, e.g. when the failure notifier could not run), and how old a slot must be to be checked.
SWEEP_EVERY_SECONDS = 3600
SWEEP_GRACE_SECONDS = 300

# "Back off and queue again": 5 min doubling up to 1 h; after MAX_BACKOFFS the run fails with QuotaExceeded.
FIRST_BACKOFF_SECONDS = 300
MAX_BACKOFF_SECONDS = 3600
MAX_BACKOFFS = 24

LimitSource = Literal["config", "quota-applied", "quota-default", "fallback"]
Outcome = Literal["delivered", "closed", "failed"]


class _Wire(msgspec.Struct, kw_only=True, rename="camel"):
    """camelCase in the JSON, like the settings and the execution state."""


class Limit(_Wire):
    value: int
    source: LimitSource
    reason: str = ""
    checked_at: int = 0


class Holder(_Wire):
    since: int  # when the slot was granted
    execution_arn: str = ""
    token: str | None = None  # the token the grant went to, until it is known to be answered
    answered: bool = True
    token_at: int = 0  # when ``token`` was granted (a redelivery waits REDELIVER_AFTER_SECONDS from here)


class Waiter(_Wire):
    run_id: str
    token: str
    since: int  # when the run joined the line
    execution_arn: str = ""


class Counters(_Wire):
    taken: int = 0  # take calls from runs not holding a slot or in line
    granted: int = 0
    released: int = 0
    dropped: int = 0  # grants whose token was closed
    redelivered: int = 0
    swept: int = 0  # slots of runs found ended
    backed_off: int = 0


class Ledger(_Wire):
    version: int = 1
    limit: Limit | None = None
    running: dict[str, Holder] = msgspec.field(default_factory=dict)
    waiting: list[Waiter] = msgspec.field(default_factory=list)
    counters: Counters = msgspec.field(default_factory=Counters)
    swept_at: int = 0
    updated_at: int = 0


@dataclass(frozen=True)
class Grant:
    """A slot to announce: answer ``token`` with :meth:`output`."""

    run_id: str
    token: str
    waited: bool
    waited_seconds: int = 0
    # False for a token sent again (a redelivery, a holder's new token): a closed answer then frees nothing.
    first_send: bool = True
    redelivery: bool = False

    def output(self, ledger: Ledger) -> dict[str, Any]:
        """What the callback task "Wait for a job slot" returns."""
        return {"slot": "granted", "position": 0, "waited": self.waited, "waitedSeconds": self.waited_seconds,
                "limit": limit_value(ledger)}  # fmt: skip


Change = tuple[Ledger, list[Grant]]


def encode(ledger: Ledger) -> bytes:
    return msgspec.json.encode(ledger)


def decode(raw: bytes) -> Ledger:
    return msgspec.json.decode(raw, type=Ledger)


def _copy(ledger: Ledger) -> Ledger:
    return decode(encode(ledger))


def limit_value(ledger: Ledger) -> int:
    return ledger.limit.value if ledger.limit else SAFE_DEFAULT_LIMIT


def _matches(key: str, run_id: str, execution_arn: str) -> bool:
    """``key`` is a run id or an execution ARN."""
    return key == run_id or (key.startswith("arn:") and key == execution_arn)


def position(ledger: Ledger, run: str) -> int | None:
    """0 while ``run`` (run id or execution ARN) holds a slot, n when it is n-th in line, None otherwise."""
    for run_id, holder in ledger.running.items():
        if _matches(run, run_id, holder.execution_arn):
            return 0
    for place, waiter in enumerate(ledger.waiting, start=1):
        if _matches(run, waiter.run_id, waiter.execution_arn):
            return place
    return None


def run_ids(ledger: Ledger, run: str) -> list[str]:
    """The run ids in the ledger that ``run`` (run id or execution ARN) names."""
    found = [r for r, h in ledger.running.items() if _matches(run, r, h.execution_arn)]
    found += [w.run_id for w in ledger.waiting if _matches(run, w.run_id, w.execution_arn)]
    return list(dict.fromkeys(found)) or [run]


def take(ledger: Ledger, run_id: str, token: str, now: int, execution_arn: str = "") -> Change:
    """The run asks for a slot with the token of its waiting task."""
    new = _copy(ledger)
    holder = new.running.get(run_id)
    if holder is not None:
        if holder.token == token:  # this very token was granted already (being sent, or sent)
            return new, []
        holder.token, holder.answered, holder.token_at = token, False, now
        return new, [Grant(run_id, token, waited=False, first_send=False)]
    for waiter in new.waiting:
        if waiter.run_id == run_id:  # a retried task: the new token, the same place
            waiter.token = token
            waiter.execution_arn = execution_arn or waiter.execution_arn
            return _fill(new, now)
    new.waiting.append(Waiter(run_id=run_id, token=token, since=now, execution_arn=execution_arn))
    new.counters.taken += 1
    return _fill(new, now, arrived=run_id)


def release(ledger: Ledger, runs: Iterable[str], now: int) -> Change:
    """The runs give their slot back or leave the line (idempotent); the line moves up."""
    new = _copy(ledger)
    for run_id in runs:
        if new.running.pop(run_id, None) is not None:
            new.counters.released += 1
        new.waiting = [w for w in new.waiting if w.run_id != run_id]
    return _fill(new, now)


def back_off(ledger: Ledger, run_id: str, now: int) -> Change:
    """Bedrock refused the job for the quota despite the slot: give it back (the run will queue again)."""
    new, grants = release(ledger, [run_id], now)
    new.counters.backed_off += 1
    return new, grants


def _fill(ledger: Ledger, now: int, arrived: str | None = None) -> Change:
    """Move the line up while slots are free. Mutates ``ledger`` (callers pass their own copy)."""
    grants = []
    while ledger.waiting and len(ledger.running) < limit_value(ledger):
        first = ledger.waiting.pop(0)
        ledger.running[first.run_id] = Holder(since=now, execution_arn=first.execution_arn, token=first.token,
                                              answered=False, token_at=now)  # fmt: skip
        ledger.counters.granted += 1
        grants.append(Grant(first.run_id, first.token, waited=first.run_id != arrived,
                            waited_seconds=max(0, now - first.since)))  # fmt: skip
    return ledger, grants


def settle(ledger: Ledger, outcomes: Iterable[tuple[Grant, Outcome]], now: int) -> Change:
    """Write what became of sent grants (step 3); the slots of closed first sends go to the next in line."""
    new = _copy(ledger)
    for grant, outcome in outcomes:
        holder = new.running.get(grant.run_id)
        if holder is None or holder.answered or holder.token != grant.token:
            continue  # released meanwhile, or it has another token now
        new.counters.redelivered += grant.redelivery and outcome != "failed"
        if outcome == "delivered" or (outcome == "closed" and not grant.first_send):
            holder.answered, holder.token = True, None
        elif outcome == "closed":
            del new.running[grant.run_id]
            new.counters.dropped += 1
    return _fill(new, now)


def redeliveries(ledger: Ledger, now: int) -> list[Grant]:
    """Grants left unanswered long enough that no invocation is still sending them (see the module's notes)."""
    return [Grant(run_id, holder.token, waited=True, waited_seconds=0, first_send=False, redelivery=True)
            for run_id, holder in ledger.running.items()
            if not holder.answered and holder.token and now - holder.token_at >= REDELIVER_AFTER_SECONDS]  # fmt: skip


def sweep_due(ledger: Ledger, now: int) -> list[tuple[str, str]]:
    """(run id, execution ARN) of the slots to check against their executions, when a sweep is due."""
    if now - ledger.swept_at < SWEEP_EVERY_SECONDS:
        return []
    return [(run_id, holder.execution_arn) for run_id, holder in ledger.running.items()
            if holder.execution_arn and now - holder.since >= SWEEP_GRACE_SECONDS]  # fmt: skip


def swept(ledger: Ledger, ended: Iterable[str], now: int) -> Change:
    """Free the slots of runs whose execution ended; remember when the sweep was made."""
    gone = [run_id for run_id in ended if run_id in ledger.running]
    new, grants = release(ledger, gone, now)
    new.swept_at = now
    new.counters.swept += len(gone)
    return new, grants


# --- the limit ----------------------------------------------------------------------------------------------------
def check_configured(value: object) -> MaxConcurrentJobs:
    """``maxConcurrentJobs`` as configured: a whole number >= 1, or "auto"."""
    if value == AUTO:
        return AUTO
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'maxConcurrentJobs must be a whole number of at least 1 or "auto" (got {value!r})')
    return value


def limit_due(current: Limit | None, configured: MaxConcurrentJobs, now: int) -> bool:
    """Whether the limit must be worked out again: the configuration changed, or a quota read is too old."""
    if configured != AUTO:
        return current is None or current.source != "config" or current.value != configured
    if current is None or current.source == "config":
        return True
    ttl = FALLBACK_TTL_SECONDS if current.source == "fallback" else QUOTA_TTL_SECONDS
    return now - current.checked_at >= ttl


def configured_limit(value: int, now: int) -> Limit:
    return Limit(value=value, source="config", reason="maxConcurrentJobs in cdk.json", checked_at=now)


def quota_limit(applied: float | None, default: float | None, problems: Iterable[str], now: int) -> Limit:
    """The limit from the quota's applied value, else its default value, else :data:`SAFE_DEFAULT_LIMIT`."""
    name = f'"{QUOTA_NAME}" ({QUOTA_CODE})'
    readings: tuple[tuple[float | None, LimitSource, str], ...] = (
        (applied, "quota-applied", "applied"),
        (default, "quota-default", "default"),
    )
    for value, source, which in readings:
        if value is None:
            continue
        if value < 1:
            # 0 would keep every run waiting forever, silently; with 1 a run starts and fails with QuotaExceeded.
            return Limit(value=1, source=source, checked_at=now,
                         reason=f"{name} {which} value is {value:g}: using 1 so a run fails instead of waiting")  # fmt: skip
        return Limit(value=int(value), source=source, reason=f"{name} {which} value", checked_at=now)
    why = ("; ".join(problems) or "no value given")[:1000]
    return Limit(value=SAFE_DEFAULT_LIMIT, source="fallback", checked_at=now,
                 reason=f"{name} could not be read ({why}): using {SAFE_DEFAULT_LIMIT}")  # fmt: skip


def with_limit(ledger: Ledger, limit: Limit) -> Ledger:
    new = _copy(ledger)
    new.limit = limit
    return new


def back_off_seconds(attempt: int) -> int:
    """The wait before the ``attempt``-th try (1, 2, ...) to queue again: 5 min doubling up to 1 h."""
    return int(min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, min(attempt - 1, 16))))
