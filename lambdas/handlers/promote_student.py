"""Lambda for the states "Promote the student" and "Check the promotion"."""

from typing import Any

from distill import evaluation_steps
from distill.observability import lambda_entry
from distill.run_request import run_from_state
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return evaluation_steps.promote_student(run_from_state(event["run"]), event["job"], event.get("promotion"),
                                            load_settings())  # fmt: skip
