"""The janitor: an hourly sweep of the serving this pipeline created, for the serving that costs money.

A run may give its serving a time to live (``servingTtlHours``): the provisioned throughput or the on-demand
deployment it creates then carries the tag ``distill:expires-at`` (ISO-8601 UTC, :func:`expiry_tag`). Each sweep

* lists every provisioned throughput and custom model deployment in the Region with its tags (both List calls
  are paged) and keeps only those carrying the pipeline's tag (``distill.settings.PIPELINE_TAG``): anything
  untagged is never touched, nor is a throughput with a commitment (it cannot be deleted before its term);
* deletes those whose expiry has passed, when they are in service (a throughput still being created or updated,
  or a failed one, is left for a later sweep); one already gone or busy being deleted is reported, not an error;
* warns about the others that had no invocations for ``idleWarningHours`` (CloudWatch ``AWS/Bedrock``
  ``Invocations``), each at most once per UTC day: the days of the warnings are kept in one small S3 object,
  ``<reportsPrefix>janitor/idle-warnings.json`` (``{"warned": {ARN: "YYYY-MM-DD"}}``, only resources idle now).

:func:`sweep` is what the scheduled function runs; ``distill cleanup --expired`` runs the same sweep
(:func:`sweep_serving`) by hand, without the memory. :func:`notify` tells the pipeline's topic, only when
something was deleted or warned about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from distill import aws, invocation_metrics, s3objects, serving_inventory
from distill.settings import PIPELINE_TAG, PipelineSettings

EXPIRES_AT_TAG = "distill:expires-at"
MEMORY_NAME = "janitor/idle-warnings.json"  # under the layout's reports prefix

Kind = Literal["provisioned-throughput", "on-demand-deployment"]
# The status in which each kind serves (and bills): ProvisionedModelStatus / CustomModelDeploymentStatus.
IN_SERVICE: dict[str, str] = {"provisioned-throughput": "InService", "on-demand-deployment": "Active"}

# Why a resource is in the report where it is.
EXPIRED = "expired"  # deleted, or would be deleted
UNTAGGED = "untagged"  # not the pipeline's: never touched
COMMITMENT = "commitment"  # cannot be deleted before its term
NO_EXPIRY = "no expiry"  # created without servingTtlHours
BAD_EXPIRY = "invalid expiry"  # a distill:expires-at that is no ISO-8601 time with a zone
NOT_EXPIRED = "not expired yet"
NOT_IN_SERVICE = "not InService"  # expired, but Creating / Updating / Failed: a later sweep sees it again
DECLINED = "declined"  # the person running distill cleanup said no
GONE = "already gone"  # deleted by someone else between the listing and the delete
BUSY = "busy"  # Bedrock refused the delete in the resource's present state (ConflictException)
IDLE = "idle"  # a warning: no invocations for idleWarningHours
DELETE_FAILED = "delete failed"
IDLE_CHECK_FAILED = "idle check failed"


def expiry_tag(now: datetime, ttl_hours: float) -> dict[str, str]:
    """The tag that gives serving created at ``now`` a time to live, e.g.
    ``{"distill:expires-at": "2026-12-01T10:00:00Z"}`` (whole seconds, UTC; Bedrock's tag values allow
    ``[a-zA-Z0-9\\s._:/=+@-]*``, which covers it)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if not ttl_hours > 0:
        raise ValueError(f"ttl_hours must be positive, got {ttl_hours!r}")
    expires = (now + timedelta(hours=ttl_hours)).astimezone(UTC).replace(microsecond=0)
    return {EXPIRES_AT_TAG: _iso(expires)}


def parse_expiry(value: str) -> datetime | None:
    """The time a ``distill:expires-at`` value names, in UTC; None when it is no ISO-8601 time with a zone."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Serving:
    """A provisioned throughput or a custom model deployment as listed, with its tags."""

    kind: Kind
    arn: str
    name: str
    status: str
    model_arn: str
    created: str  # ISO-8601, "" when Bedrock did not say
    commitment: str
    tags: dict[str, str]

    @property
    def in_service(self) -> bool:
        return self.status == IN_SERVICE[self.kind]


@dataclass(frozen=True)
class Entry:
    """One resource in the report and why it is where it is (``reason``, with ``detail``)."""

    kind: str
    name: str
    arn: str
    reason: str
    detail: str = ""
    expires_at: str = ""


@dataclass
class JanitorReport:
    checked_at: str
    idle_warning_hours: int
    deleted: list[Entry] = field(default_factory=list)
    would_delete: list[Entry] = field(default_factory=list)  # expired, but not deleted (dry run)
    skipped: list[Entry] = field(default_factory=list)
    idle: list[Entry] = field(default_factory=list)  # the warnings of this sweep
    failed: list[Entry] = field(default_factory=list)

    @property
    def newsworthy(self) -> bool:
        """Whether the pipeline's topic hears of this sweep: only when something was deleted or warned about."""
        return bool(self.deleted or self.idle)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(item: Serving, now: datetime) -> Entry:
    """What the sweep does with one resource: reason EXPIRED means delete it, any other says why not."""
    entry = _entry_for(item)
    key, value = PIPELINE_TAG
    if item.tags.get(key) != value:
        return entry(UNTAGGED, f"no tag {key}={value}")
    if item.commitment:
        return entry(COMMITMENT, item.commitment)
    raw = item.tags.get(EXPIRES_AT_TAG)
    if raw is None:
        return entry(NO_EXPIRY)
    expires = parse_expiry(raw)
    if expires is None:
        return entry(BAD_EXPIRY, raw)
    if expires > now:
        return entry(NOT_EXPIRED, expires_at=_iso(expires))
    if not item.in_service:
        return entry(NOT_IN_SERVICE, item.status, _iso(expires))
    return entry(EXPIRED, expires_at=_iso(expires))


