"""Lambda for the state "Prepare dataset"."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import steps
from distill.observability import lambda_entry, metrics
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = steps.prepare_dataset(run_from_state(event["run"]), load_settings())
    metrics.add_metric("RecordsIn", MetricUnit.Count, result["recordsRead"])
    metrics.add_metric("RecordsOut", MetricUnit.Count, result["recordsWritten"])
    metrics.add_metric("RecordsDropped", MetricUnit.Count, result["recordsDropped"])
    return result
