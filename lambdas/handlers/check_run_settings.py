"""Lambda for the state "Check run settings"."""

from typing import Any

from distill import steps
from distill.observability import lambda_entry
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.check_run_settings(event, load_settings())
