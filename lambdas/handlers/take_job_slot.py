"""Lambda for the state "Wait for a job slot" (a callback task: the token comes in the event).

Event: ``{"run": <$.run>, "token": <$$.Task.Token>}``. When a slot is free the token is answered here; otherwise
the run waits in line and the release that frees a slot answers it. Either way the task's result is
``{"slot": "granted", "position": 0, "waited": <bool>, "waitedSeconds": <int>, "limit": <int>}``. What this
function returns (only logged) says which: ``{"slot": "granted"|"queued"|"gone", "position": <0, n-th in line, or null>, ...}`` ("gone": the token was
already closed, the task timed out; its retry takes again).
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import job_slot_store
from distill.observability import lambda_entry, logger, metrics
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = run_from_state(event["run"])
    result = job_slot_store.take(load_settings(), run.run_id, event["token"], run.execution_arn)
    logger.info("job slot taken" if result["slot"] == "granted" else "waiting for a job slot", extra={"slot": result})
    metrics.add_metric("JobSlotGrantedAtOnce" if result["slot"] == "granted" else "JobSlotQueued",
                       MetricUnit.Count, 1)  # fmt: skip
    return result
