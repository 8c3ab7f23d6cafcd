"""Run the deployable state machine offline, end to end.

The pieces, and what is real:

* the app is synthesized with the stacks' ``build_app`` (waits scaled down through context, bundling skipped);
* the state machine definition is the one in the synthesized template, with its intrinsics resolved
  (:mod:`distill_cli.offline.template`) and interpreted by moto's Step Functions (Retry, Catch, Wait,
  Choice, timeouts);
* every Lambda function is created in moto with the template's Handler and Environment; moto's Lambda invoke
  is replaced by an in-process call of the real handler (:class:`_HandlerRunner`), so errors reach Step
  Functions as ``errorType`` names exactly as in AWS;
* S3 is moto's; Bedrock is :class:`distill_cli.simulated_bedrock.SimulatedBedrock`, handed to the handlers
  through ``distill.aws.use_factory``.

Usage::

    with OfflinePipeline(job_outcome="completed") as pipeline:
        pipeline.upload("samples/support-tickets.jsonl")
        result = pipeline.run({"dataset": "incoming/support-tickets.jsonl"})
        assert result.status == "SUCCEEDED", result.cause
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from distill_cli.offline.template import Physical, Resolver, generated_name
from distill_cli.offline.trace import Trace, facts

REGION = "us-east-1"
ACCOUNT = "123456789012"

# Waits scaled down, not skipped: the poll loop really turns, moto really sleeps in Wait states.
OFFLINE_CONTEXT: dict[str, Any] = {
    "aws:cdk:bundling-stacks": [],
    "polling": {"firstWaitSeconds": 1, "maxWaitSeconds": 2, "backoffRate": 1.5},
    "throttleRetry": {"intervalSeconds": 1, "maxDelaySeconds": 2},
}
# What every handler runs with on top of its template environment: no metrics on stdout, no X-Ray.
QUIET_ENVIRONMENT = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


# --- synthesis ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SynthesizedApp:
    """The two templates of one synth, by stack name."""

    templates: Mapping[str, Mapping[str, Any]]
    data_stack: str
    pipeline_stack: str
    context: Mapping[str, Any]
    seconds: float


_SYNTH_CACHE: dict[str, SynthesizedApp] = {}
_SYNTH_LOCK = threading.Lock()


def merged_context(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    context = json.loads(json.dumps(OFFLINE_CONTEXT))
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(context.get(key), dict):
            context[key] = {**context[key], **value}
        else:
            context[key] = value
    return context


def synthesize(context: Mapping[str, Any] | None = None) -> SynthesizedApp:
    """Synthesize the app (once per context in this process) and return its templates."""
    full = merged_context(context)
    key = json.dumps(full, sort_keys=True)
    with _SYNTH_LOCK:
        if key not in _SYNTH_CACHE:
            _SYNTH_CACHE[key] = _synthesize(full)
        return _SYNTH_CACHE[key]


def _synthesize(context: dict[str, Any]) -> SynthesizedApp:
    import tempfile

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    started = time.monotonic()
    from stacks.app_builder import build_app

    with tempfile.TemporaryDirectory(prefix="distill-offline-synth-") as outdir:
        app, data, pipeline = build_app(context=context, outdir=outdir)
        assembly = app.synth()
        templates = {
            stack.stack_name: assembly.get_stack_artifact(stack.artifact_id).template for stack in (data, pipeline)
        }
    return SynthesizedApp(
        templates=templates,
        data_stack=data.stack_name,
        pipeline_stack=pipeline.stack_name,
        context=context,
        seconds=time.monotonic() - started,
    )


# --- results --------------------------------------------------------------------------------------------
@dataclass
class Invocation:
    """One in-process call of a handler, as the patched Lambda service made it."""

    function_name: str
    handler: str
    request_id: str
    event: Any
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    output: str = ""  # what the handler printed or logged
    seconds: float = 0.0
    injected_failure: str = ""  # a Lambda service error raised by the harness after/before the call

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0].rsplit(".", 1)[-1]


@dataclass
class Delivery:
    """One EventBridge rule target the harness invoked for an event."""

    rule: str  # logical id of the AWS::Events::Rule
    function: str
    module: str  # handler module, e.g. "start_from_drop"
    result: Any = None
    error: str = ""  # "errorType: errorMessage" when the function failed

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def rule_name(self) -> str:
        """The rule's construct path as CDK names it, without the hash ('OperationsRunEndedBadly')."""
        return re.sub(r"[0-9A-F]{8}$", "", self.rule)


