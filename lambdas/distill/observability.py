"""Powertools Logger, Metrics and Tracer, set up once and shared by every handler.

The Tracer is made on a function's first invocation, not at import: importing the X-Ray SDK (and the botocore
it patches) costs about 0.3 s, and import time is what Lambda bills as a cold start's init. With tracing
disabled (POWERTOOLS_TRACE_DISABLED, the tests and the offline world) it is never imported at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_tracer: Any = None


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() not in ("1", "true")


def tracer() -> Any:
    """The Powertools Tracer (patches boto3 calls into X-Ray subsegments), made on first use."""
    global _tracer
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer()
    return _tracer


def lambda_entry(handler: Handler) -> Handler:
    """Structured JSON logs keyed by execution, EMF metrics and (when tracing is on) an X-Ray segment around a
    handler."""

    @functools.wraps(handler)
    def keyed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        run = (event.get("run") or (event.get("state") or {}).get("run")) if isinstance(event, dict) else None
        execution = (run or {}).get("executionName") or (event.get("execution") or {}).get("name", "")
        logger.append_keys(execution=execution)
        return handler(event, context)

    measured: Handler = metrics.log_metrics(logger.inject_lambda_context(clear_state=True)(keyed))
    traced: list[Handler] = []

    @functools.wraps(handler)
    def entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not tracing_enabled():
            return measured(event, context)
        if not traced:
            traced.append(tracer().capture_lambda_handler(measured))
        return traced[0](event, context)

    return entry
