"""Lambda for the state "Write run summary" (the whole execution state comes in as ``state``)."""

from typing import Any

from distill import steps
from distill.observability import lambda_entry
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.finish_run(event["state"], load_settings())
