"""Lambda for the state "Wait for the job to end" (a callback task: the token comes in the event)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import clock, job_waits
from distill.observability import lambda_entry, metrics
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = job_waits.await_job(run_from_state(event["run"]), event["job"], event["token"], load_settings())
    if result["answered"] and event["job"].get("startedAt"):
        metrics.add_metric("JobDurationSeconds", MetricUnit.Seconds, int(clock.now()) - event["job"]["startedAt"])
    return result
