"""Lambda for the state "Prepare the evaluation"."""

from typing import Any

from distill import evaluation_steps
from distill.observability import lambda_entry
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluation_steps.prepare_evaluation(run_from_state(event["run"]), event.get("dataset") or {},
                                               load_settings())  # fmt: skip
