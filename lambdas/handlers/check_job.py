"""Lambda for the state "Check distillation job"."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import clock, polling, steps
from distill.observability import lambda_entry, metrics
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = steps.check_job(run_from_state(event["run"]), event["job"], load_settings())
    if polling.job_phase(result["status"]) is not polling.Phase.RUNNING and result.get("startedAt"):
        metrics.add_metric("JobDurationSeconds", MetricUnit.Seconds, int(clock.now()) - result["startedAt"])
    return result
