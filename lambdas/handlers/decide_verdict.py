"""Lambda for the state "Decide the verdict"."""

from typing import Any

from distill import evaluation_steps
from distill.observability import lambda_entry
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event["state"]
    return evaluation_steps.decide_verdict(run_from_state(state["run"]), state, load_settings())
