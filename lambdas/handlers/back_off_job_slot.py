"""Lambda for the state "Back off and queue again": Bedrock refused the job with ServiceQuotaExceededException
although the run held a job slot (something else in the account uses the quota).

Event: ``{"run": <$.run>, "attempt": <back-offs so far, default 0>}``. The slot is given back; returns
``{"attempt": <attempt + 1>, "waitSeconds": <5 min doubling up to 1 h>, ...the release's fields}`` for a Wait
state, after which the run waits for a slot again. After 24 back-offs: QuotaExceeded (the run fails).
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import job_slot_store
from distill.errors import InvalidRunInput
from distill.observability import lambda_entry, logger, metrics
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = run_from_state(event["run"])
    attempt = event.get("attempt") or 0
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise InvalidRunInput(f"the state machine must pass attempt as a whole number >= 0 (got {attempt!r})")
    result = job_slot_store.back_off(load_settings(), run.run_id, attempt)
    logger.info("backing off before queueing again", extra={"slot": result})
    metrics.add_metric("JobSlotBackOff", MetricUnit.Count, 1)
    return result
