"""Target of the EventBridge rule on failed, timed-out and aborted executions."""

from typing import Any

from distill import failures
from distill.observability import lambda_entry
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return failures.notify_failure(event, load_settings())