def _entry_for(item: Serving) -> Callable[..., Entry]:
    def entry(reason: str, detail: str = "", expires_at: str = "") -> Entry:
        return Entry(item.kind, item.name, item.arn, reason, detail, expires_at)

    return entry


def watched_for_idleness(item: Serving, entry: Entry, now: datetime, hours: int) -> bool:
    """Whether to look for invocations: the pipeline's serving that stays (not expired), in service, and old
    enough to have been idle for the whole window."""
    if hours <= 0 or entry.reason not in (NO_EXPIRY, BAD_EXPIRY, NOT_EXPIRED) or not item.in_service:
        return False
    try:
        created = datetime.fromisoformat(item.created)
    except ValueError:
        return False
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created <= now - timedelta(hours=hours)


def due_warnings(idle_arns: Iterable[str], warned: dict[str, str], today: str) -> tuple[list[str], dict[str, str]]:
    """Which idle resources to warn about now (those not yet warned about on this UTC day, ``YYYY-MM-DD``) and
    the memory to keep: only resources idle now, so it stays as small as that list."""
    idle = list(dict.fromkeys(idle_arns))
    due = [arn for arn in idle if warned.get(arn) != today]
    return due, {arn: today if arn in due else warned[arn] for arn in idle}


class WarningMemory(Protocol):
    def load(self) -> dict[str, str]: ...

    def save(self, warned: dict[str, str]) -> None: ...


@dataclass(frozen=True)
class S3WarningMemory:
    """The days of the last idle warnings, in one small JSON object of the project's bucket."""

    bucket: str
    key: str

    @classmethod
    def of(cls, settings: PipelineSettings) -> S3WarningMemory:
        return cls(settings.bucket_name, settings.layout.reports_prefix + MEMORY_NAME)

    def load(self) -> dict[str, str]:
        from botocore.exceptions import ClientError

        s3 = aws.client("s3")
        # Listed first: a GET of a missing key is a 403 for a caller that may list only a prefix (distill.s3objects).
        if s3objects.listed(s3, self.bucket, self.key) is None:
            return {}
        try:
            body = s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}  # deleted since the listing
            raise
        try:
            warned = json.loads(body).get("warned", {})
        except (ValueError, AttributeError):
            return {}  # damaged: start again (at worst one warning is repeated)
        if not isinstance(warned, dict):
            return {}
        return {str(arn): str(day) for arn, day in warned.items()}

    def save(self, warned: dict[str, str]) -> None:
        body = json.dumps({"warned": warned}, indent=1, sort_keys=True).encode()
        aws.client("s3").put_object(Bucket=self.bucket, Key=self.key, Body=body, ContentType="application/json")


def find_serving() -> list[Serving]:
    """Every provisioned throughput and custom model deployment in the Region, with its tags."""
    found = [
        Serving("provisioned-throughput", pt.arn, pt.name, pt.status, pt.model_arn, pt.created, pt.commitment, pt.tags)
        for pt in serving_inventory.all_throughputs()
    ]
    found += [
        Serving("on-demand-deployment", d.arn, d.name, d.status, d.model_arn, d.created, "", d.tags)
        for d in serving_inventory.all_deployments()
    ]
    return found


def sweep(settings: PipelineSettings, now: datetime, *, delete: bool = True,
          confirm: Callable[[Entry], bool] | None = None) -> JanitorReport:  # fmt: skip
    """The scheduled sweep: delete what expired, warn about what is idle (once a day, remembered in S3)."""
    return sweep_serving(now, idle_warning_hours=settings.idle_warning_hours, delete=delete, confirm=confirm,
                         memory=S3WarningMemory.of(settings))  # fmt: skip


