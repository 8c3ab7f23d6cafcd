"""Light cold starts: importing the handlers (what Lambda bills as init) loads none of the heavy modules; they
load where they are used. Times are measured by ``make bench`` (bench/bench_cold_start.py), not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HEAVY = ("aws_xray_sdk", "boto3", "botocore.session", "botocore.client", "distill.dataset.engine",
         "distill.dataset.formats")


def test_given_every_handler_when_imported_as_lambda_does_then_no_heavy_module_is_loaded():
    handlers = sorted(p.stem for p in (LAMBDAS / "handlers").glob("*.py") if p.stem != "__init__")
    probe = (
        "import importlib, json, sys\n"
        f"for name in {handlers!r}: importlib.import_module('handlers.' + name)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(LAMBDAS), "AWS_LAMBDA_FUNCTION_NAME": "probe",
           "POWERTOOLS_SERVICE_NAME": "distill-pipeline", "AWS_REGION": "us-east-1"}  # tracing on, as deployed  # fmt: skip
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                                       check=True).stdout)  # fmt: skip
    assert len(handlers) >= 12
    assert loaded == [], f"imported at cold start: {loaded}"


def test_given_tracing_on_when_a_handler_is_first_invoked_then_the_tracer_is_made_then_and_wraps_the_call(
    monkeypatch,
):
    from distill import observability

    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    monkeypatch.setattr(observability, "_tracer", None)
    calls = []

    @observability.lambda_entry
    def handler(event, context):
        calls.append(event)
        return {"ok": True}

    from tests.support.aws_world import LambdaContext

    assert observability._tracer is None  # decorating made no tracer
    assert handler({"run": {"executionName": "x"}}, LambdaContext()) == {"ok": True}
    assert observability._tracer is not None and calls == [{"run": {"executionName": "x"}}]
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert handler({}, LambdaContext()) == {"ok": True}
