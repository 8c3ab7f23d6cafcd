"""Lambda for the state "Preview the invocation logs"."""

from typing import Any

from distill import steps
from distill.observability import lambda_entry
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.preview_invocation_logs(run_from_state(event["run"]), load_settings())
