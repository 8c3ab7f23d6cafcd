"""Lambda for the state "Answer and judge a batch" (an iteration of the evaluation's Map)."""

from typing import Any

from distill import evaluation_steps
from distill.observability import lambda_entry
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluation_steps.evaluate_batch(run_from_state(event["run"]), event["serving"], event["batch"],
                                           load_settings())  # fmt: skip