@dataclass
class _Rule:
    stack: str
    logical_id: str
    pattern: dict[str, Any]
    targets: list[dict[str, Any]]


@dataclass
class RunResult:
    execution_arn: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str = ""
    cause: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    seconds: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)  # EventBridge targets the execution's end reached

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def message(self) -> str:
        """The cause, readable: a Lambda error payload becomes ``errorType: errorMessage``."""
        return failure_message(self.error, self.cause)

    def states_entered(self) -> list[str]:
        return [
            e[_details_key(e)]["name"]
            for e in self.history
            if e["type"].endswith("StateEntered") and _details_key(e) in e
        ]

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.history if e["type"] == type_]


def failure_message(error: str, cause: str) -> str:
    text = cause or ""
    with contextlib.suppress(ValueError, TypeError):
        payload = json.loads(text)
        if isinstance(payload, dict) and "errorMessage" in payload:
            return f"{payload.get('errorType') or error}: {payload['errorMessage']}"
    if error and text:
        return f"{error}: {text}"
    return error or text or "(no cause given)"


def _details_key(event: Mapping[str, Any]) -> str:
    return next((k for k in event if k.endswith("EventDetails")), "")


# --- the Lambda service, in process ---------------------------------------------------------------------
def _service_failure(code: str, when: str, response_headers: dict[str, str]) -> bytes:
    """A Lambda service failure as Step Functions names it: ``Lambda.<code>``.

    In AWS a failed Invoke call reaches a task as the error ``Lambda.ServiceException`` (etc.), which the
    state machine's Retry matches. moto 5.2.5 names every Invoke ClientError of a task with a function ARN
    resource just ``Exception``, so the harness reports the failure as an error payload with that name
    instead: the state machine sees the same error name it would see in AWS.
    """
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(
        {"errorType": f"Lambda.{code}", "errorMessage": f"Simulated Lambda {code} ({when} the handler ran)"}
    ).encode()


def _paged_history(response: Any) -> Any:
    """GetExecutionHistory with reverseOrder, maxResults and nextToken, which moto 5.2.5 ignores (it always
    answers every event, oldest first). The failure notifier reads the newest events first."""
    from moto.core.responses import ActionResult

    arn = response._get_param("executionArn")
    events = list(response.stepfunction_backend.get_execution_history(arn)["events"])
    if response._get_param("reverseOrder"):
        events.reverse()
    start = int(response._get_param("nextToken") or 0)
    size = int(response._get_param("maxResults") or 100)
    page: dict[str, Any] = {"events": events[start : start + size]}
    if start + size < len(events):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


