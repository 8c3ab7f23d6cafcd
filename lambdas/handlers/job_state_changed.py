"""Target of the EventBridge rule on Bedrock's "Model Customization Job State Change" events."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from distill import job_waits
from distill.observability import lambda_entry, logger, metrics
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = job_waits.job_state_changed(event, load_settings())
    logger.info("job state change handled", extra={"jobEvent": result})
    if result["resumed"]:
        metrics.add_metric("RunsResumedByEvent", MetricUnit.Count, 1)
    return result
