"""Lambda for the state "Give back the job slot" (after the job ended, however it ended).

Event: ``{"run": <$.run>}``. Returns ``{"released": <bool>, "leftTheLine": <bool>, "handedTo": [run ids],
"dropped": [...], "undelivered": [...], "limit": <int>, "limitSource": <str>, "running": <int>, "waiting": <int>}``.
Idempotent: a retried task gives back nothing twice.
"""

from typing import Any

from distill import job_slot_store
from distill.observability import lambda_entry, logger
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    run = run_from_state(event["run"])
    result = job_slot_store.release(load_settings(), run.run_id)
    logger.info("job slot given back", extra={"slot": result})
    return result