class _FakeLambdaContext:
    def __init__(self, function_name: str, arn: str, memory_mb: int, timeout_s: int, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"offline/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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
    for handler in logging.getLogger(service_logger).handlers:
        if isinstance(handler, logging.StreamHandler):
            swapped.append((handler, handler.setStream(buffer)))
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


class _ListHandler(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


@contextlib.contextmanager
def _moto_log_kept(into: list[str]) -> Iterator[None]:
    """moto's ASL interpreter logs each failed state as an error with its whole parse tree: keep it quiet."""
    log = logging.getLogger("moto.stepfunctions.parser")
    handler = _ListHandler(into)
    saved = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.propagate = saved


@dataclass
class _InjectedFailure:
    module: str
    code: str
    after_handler: bool
    remaining: int


class _HandlerRunner:
    """Stands in for ``LambdaSimpleBackend.invoke``: runs the function's real handler in this process."""

    def __init__(self, extra_environment: Mapping[str, str]) -> None:
        self.extra_environment = dict(extra_environment)
        self.invocations: list[Invocation] = []
        self.failures: list[_InjectedFailure] = []
        self._lock = threading.Lock()  # one environment at a time: handlers share os.environ

    def invoke(self, backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
               response_headers: dict[str, str]) -> bytes:  # fmt: skip
        fn = backend.get_function(function_name, qualifier)
        with self._lock:
            return self._invoke(fn, body, response_headers)

    def _take_failure(self, module: str, after: bool) -> _InjectedFailure | None:
        for failure in self.failures:
            if failure.module == module and failure.after_handler == after and failure.remaining > 0:
                failure.remaining -= 1
                return failure
        return None

    def _invoke(self, fn: Any, body: Any, response_headers: dict[str, str]) -> bytes:
        from distill.settings import load_settings

        request_id = str(uuid.uuid4())
        raw = body.decode() if isinstance(body, bytes) else (body or "{}")
        record = Invocation(fn.function_name, fn.handler, request_id, json.loads(raw or "{}"))
        self.invocations.append(record)
        injected = self._take_failure(record.module, after=False)
        if injected:
            record.injected_failure = injected.code
            return _service_failure(injected.code, "before", response_headers)

        environment = {
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **self.extra_environment,
        }
        context = _FakeLambdaContext(fn.function_name, fn.function_arn, fn.memory_size, fn.timeout, request_id)
        module_name, _, attribute = fn.handler.rpartition(".")
        started = time.monotonic()
        with (
            _environment(environment),
            _captured(environment.get("POWERTOOLS_SERVICE_NAME", "service_undefined")) as out,
        ):
            # Each deployed function reads its own environment: no settings cached from another function.
            load_settings.cache_clear()
            try:
                handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
                result = handler(record.event, context)
                payload = json.dumps(result).encode()
            except Exception as error:
                error_type = (
                    "Runtime.MarshalError"
                    if isinstance(error, TypeError) and "JSON" in str(error)
                    else (type(error).__name__)
                )
                record.error_type, record.error_message = error_type, str(error)
                record.traceback = traceback.format_exc()
                response_headers["x-amz-function-error"] = "Unhandled"
                payload = json.dumps({
                    "errorMessage": str(error),
                    "errorType": error_type,
                    "requestId": request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }).encode()  # fmt: skip
            else:
                record.result = result
            finally:
                record.seconds = time.monotonic() - started
                record.output = out.getvalue()
        injected = self._take_failure(record.module, after=True)
        if injected:
            record.injected_failure = injected.code
            response_headers.pop("x-amz-function-error", None)
            return _service_failure(injected.code, "after", response_headers)
        return payload


# --- the pipeline -----------------------------------------------------------------------------------------
class OfflinePipeline:
    """The synthesized pipeline in moto, its handlers in process, Bedrock simulated.

    Bedrock options go to :class:`SimulatedBedrock` (job_outcome, job_checks, throughput_fails,
    throughput_checks, deployment_fails, deployment_checks). ``context`` overrides the CDK context (merged over :data:`OFFLINE_CONTEXT`).
    """

    def __init__(
        self,
        *,
        job_outcome: str = "completed",
        job_checks: int = 3,
        throughput_fails: bool = False,
        throughput_checks: int = 2,
        deployment_fails: bool = False,
        deployment_checks: int = 2,
        context: Mapping[str, Any] | None = None,
        synthesized: SynthesizedApp | None = None,
        bucket_name: str | None = None,
        poll_interval: float = 0.05,
        on_trace: Callable[[str], None] | None = None,
    ) -> None:
        self.synth = synthesized or synthesize(context)
        self.bedrock_options: dict[str, Any] = {
            "job_outcome": job_outcome,
            "job_checks": job_checks,
            "throughput_fails": throughput_fails,
            "throughput_checks": throughput_checks,
            "deployment_fails": deployment_fails,
            "deployment_checks": deployment_checks,
        }
        self.bucket = bucket_name or "distill-offline-" + uuid.uuid4().hex[:8]
        self.poll_interval = poll_interval
        self.on_trace = on_trace
        self.runner = _HandlerRunner(QUIET_ENVIRONMENT)
        self.bedrock: Any = None
        self.s3: Any = None
        self.sfn: Any = None
        self.state_machine_arn = ""
        self.definition: dict[str, Any] = {}
        self.resolver: Resolver | None = None
        self.functions: dict[str, str] = {}  # handler module -> function name
        self.rules: list[_Rule] = []  # the templates' EventBridge rules (the harness delivers their events)
        self.emit_status_events = True
        self._lambda_client: Any = None
        self.moto_log: list[str] = []  # moto's interpreter logs every failed task: kept here, not on stderr
        self._stack = contextlib.ExitStack()

    # --- set-up ----------------------------------------------------------------------------------------
    def __enter__(self) -> OfflinePipeline:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        import boto3
        from moto import mock_aws
        from moto.awslambda_simple.models import LambdaSimpleBackend

        from distill import aws
        from distill_cli.simulated_bedrock import SimulatedBedrock, SimulatedBedrockRuntime

        self._stack.enter_context(_environment({
            "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", **QUIET_ENVIRONMENT,
        }))  # fmt: skip
        self._stack.enter_context(_moto_log_kept(self.moto_log))
        self._stack.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        )
        runner = self.runner

        def invoke(backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                   response_headers: Any) -> bytes:  # fmt: skip
            return runner.invoke(backend, function_name, qualifier, body, headers, response_headers)

        from unittest import mock

        self._stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
        from moto.stepfunctions.responses import StepFunctionResponse

        self._stack.enter_context(mock.patch.object(StepFunctionResponse, "get_execution_history", _paged_history))
        # Runs last-in-first-out: executions still running are stopped while the mock is still up, so no
        # worker thread calls out after the simulated account is gone.
        self._stack.callback(self._stop_running)
        # The settings of the last function called must not outlive the harness (load_settings is cached).
        from distill.settings import load_settings

        self._stack.callback(load_settings.cache_clear)

        self.s3 = boto3.client("s3", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        lambda_ = boto3.client("lambda", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.bedrock = SimulatedBedrock(region=REGION, account=ACCOUNT, s3=self.s3, **self.bedrock_options)
        runtime = SimulatedBedrockRuntime(self.bedrock)
        s3 = self.s3

        def factory(service: str) -> Any:
            if service == "s3":
                return s3
            if service == "bedrock":
                return self.bedrock
            if service == "bedrock-runtime":
                return runtime
            return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

        self._stack.enter_context(aws.clients_from(factory))

        synth = self.synth
        bucket_stack, bucket_id = self._the_bucket()
        physical = {(bucket_stack, bucket_id): Physical(self.bucket, {
            "Arn": f"arn:aws:s3:::{self.bucket}", "DomainName": f"{self.bucket}.s3.amazonaws.com",
            "RegionalDomainName": f"{self.bucket}.s3.{REGION}.amazonaws.com",
        })}  # fmt: skip
        self.resolver = resolver = Resolver(synth.templates, region=REGION, account=ACCOUNT, physical=physical)
        self._create_buckets()

        stack = synth.pipeline_stack
        machines = resolver.resources(stack, "AWS::StepFunctions::StateMachine")
        if len(machines) != 1:
            raise RuntimeError(f"expected one state machine in {stack}, found {len(machines)}")
        ((machine_id, machine),) = machines.items()
        props = machine["Properties"]
        resolver.referenced.clear()
        definition_text = resolver.resolve(stack, props.get("DefinitionString") or props.get("Definition"))
        if not isinstance(definition_text, str):
            definition_text = json.dumps(definition_text)
        for name, value in (resolver.resolve(stack, props.get("DefinitionSubstitutions")) or {}).items():
            definition_text = definition_text.replace("${" + name + "}", str(value))
        self.definition = json.loads(definition_text)

        # The functions the definition names, as the template declares them.
        role_arn = iam.create_role(
            RoleName="distill-offline-lambda",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]  # fmt: skip
        # Every function the definition names, and every function of the project's handlers (e.g. an
        # EventBridge target); not the CDK's own custom-resource providers.
        wanted = set(resolver.referenced)
        for s in synth.templates:
            for logical_id, resource in resolver.resources(s, "AWS::Lambda::Function").items():
                if str(resource.get("Properties", {}).get("Handler", "")).startswith("handlers."):
                    wanted.add((s, logical_id))
        for s, logical_id in sorted(wanted):
            resource = resolver.templates[s]["Resources"].get(logical_id, {})
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            fprops = resource["Properties"]
            name = resolver.physical_of(s, logical_id).ref
            variables = resolver.resolve(s, fprops.get("Environment", {}).get("Variables", {})) or {}
            lambda_.create_function(
                FunctionName=name,
                Runtime=str(fprops.get("Runtime", "python3.13")),
                Role=role_arn,
                Handler=str(fprops["Handler"]),
                Code={"ZipFile": _tiny_zip()},
                Timeout=int(fprops.get("Timeout", 3)),
                MemorySize=int(fprops.get("MemorySize", 128)),
                Environment={"Variables": {k: str(v) for k, v in variables.items()}},
            )
            self.functions[str(fprops["Handler"]).rsplit(".", 1)[0].rsplit(".", 1)[-1]] = name

        self.rules = [
            _Rule(
                s, logical_id, resolver.resolve(s, props["EventPattern"]), resolver.resolve(s, props.get("Targets", []))
            )
            for s in synth.templates
            for logical_id, rule in resolver.resources(s, "AWS::Events::Rule").items()
            if (props := rule.get("Properties", {})).get("EventPattern") and props.get("State", "ENABLED") == "ENABLED"
        ]

        sns = boto3.client("sns", region_name=REGION)
        for s in synth.templates:
            for logical_id in resolver.resources(s, "AWS::SNS::Topic"):
                sns.create_topic(Name=resolver.physical_of(s, logical_id).attributes["TopicName"])

        sm_role = iam.create_role(
            RoleName="distill-offline-states",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]  # fmt: skip
        sm_name = resolver.physical_of(stack, machine_id).attributes.get("Name") or generated_name(
            stack, machine_id, 80
        )
        self.state_machine_arn = self.sfn.create_state_machine(
            name=sm_name,
            definition=json.dumps(self.definition),
            roleArn=sm_role,
            type=str(props.get("StateMachineType", "STANDARD")),
        )["stateMachineArn"]

    def _stop_running(self) -> None:
        if not (self.sfn and self.state_machine_arn):
            return
        with contextlib.suppress(Exception):
            running = self.sfn.list_executions(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
            for execution in running["executions"]:
                self.sfn.stop_execution(
                    executionArn=execution["executionArn"], error="OfflineHarnessClosed", cause="the harness closed"
                )

    def download(
        self, destination: str | Path, prefixes: tuple[str, ...] = ("datasets/", "jobs/", "reports/")
    ) -> list[Path]:
        """Copy what runs wrote to the (in-memory) bucket into a local folder, keeping the keys as paths."""
        written = []
        root = Path(destination)
        for prefix in prefixes:
            for key in self.keys(prefix):
                target = root / key
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.bucket, key, str(target))
                written.append(target)
        return written

    def _the_bucket(self) -> tuple[str, str]:
        """The project's data bucket: the one a ``...BucketName`` output names; else the one no other bucket
        uses as its access-log destination; else the first."""
        buckets: list[tuple[str, str]] = []
        log_targets: set[str] = set()
        for stack in (self.synth.data_stack, self.synth.pipeline_stack):
            template = self.synth.templates[stack]
            for name, output in template.get("Outputs", {}).items():
                ref = output.get("Value", {}).get("Ref") if isinstance(output.get("Value"), dict) else None
                if name.endswith("BucketName") and template.get("Resources", {}).get(ref, {}).get("Type") == (
                    "AWS::S3::Bucket"
                ):
                    return stack, str(ref)
            for logical, resource in template.get("Resources", {}).items():
                if resource.get("Type") == "AWS::S3::Bucket":
                    buckets.append((stack, logical))
                    target = resource.get("Properties", {}).get("LoggingConfiguration", {}).get("DestinationBucketName")
                    if isinstance(target, dict) and "Ref" in target:
                        log_targets.add(target["Ref"])
        if not buckets:
            raise RuntimeError("no AWS::S3::Bucket in the synthesized templates")
        return next((b for b in buckets if b[1] not in log_targets), buckets[0])

    def _create_buckets(self) -> None:
        """Every bucket of the templates (the data bucket under the name this harness chose)."""
        assert self.resolver is not None
        for stack in self.synth.templates:
            for logical_id, resource in self.resolver.resources(stack, "AWS::S3::Bucket").items():
                name = self.resolver.physical_of(stack, logical_id).ref
                self.s3.create_bucket(Bucket=name)
                props = resource.get("Properties", {})
                if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                    self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    # --- settings the handlers see -------------------------------------------------------------------
    @property
    def settings(self) -> dict[str, Any]:
        any_function = next(iter(self.functions.values()))
        config = self._lambda().get_function_configuration(FunctionName=any_function)
        return dict(json.loads(config["Environment"]["Variables"]["PIPELINE_SETTINGS"]))

    def _lambda(self) -> Any:
        if self._lambda_client is None:
            import boto3

            self._lambda_client = boto3.client("lambda", region_name=REGION)
        return self._lambda_client

    @property
    def drop_prefix(self) -> str:
        return str(self.settings.get("layout", {}).get("dropPrefix", "incoming/"))

    # --- test and CLI controls -----------------------------------------------------------------------
    def upload(self, path: str | Path, key: str | None = None) -> str:
        """Put a local file into the drop zone; returns the key (what a run's ``dataset`` names)."""
        path = Path(path)
        key = key or f"{self.drop_prefix}{path.name}"
        self.s3.upload_file(str(path), self.bucket, key)
        return key

    def put(self, key: str, body: bytes | str) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
        return key

    def keys(self, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)

    def read_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def fail_invocation(self, module: str, code: str = "ServiceException", *, after_handler: bool = True,
                        times: int = 1) -> None:  # fmt: skip
        """Make the Lambda service fail the next ``times`` invocations of ``handlers.<module>`` with ``code``.

        ``after_handler=True`` runs the handler first (its side effects happen), then reports the failure: the
        case of a task retried although its first call got through.
        """
        self.runner.failures.append(_InjectedFailure(module, code, after_handler, times))

    @property
    def invocations(self) -> list[Invocation]:
        return self.runner.invocations

    def invocations_of(self, module: str) -> list[Invocation]:
        return [i for i in self.runner.invocations if i.module == module]

    # --- running ---------------------------------------------------------------------------------------
    def start(self, run_input: Mapping[str, Any] | str, name: str | None = None) -> str:
        text = run_input if isinstance(run_input, str) else json.dumps(run_input)
        name = name or f"offline-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        return str(
            self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=text)["executionArn"]
        )

    def run(self, run_input: Mapping[str, Any] | str, name: str | None = None, *, timeout: float = 120.0,
            on_trace: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
        """Start an execution and follow it to its end; trace lines go to ``on_trace`` as they happen."""
        started = time.monotonic()
        arn = self.start(run_input, name)
        return self.wait(arn, timeout=timeout, on_trace=on_trace, started=started)

    def wait(self, execution_arn: str, *, timeout: float = 120.0, on_trace: Callable[[str], None] | None = None,
             started: float | None = None) -> RunResult:  # fmt: skip
        started = time.monotonic() if started is None else started
        emit = on_trace or self.on_trace
        trace = Trace(self.definition, started_at=started)
        history: list[dict[str, Any]] = []
        lines: list[str] = []
        deadline = started + timeout
        while True:
            status = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            new = self._history(execution_arn)[len(history) :]
            history.extend(new)
            for event in new:
                for line in trace.feed(event):
                    lines.append(line)
                    if emit:
                        emit(line)
            if status in TERMINAL:
                # The terminal event may land a moment after the status flips.
                if not any(e["type"].startswith("Execution") and e["type"] != "ExecutionStarted" for e in history):
                    time.sleep(self.poll_interval)
                    continue
                break
            if time.monotonic() > deadline:
                self.sfn.stop_execution(executionArn=execution_arn, error="OfflineTimeout",
                                        cause=f"the offline run took longer than {timeout:.0f}s")  # fmt: skip
                status = "ABORTED"
                break
            time.sleep(self.poll_interval)
        described = self.sfn.describe_execution(executionArn=execution_arn)
        deliveries: list[Delivery] = []
        if self.emit_status_events and described["status"] in TERMINAL:
            deliveries = self.emit(self.status_change_event(described))
            for delivery in deliveries:
                said = delivery.error or facts(delivery.result)
                line = f"{time.monotonic() - started:7.2f}s + rule {delivery.rule_name} -> {delivery.module}: {said}"
                lines.append(line)
                if emit:
                    emit(line)
        output = described.get("output")
        return RunResult(
            execution_arn=execution_arn,
            status=described["status"] if described["status"] in TERMINAL else status,
            output=json.loads(output) if output else None,
            error=described.get("error", ""),
            cause=described.get("cause", ""),
            history=history,
            trace=lines,
            seconds=time.monotonic() - started,
            deliveries=deliveries,
        )

    # --- EventBridge, as far as the pipeline uses it -------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> list[Delivery]:
        """Deliver an event to the Lambda targets of every template rule whose pattern matches it.

        moto's EventBridge does not invoke Lambda targets, so the harness matches the rules' patterns with
        moto's own matcher and invokes the targets (synchronously; AWS does it asynchronously with retries).
        """
        from moto.events.models import EventPattern

        deliveries = []
        for rule in self.rules:
            candidate: Any = dict(event)
            if not EventPattern.load(json.dumps(rule.pattern)).matches_event(candidate):
                continue
            for target in rule.targets:
                arn = str(target.get("Arn", ""))
                if ":lambda:" not in arn:
                    continue
                payload = target.get("Input") or json.dumps(event)
                answer = self._lambda().invoke(FunctionName=arn, Payload=payload.encode())
                body = json.loads(answer["Payload"].read() or b"null")
                function = arn.rsplit(":", 1)[-1]
                module = next((m for m, name in self.functions.items() if name == function), function)
                delivery = Delivery(rule.logical_id, function, module)
                if answer.get("FunctionError"):
                    delivery.error = failure_message(answer["FunctionError"], json.dumps(body))
                else:
                    delivery.result = body
                deliveries.append(delivery)
        return deliveries

    def drop(
        self, path: str | Path, key: str | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[Delivery]:
        """Upload into the drop zone as a person would (with an optional ``<key>.settings.json`` sidecar),
        then deliver the "Object Created" event S3 sends to EventBridge."""
        key = key or f"{self.drop_prefix}{Path(path).name}"
        if settings is not None:
            self.put(key + ".settings.json", json.dumps(dict(settings)))
        self.upload(path, key)
        return self.emit(self.object_created_event(key))

    def object_created_event(self, key: str) -> dict[str, Any]:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        obj: dict[str, Any] = {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"')}
        if head.get("VersionId") and head["VersionId"] != "null":
            obj["version-id"] = head["VersionId"]
        return _event(
            "aws.s3",
            "Object Created",
            f"arn:aws:s3:::{self.bucket}",
            {
                "version": "0",
                "bucket": {"name": self.bucket},
                "object": obj,
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": ACCOUNT,
                "source-ip-address": "127.0.0.1",
                "reason": "PutObject",
            },
        )

    def run_dropped(self, path: str | Path, key: str | None = None, settings: Mapping[str, Any] | None = None, *,
                    timeout: float = 120.0, on_trace: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
        """Drop a file and follow the execution the drop rule started."""
        started = time.monotonic()
        deliveries = self.drop(path, key, settings)
        arns = [
            d.result["executionArn"]
            for d in deliveries
            if d.ok and isinstance(d.result, dict) and d.result.get("executionArn")
        ]
        if not arns:
            raise RuntimeError(f"the drop started no execution: {deliveries}")
        result = self.wait(arns[0], timeout=timeout, on_trace=on_trace, started=started)
        result.deliveries[:0] = deliveries
        return result

    def status_change_event(self, described: Mapping[str, Any]) -> dict[str, Any]:
        def millis(value: Any) -> int | None:
            return int(value.timestamp() * 1000) if hasattr(value, "timestamp") else None

        return _event(
            "aws.states",
            "Step Functions Execution Status Change",
            described["executionArn"],
            {
                "executionArn": described["executionArn"],
                "stateMachineArn": described["stateMachineArn"],
                "name": described["name"],
                "status": described["status"],
                "startDate": millis(described.get("startDate")),
                "stopDate": millis(described.get("stopDate")),
                "input": described.get("input"),
                "output": described.get("output"),
                "error": described.get("error"),
                "cause": described.get("cause"),
            },
        )

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        for attempt in range(5):
            try:
                events: list[dict[str, Any]] = []
                token = None
                while True:
                    kwargs = {"executionArn": execution_arn, "maxResults": 1000}
                    if token:
                        kwargs["nextToken"] = token
                    page = self.sfn.get_execution_history(**kwargs)
                    events.extend(page["events"])
                    token = page.get("nextToken")
                    if not token:
                        break
                return sorted(events, key=lambda e: e["id"])
            except RuntimeError:  # the worker thread changed the history while it was read
                time.sleep(0.01 * (attempt + 1))
        return []


_ZIP: bytes | None = None


def _tiny_zip() -> bytes:
    """moto wants code for a function; the real code runs in process, so any zip will do."""
    global _ZIP
    if _ZIP is None:
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("README.txt", "offline run: the handler runs in process")
        _ZIP = buffer.getvalue()
    return _ZIP


def default_execution_name(path: str | Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).name.lower()).strip("-")[:40] or "run"
    return f"local-{stem}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:4]}"


def printer(stream: TextIO | None = None) -> Callable[[str], None]:
    """A trace sink that writes to the stream current now (not to whatever sys.stdout is later)."""
    out = stream or sys.stdout

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return emit


def _event(source: str, detail_type: str, resource: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event envelope as AWS services deliver them."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": REGION,
        "resources": [resource],
        "detail": detail,
    }
