"""The Lambda service, in process: each function's real handler runs with the environment, role and limits the
template gives it.

Synchronous invocation (a Step Functions task) returns the result or the error as Lambda reports it: an
uncaught exception's class name becomes the ``errorType`` that Retry and Catch match. Asynchronous
invocation (an EventBridge target) is queued on the world's clock; a function error is retried twice, one
minute and then two minutes later, and the event then goes to the function's on-failure destination or
dead-letter queue -- or is lost, as in AWS
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import time
import traceback
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from distill_cli.offline import limits
from distill_cli.offline.asl.interpreter import Invoked
from distill_cli.offline.clock import Scheduler, Wait
from distill_cli.offline.resources import FunctionDef

# Lambda's async retries: "waits one minute before the first retry and two minutes before the second".
ASYNC_RETRY_DELAYS = (60.0, 120.0)
# What every handler runs with on top of its template environment: no metrics on stdout, no X-Ray.
QUIET_ENVIRONMENT = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@dataclass
class Invocation:
    """One call of a handler (or a Lambda service failure instead of one)."""

    function_name: str
    handler: str
    request_id: str
    event: Any
    asynchronous: bool = False
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    output: str = ""  # what the handler printed or logged
    injected_failure: str = ""

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0].rsplit(".", 1)[-1]

    @property
    def ok(self) -> bool:
        return not self.error_type and not self.injected_failure


@dataclass
class _InjectedFailure:
    module: str
    code: str
    after_handler: bool
    remaining: int


@dataclass
class AsyncOutcome:
    """Where an asynchronous event ended: handled, sent to a destination/DLQ, or lost."""

    function: FunctionDef
    event: Any
    attempts: list[Invocation] = field(default_factory=list)
    sent_to: str = ""  # ARN of the on-failure destination or DLQ that got it
    lost: bool = False
    destination_error: str = ""  # why the destination could not take it (then the event is lost)


class LambdaRunner:
    """``checks`` run before each handler call and may refuse it (e.g. the role cannot decrypt the environment):
    ``(function) -> (errorType, message) or None``."""

    def __init__(self, scheduler: Scheduler, functions: Mapping[str, FunctionDef], region: str,
                 acting_as: Callable[[FunctionDef], contextlib.AbstractContextManager[Any]],
                 send_to: Callable[[str, Any, FunctionDef], None]) -> None:  # fmt: skip
        self.scheduler = scheduler
        self.functions = dict(functions)  # by ARN and by name
        self.region = region
        self.acting_as = acting_as
        self.send_to = send_to  # (destination ARN, record, function) -> deliver with the function's role
        self.invocations: list[Invocation] = []
        self.failures: list[_InjectedFailure] = []
        self.async_outcomes: list[AsyncOutcome] = []
        self.checks: list[Callable[[FunctionDef], tuple[str, str] | None]] = []
        self.observers: list[Callable[[FunctionDef], None]] = []  # told of every invocation (telemetry)

    def function(self, name_or_arn: str) -> FunctionDef:
        key = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        if key not in self.functions:
            raise KeyError(f"no function {name_or_arn} in the templates")
        return self.functions[key]

    # --- test controls -------------------------------------------------------------------------------
    def fail(self, module: str, code: str, *, after_handler: bool, times: int) -> None:
        self.failures.append(_InjectedFailure(module, code, after_handler, times))

    def _take_failure(self, module: str, after: bool) -> _InjectedFailure | None:
        for failure in self.failures:
            if failure.module == module and failure.after_handler == after and failure.remaining > 0:
                failure.remaining -= 1
                return failure
        return None

    # --- synchronous (Step Functions tasks) --------------------------------------------------------------
    def invoke(self, function: str, payload: Any) -> Invoked:
        record = self._run(self.function(function), payload, asynchronous=False)
        if record.injected_failure:
            return Invoked(False, error=f"Lambda.{record.injected_failure}",
                           cause=f"Simulated Lambda {record.injected_failure}")  # fmt: skip
        if record.error_type:
            cause = json.dumps({"errorMessage": record.error_message, "errorType": record.error_type,
                                "requestId": record.request_id, "stackTrace": []})  # fmt: skip
            return Invoked(False, error=record.error_type, cause=cause)
        return Invoked(True, result=record.result)

    # --- asynchronous (EventBridge targets) --------------------------------------------------------------
    def invoke_async(self, function: str, event: Any, delay: float = 0.5) -> AsyncOutcome:
        spec = self.function(function)
        if limits.payload_bytes(event) > limits.LAMBDA_ASYNC_PAYLOAD_BYTES:
            raise limits.LimitExceeded(f"{spec.name}: asynchronous payload over 256 KB")
        outcome = AsyncOutcome(spec, event)
        self.async_outcomes.append(outcome)
        self.scheduler.spawn(self._deliver(outcome), name=f"async {spec.name}", delay=delay)
        return outcome

    def _deliver(self, outcome: AsyncOutcome) -> Generator[Wait, Any, None]:
        spec = outcome.function
        retries = min(spec.max_retries, len(ASYNC_RETRY_DELAYS))
        for attempt in range(retries + 1):
            record = self._run(spec, outcome.event, asynchronous=True)
            outcome.attempts.append(record)
            if record.ok:
                return
            if attempt < retries:
                yield self.scheduler.sleep(ASYNC_RETRY_DELAYS[attempt])
        last = outcome.attempts[-1]
        target = spec.on_failure or spec.dead_letter
        if not target:
            outcome.lost = True  # "Lambda discards the event"
            return
        if spec.on_failure:
            sent = {
                "version": "1.0",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.scheduler.now())),
                "requestContext": {"requestId": last.request_id, "functionArn": f"{spec.arn}:$LATEST",
                                   "condition": "RetriesExhausted", "approximateInvokeCount": len(outcome.attempts)},
                "requestPayload": outcome.event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": {"errorType": last.error_type or f"Lambda.{last.injected_failure}",
                                    "errorMessage": last.error_message},
            }  # fmt: skip
        else:
            sent = outcome.event  # a DLQ gets the event itself
        try:
            self.send_to(target, sent, spec)
        except Exception as error:
            outcome.lost, outcome.destination_error = True, str(error)
            return
        outcome.sent_to = target

    # --- one call --------------------------------------------------------------------------------------------
    def _run(self, spec: FunctionDef, event: Any, *, asynchronous: bool) -> Invocation:
        from distill.settings import load_settings

        record = Invocation(spec.name, spec.handler, str(uuid.uuid4()), event, asynchronous)
        self.invocations.append(record)
        if injected := self._take_failure(record.module, after=False):
            record.injected_failure = injected.code
            return record
        for observe in self.observers:
            observe(spec)
        for check in self.checks:
            refused = check(spec)
            if refused:
                record.error_type, record.error_message = refused
                return record
        environment = {
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **QUIET_ENVIRONMENT,
        }
        context = _Context(spec, record.request_id)
        module_name, _, attribute = spec.handler.rpartition(".")
        with _environment(environment), _captured(environment.get("POWERTOOLS_SERVICE_NAME", "")) as out, \
                self.acting_as(spec):  # fmt: skip
            load_settings.cache_clear()  # each function reads its own environment
            try:
                handler = getattr(importlib.import_module(module_name), attribute)
                result = handler(json.loads(json.dumps(event)), context)
                size = limits.payload_bytes(result)
                if size > limits.LAMBDA_SYNC_PAYLOAD_BYTES:
                    raise _PayloadTooLarge(f"Response payload size ({size} bytes) exceeded maximum allowed")
                record.result = json.loads(json.dumps(result))
            except Exception as error:
                record.error_type = "Runtime.MarshalError" if isinstance(error, TypeError) and "JSON" in str(
                    error) else type(error).__name__  # fmt: skip
                record.error_message = str(error)
                record.traceback = traceback.format_exc()
            finally:
                record.output = out.getvalue()
                load_settings.cache_clear()
        if injected := self._take_failure(record.module, after=True):
            record.injected_failure = injected.code
        return record


class _PayloadTooLarge(Exception):
    pass


class _Context:
    def __init__(self, spec: FunctionDef, request_id: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"offline/[$LATEST]{request_id.replace('-', '')}"
        self._timeout_ms = spec.timeout * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _captured(service_logger: str) -> Iterator[io.StringIO]:
    """Capture what a handler prints and logs (Powertools' handler holds the stream it was created with)."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger(service_logger).handlers if service_logger else []:
        if isinstance(handler, logging.StreamHandler):
            swapped.append((handler, handler.setStream(buffer)))
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)
