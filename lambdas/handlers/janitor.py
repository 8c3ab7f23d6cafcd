"""Target of an hourly EventBridge schedule: delete expired serving, warn about idle serving (distill.janitor),
and free the job slots of runs that ended without giving theirs back (distill.job_slot_store.sweep).

The event's content is not read, except ``{"dryRun": true}`` from a person testing it: then nothing is deleted,
remembered or published. A sweep that could not do everything (a delete or the idle check failed) raises
``JanitorIncomplete`` after it has told the topic what it did, so the failure shows in the function's errors.
"""

from datetime import UTC, datetime
from typing import Any

from distill import clock, janitor, job_slot_store
from distill.errors import PipelineError
from distill.observability import lambda_entry, logger
from distill.settings import load_settings


class JanitorIncomplete(PipelineError):
    """Some expired or idle serving could not be handled; the next sweep tries again."""


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = load_settings()
    now = datetime.fromtimestamp(clock.now(), UTC)
    if isinstance(event, dict) and event.get("dryRun") is True:
        report = janitor.sweep_serving(now, idle_warning_hours=settings.idle_warning_hours, delete=False)
        return {**report.to_dict(), "notified": False}
    problems: list[str] = []
    try:  # first: a stuck slot keeps runs waiting; a failure here must not stop the serving sweep
        slots = job_slot_store.sweep(settings)
    except Exception as error:
        slots, problems = {}, [f"job slots: {type(error).__name__}: {error}"]
    report = janitor.sweep(settings, now)
    notified = janitor.notify(report, settings)
    result = {**report.to_dict(), "notified": notified, "jobSlots": slots}
    logger.info("janitor sweep", extra={"deleted": len(report.deleted), "idle": len(report.idle),
                                        "failed": len(report.failed), "notified": notified,
                                        "slotsFreed": slots.get("swept", [])})  # fmt: skip
    problems += [f"{e.name} {e.arn}: {e.reason}: {e.detail}" for e in report.failed]
    if problems:
        raise JanitorIncomplete("; ".join(problems))
    return result
