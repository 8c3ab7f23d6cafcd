"""The deployable pipeline, offline, end to end: :class:`OfflinePipeline`.

What is real and what is simulated:

* the templates are the synthesized ones (:mod:`.synthesis`), read as CloudFormation would deploy them
  (:mod:`.resources`); S3, SNS and SQS are moto's;
* the state machine definition runs in the ASL interpreter (:mod:`.asl`) on a clock of the world's own
  (:mod:`.clock`): waits and retries take no real time;
* each task runs the function's real handler in process (:mod:`.lambda_runner`), with the environment and role
  the template gives it; every AWS call it makes is authorized against that role (:mod:`.authorizer`);
* Bedrock is simulated (:mod:`.bedrock`), and refuses a job its service role could not run;
* EventBridge delivers what S3 and Step Functions send to the templates' rules (:mod:`.events`), as
  asynchronous invocations; the alarm publishes to the topic only if the topic's key admits CloudWatch.

Usage::

    with OfflinePipeline() as pipeline:
        key = pipeline.upload("samples/support-tickets.jsonl")
        result = pipeline.run({"dataset": key})
        assert result.succeeded, result.message
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from distill_cli.offline.authorizer import Authorizer
from distill_cli.offline.bedrock import SimulatedBedrock, SimulatedBedrockRuntime
from distill_cli.offline.clock import Scheduler
from distill_cli.offline.events import Delivery, EventBus
from distill_cli.offline.lambda_runner import LambdaRunner
from distill_cli.offline.resources import Deployment, StateMachineDef
from distill_cli.offline.results import RunResult, default_execution_name, failure_message, printer
from distill_cli.offline.stepfunctions import SimulatedStepFunctions
from distill_cli.offline.synthesis import SynthesizedApp, synthesize
from distill_cli.offline.trace import Trace, clock_text, facts

REGION = "us-east-1"
ACCOUNT = "123456789012"

__all__ = ["ACCOUNT", "REGION", "OfflinePipeline", "RunResult", "default_execution_name", "failure_message",
           "printer", "synthesize"]  # fmt: skip


class OfflinePipeline:
    """The synthesized pipeline in a simulated account. Bedrock options go to the simulated Bedrock
    (job_outcome, job_checks or job_seconds, throughput_fails, throughput_checks, deployment_fails, deployment_checks);
    ``context`` overrides the CDK context; ``key_policies`` gives imported KMS keys their policies;
    ``real_time`` runs on the system clock instead of the virtual one; ``job_events=False`` loses Bedrock's job
    state-change events (best effort in AWS), so only the backstop notices a job's end."""

    # Set by distill_cli.offline.deploy when the world comes up.
    scheduler: Scheduler
    deployment: Deployment
    authorizer: Authorizer
    runner: LambdaRunner
    bus: EventBus
    machine: StateMachineDef
    s3: Any
    sfn: SimulatedStepFunctions
    bedrock: SimulatedBedrock
    runtime: SimulatedBedrockRuntime

    def __init__(self, *, job_outcome: str = "completed", job_checks: int = 3, job_seconds: float | None = None,
                 throughput_fails: bool = False,
                 throughput_checks: int = 2, deployment_fails: bool = False, deployment_checks: int = 2,
                 context: Mapping[str, Any] | None = None, synthesized: SynthesizedApp | None = None,
                 bucket_name: str | None = None, on_trace: Callable[[str], None] | None = None,
                 real_time: bool = False, key_policies: Mapping[str, Mapping[str, Any]] | None = None,
                 job_events: bool = True, student_quality: float = 0.95, judge_malformed: int = 0,
                 student_latency_ms: int = 120, teacher_latency_ms: int = 650,
                 update_fails: bool = False, max_running_jobs: int | None = None,
                 jobs_quota: int | None = None) -> None:  # fmt: skip
        self.synth = synthesized or synthesize(context)
        self.bedrock_options: dict[str, Any] = {
            "job_outcome": job_outcome, "job_checks": job_checks, "job_seconds": job_seconds,
            "throughput_fails": throughput_fails,
            "throughput_checks": throughput_checks, "deployment_fails": deployment_fails,
            "deployment_checks": deployment_checks, "student_quality": student_quality,
            "judge_malformed": judge_malformed, "student_latency_ms": student_latency_ms,
            "teacher_latency_ms": teacher_latency_ms, "update_fails": update_fails,
            "max_running_jobs": max_running_jobs,
        }  # fmt: skip
        self.jobs_quota = jobs_quota  # the jobs quota Service Quotas answers (None: no value, the safe default)
        self.bucket = bucket_name or "distill-offline-" + uuid.uuid4().hex[:8]
        self.on_trace = on_trace
        self.real_time = real_time
        self.key_policies = dict(key_policies or {})
        self._stack = contextlib.ExitStack()
        self.alarm_notices: list[dict[str, str]] = []  # what the alarm tried to publish, and whether it could
        self.quiet_keys: set[str] = set()  # uploads whose Object Created event is held back (see upload)
        self.job_events = job_events  # False: Bedrock's job state-change events are lost (they are best effort)
        self.job_events_sent = 0
        self.telemetry_lost: list[str] = []  # logs and traces a role could not send (see service_roles)
        self.notices: list[dict[str, str]] = []  # what the functions published to SNS

    # --- set-up ---------------------------------------------------------------------------------------------
    def __enter__(self) -> OfflinePipeline:
        try:
            from distill_cli.offline.deploy import deploy

            deploy(self)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # --- what the templates made -------------------------------------------------------------------------------
    @property
    def functions(self) -> dict[str, str]:
        """handler module -> function name."""
        return {f.module: f.name for f in self.deployment.functions.values()}

    @property
    def settings(self) -> dict[str, Any]:
        any_function = next(iter(self.deployment.functions.values()))
        return dict(json.loads(any_function.environment["PIPELINE_SETTINGS"]))

    @property
    def drop_prefix(self) -> str:
        return str(self.settings.get("layout", {}).get("dropPrefix", "incoming/"))

    @property
    def state_machine_arn(self) -> str:
        return self.machine.arn

    @property
    def definition(self) -> dict[str, Any]:
        return dict(json.loads(self.machine.definition))

    @property
    def invocations(self) -> list[Any]:
        return self.runner.invocations

    def invocations_of(self, module: str) -> list[Any]:
        return [i for i in self.runner.invocations if i.module == module]

    def published(self) -> list[dict[str, str]]:
        """Every message published to the notification topic (by the functions or by an alarm)."""
        return list(self.notices)

    @property
    def denials(self) -> list[Any]:
        return self.authorizer.denials

    # --- the bucket --------------------------------------------------------------------------------------------
    def upload(self, path: str | Path, key: str | None = None, *, trigger: bool = False) -> str:
        """Put a local file into the drop zone as the operator; returns the key (what a run's ``dataset`` names).

        S3's Object Created event for it is held back unless ``trigger``: a test that starts its run by hand
        gets one run, not a second one from the drop rule. Everything else that writes to S3 (the handlers,
        Bedrock, ``distill start``) sends its events as S3 does."""
        path = Path(path)
        key = key or f"{self.drop_prefix}{path.name}"
        self.quiet_keys.discard(key) if trigger else self.quiet_keys.add(key)
        try:
            self.s3.upload_file(str(path), self.bucket, key)
        finally:
            self.quiet_keys.discard(key)
        return key

    def upload_tree(self, directory: str | Path, prefix: str) -> str:
        """Copy a local directory under ``prefix`` (keys keep the relative paths), as ``aws s3 sync`` would, e.g.
        invocation logs in Bedrock's layout; returns the ``s3://`` prefix."""
        root = Path(directory)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.put(f"{prefix}{path.relative_to(root).as_posix()}", path.read_bytes())
        return f"s3://{self.bucket}/{prefix}"

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

    def download(self, destination: str | Path, prefixes: tuple[str, ...] = ("datasets/", "jobs/", "reports/")
                 ) -> list[Path]:  # fmt: skip
        """Copy what runs wrote to the (in-memory) bucket into a local folder, keeping the keys as paths."""
        written = []
        for prefix in prefixes:
            for key in self.keys(prefix):
                target = Path(destination) / key
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.bucket, key, str(target))
                written.append(target)
        return written

    # --- test controls -----------------------------------------------------------------------------------------
    def fail_invocation(self, module: str, code: str = "ServiceException", *, after_handler: bool = True,
                        times: int = 1) -> None:  # fmt: skip
        """Make the Lambda service fail the next ``times`` invocations of ``handlers.<module>`` with ``code``;
        ``after_handler=True`` runs the handler first (its side effects happen), then reports the failure."""
        self.runner.fail(module, code, after_handler=after_handler, times=times)

    # --- running -----------------------------------------------------------------------------------------------
    def start(self, run_input: Mapping[str, Any] | str, name: str | None = None) -> str:
        text = run_input if isinstance(run_input, str) else json.dumps(run_input)
        name = name or f"offline-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        return str(self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=text)
                   ["executionArn"])  # fmt: skip

    def run(self, run_input: Mapping[str, Any] | str, name: str | None = None, *,
            on_trace: Callable[[str], None] | None = None, limit_days: float = 30) -> RunResult:  # fmt: skip
        """Start an execution and follow it to its end (and the deliveries its end causes)."""
        started = time.monotonic()
        arn = self.start(run_input, name)
        return self.wait(arn, on_trace=on_trace, started=started, limit_days=limit_days)

    def wait(self, execution_arn: str, *, on_trace: Callable[[str], None] | None = None,
             started: float | None = None, limit_days: float = 30) -> RunResult:  # fmt: skip
        """Drive the world until the execution has ended and every event its end caused was handled."""
        started = time.monotonic() if started is None else started
        emit = on_trace or self.on_trace
        execution = self.sfn.executions[execution_arn]
        trace = Trace(self.definition)
        lines: list[str] = []
        seen = 0
        before = len(self.bus.deliveries)
        told: set[int] = set()

        def say(line: str) -> None:
            lines.append(line)
            if emit:
                emit(line)

        def flush() -> None:
            nonlocal seen
            for event in execution.events[seen:]:
                for line in trace.feed(event):
                    say(line)
            seen = len(execution.events)
            # EventBridge deliveries (the job's end resuming the run, a failure's notice) when they settle, in
            # the order they happen.
            for index, delivery in enumerate(self.bus.deliveries[before:]):
                if index not in told and delivery.settled:
                    told.add(index)
                    at = clock_text(self.scheduler.now() - execution.started)
                    say(f"{at:>9} + rule {delivery.rule_name} -> {delivery.module}: "
                        f"{delivery.error or facts(delivery.result)}")  # fmt: skip

        def done() -> bool:
            flush()
            return not execution.running and all(d.settled for d in self.bus.deliveries[before:])

        self.scheduler.run_until(done, limit_seconds=limit_days * 86_400)
        flush()
        deliveries = self.bus.deliveries[before:]
        described = execution.describe()
        output = described.get("output")
        return RunResult(
            execution_arn=execution_arn, status=described["status"], output=json.loads(output) if output else None,
            error=described.get("error", ""), cause=described.get("cause", ""), history=list(execution.events),
            trace=lines, seconds=time.monotonic() - started,
            virtual_seconds=(execution.stopped or self.scheduler.now()) - execution.started, deliveries=deliveries,
        )  # fmt: skip

    def settle(self, deliveries: list[Delivery]) -> list[Delivery]:
        self.scheduler.run_until(lambda: all(d.settled for d in deliveries))
        return deliveries

    # --- EventBridge ----------------------------------------------------------------------------------------
    def emit(self, event: Mapping[str, Any]) -> list[Delivery]:
        """Put an event on the bus and drive the world until every target it reached has handled it."""
        return self.settle(self.bus.put(event))

    def on_schedule(self, after_hours: float = 0.0) -> list[Delivery]:
        """Let ``after_hours`` pass on the world's clock, then every scheduled rule fires once (the hourly
        janitor); drives the world until each target has handled its event."""
        self.scheduler.advance(after_hours * 3600)
        return self.settle(self.bus.fire_schedules(account=ACCOUNT, region=REGION, at=self.scheduler.now()))

    def drop(self, path: str | Path, key: str | None = None, settings: Mapping[str, Any] | None = None
             ) -> list[Delivery]:  # fmt: skip
        """Upload into the drop zone as a person would (with an optional ``<key>.settings.json`` sidecar); S3's
        Object Created events reach the rules; returns the deliveries of the data file's event."""
        before = len(self.bus.deliveries)
        self._place(path, key or f"{self.drop_prefix}{Path(path).name}", settings)
        return self.settle(self.bus.deliveries[before:])

    def _place(self, path: str | Path, key: str, settings: Mapping[str, Any] | None) -> None:
        """The sidecar first (when given), then the data file, whose Object Created event starts the run."""
        if settings is not None:
            self.put(key + ".settings.json", json.dumps(dict(settings)))
        self.upload(path, key, trigger=True)

    @staticmethod
    def _started(deliveries: list[Delivery]) -> list[str]:
        """The executions the drop rule's deliveries started."""
        return [d.result["executionArn"] for d in deliveries
                if d.ok and isinstance(d.result, dict) and d.result.get("executionArn")]  # fmt: skip

    def drop_many(self, path: str | Path, count: int, *, settings: Mapping[str, Any] | None = None,
                  on_trace: Callable[[str], None] | None = None) -> list[RunResult]:  # fmt: skip
        """``count`` copies of a file land in the drop zone at the same moment (``<stem>-01.jsonl``, ...), each
        with ``settings`` as its sidecar when given: each Object Created event starts its run; returns every
        run's end, in drop order."""
        path = Path(path)
        stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
        before = len(self.bus.deliveries)
        for number in range(1, count + 1):
            self._place(path, f"{self.drop_prefix}{stem}-{number:02d}.jsonl", settings)
        arns = self._started(self.settle(self.bus.deliveries[before:]))
        return [self.wait(arn, on_trace=on_trace) for arn in arns]

    def object_created_event(self, key: str) -> dict[str, Any]:
        from distill_cli.offline.events import object_created

        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return object_created(self.bucket, key, head, "PutObject", account=ACCOUNT, region=REGION,
                              at=self.scheduler.now())  # fmt: skip

    def run_dropped(self, path: str | Path, key: str | None = None, settings: Mapping[str, Any] | None = None, *,
                    on_trace: Callable[[str], None] | None = None) -> RunResult:  # fmt: skip
        """Drop a file and follow the execution the drop rule started."""
        started = time.monotonic()
        deliveries = self.drop(path, key, settings)
        arns = self._started(deliveries)
        if not arns:
            raise RuntimeError(f"the drop started no execution: {[d.error or d.result for d in deliveries]}")
        result = self.wait(arns[0], on_trace=on_trace, started=started)
        result.deliveries[:0] = deliveries
        return result


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
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
