"""Powertools Logger, Tracer and Metrics, set up once and shared by every handler."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_entry(handler: Handler) -> Handler:
    """Structured JSON logs keyed by execution, an X-Ray segment and EMF metrics around a handler."""

    @functools.wraps(handler)
    def keyed(event: dict[str, Any], context: Any) -> dict[str, Any]:
        run = (event.get("run") or (event.get("state") or {}).get("run")) if isinstance(event, dict) else None
        execution = (run or {}).get("executionName") or (event.get("execution") or {}).get("name", "")
        logger.append_keys(execution=execution)
        return handler(event, context)

    logged = logger.inject_lambda_context(clear_state=True)(keyed)
    traced = tracer.capture_lambda_handler(logged)
    return metrics.log_metrics(traced)  # type: ignore[no-any-return]