def sweep_serving(now: datetime, *, idle_warning_hours: int, delete: bool = True,
                  confirm: Callable[[Entry], bool] | None = None,
                  memory: WarningMemory | None = None) -> JanitorReport:  # fmt: skip
    """One sweep. ``delete=False``: delete nothing, list what would be deleted. ``confirm``: asked before each
    deletion (no: the resource is skipped as DECLINED). ``memory``: where warnings are remembered; None warns
    about every idle resource."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    report = JanitorReport(checked_at=_iso(now), idle_warning_hours=idle_warning_hours)
    watched: list[tuple[Serving, Entry]] = []
    for item in find_serving():
        entry = classify(item, now)
        if entry.reason == EXPIRED:
            _expire(report, entry, delete, confirm)
            continue
        report.skipped.append(entry)
        if watched_for_idleness(item, entry, now, idle_warning_hours):
            watched.append((item, entry))
    if watched:
        _warn_idle(report, watched, now, memory)
    return report


def _expire(report: JanitorReport, entry: Entry, delete: bool, confirm: Callable[[Entry], bool] | None) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from distill.errors import PipelineError

    if not delete:
        report.would_delete.append(entry)
        return
    if confirm is not None and not confirm(entry):
        report.skipped.append(_with(entry, DECLINED))
        return
    try:
        outcome = serving_inventory.delete_serving(entry.arn)
    except (PipelineError, ClientError, BotoCoreError) as error:
        report.failed.append(_with(entry, DELETE_FAILED, str(error)))
        return
    if outcome == "deleted":
        report.deleted.append(entry)
    else:
        report.skipped.append(_with(entry, GONE if outcome == "gone" else BUSY))


def _with(entry: Entry, reason: str, detail: str = "") -> Entry:
    return Entry(entry.kind, entry.name, entry.arn, reason, detail, entry.expires_at)


def _warn_idle(report: JanitorReport, watched: list[tuple[Serving, Entry]], now: datetime,
               memory: WarningMemory | None) -> None:  # fmt: skip
    from botocore.exceptions import BotoCoreError, ClientError

    hours = report.idle_warning_hours
    try:
        totals = invocation_metrics.invocation_totals([v for item, _ in watched for v in (item.arn, item.model_arn) if v],
                                   now - timedelta(hours=hours), now)  # fmt: skip
    except (ClientError, BotoCoreError) as error:
        report.failed.append(Entry("cloudwatch", "GetMetricData", "", IDLE_CHECK_FAILED, str(error)))
        return
    idle = [(item, entry) for item, entry in watched
            if totals.get(item.arn, 0.0) + totals.get(item.model_arn, 0.0) == 0]  # fmt: skip
    due = [item.arn for item, _ in idle]
    if memory is not None:
        try:
            warned = memory.load()
        except (ClientError, BotoCoreError) as error:
            # Without the memory a warning could repeat every hour: warn about nothing, say why.
            report.failed.append(Entry("s3", "idle warnings", "", IDLE_CHECK_FAILED, str(error)))
            return
        due, keep = due_warnings(due, warned, now.astimezone(UTC).date().isoformat())
        if keep != warned:
            try:
                memory.save(keep)
            except (ClientError, BotoCoreError) as error:  # the warnings still go out; they may repeat
                report.failed.append(Entry("s3", "idle warnings", "", IDLE_CHECK_FAILED, str(error)))
    report.idle += [_with(entry, IDLE, f"no invocations in {hours} h") for item, entry in idle if item.arn in due]


# --- telling the topic -----------------------------------------------------------------------------------
_NOUN = {"provisioned-throughput": "provisioned throughput", "on-demand-deployment": "on-demand deployment"}
_IDLE_COST = {
    "provisioned-throughput": "billed by the hour while it exists, used or not",
    "on-demand-deployment": "billed per token only, so idle it costs nothing, but it may no longer be needed",
}


def message(report: JanitorReport) -> tuple[str, str]:
    """(subject, body) of the notice for ``report``."""
    parts = [f"{len(report.deleted)} deleted"] if report.deleted else []
    parts += [f"{len(report.idle)} idle"] if report.idle else []
    subject = f"distill janitor: {', '.join(parts) or 'nothing to report'}"
    lines = [f"The janitor of the distillation pipeline checked its serving at {report.checked_at}.", ""]
    if report.deleted:
        lines.append(f"Deleted, their {EXPIRES_AT_TAG} had passed:")
        lines += [f"- {_NOUN.get(e.kind, e.kind)} {e.name} (expired {e.expires_at})\n  {e.arn}" for e in report.deleted]
        lines.append("")
    if report.idle:
        lines.append(f"No invocations in the last {report.idle_warning_hours} hours:")
        for e in report.idle:
            until = f"; expires {e.expires_at}" if e.expires_at else "; no expiry set"
            lines.append(f"- {_NOUN.get(e.kind, e.kind)} {e.name}: {_IDLE_COST.get(e.kind, '')}{until}\n  {e.arn}")
        lines += ["Delete what is no longer needed with `distill cleanup`. Each idle resource is mentioned at most "
                  "once a day.", ""]  # fmt: skip
    if report.failed:
        lines.append("Could not be handled (the next sweep tries again):")
        lines += [f"- {e.name} {e.arn}: {e.reason}: {e.detail}".rstrip() for e in report.failed]
    return subject[:100], "\n".join(lines).rstrip() + "\n"


def notify(report: JanitorReport, settings: PipelineSettings) -> bool:
    """Publish one notice to the pipeline's topic when something was deleted or warned about; True if it did."""
    if not report.newsworthy or not settings.notification_topic_arn:
        return False
    subject, body = message(report)
    aws.client("sns").publish(TopicArn=settings.notification_topic_arn, Subject=subject, Message=body)
    return True
