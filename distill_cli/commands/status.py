"""distill status [EXECUTION] : where a run of the deployed pipeline is, and (with --follow) how it ends.

One line per look: ``STATUS  H:MM:SS  state: <state>  job: <status> (<phases>)  throughput|deployment: <status>``.
A finished run adds its outputs and the verdict as the last line: ``SUCCEEDED`` (exit 0) or
``FAILED: <error>: <cause>`` (exit 1). The pipeline or the execution not found: a message, exit 2.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distill import clock

# The states whose result is the job at $.job: the waits for its end ("Check distillation job" in earlier
# versions of the state machine). While a run waits, each look at the job is in a TaskSubmitted event.
QUEUE_STATE = "Wait for a job slot"
JOB_STATES = ("Wait for the job to end (first hour)", "Wait for the job to end", "Check distillation job")
# The states that check what serves the model, and how the status line names it. Their result is at $.serving
# (at $.throughput in earlier versions of the state machine).
SERVING_STATES = {"Check provisioned throughput": "throughput", "Check the deployment": "deployment"}
SERVING_KEYS = ("serving", "throughput")
DEFAULT_INTERVAL = 30.0
# How a run's output fields are shown; other fields get their key split into words.
OUTPUT_LABELS = {
    "jobArn": "job",
    "customModelArn": "custom model",
    "provisionedModelArn": "provisioned model",
    "deploymentArn": "deployment",
    "summaryUri": "summary",
    "reportsUri": "reports",
    "runId": "run id",
}
TRANSIENT_CODES = {"ThrottlingException", "Throttling", "ServiceUnavailable", "InternalServerError", "InternalFailure"}
MAX_FAILED_LOOKS = 5


def interval_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def add_interval_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=interval_seconds, default=DEFAULT_INTERVAL, metavar="SECONDS",
                        help=f"seconds between two looks with --follow (default {DEFAULT_INTERVAL:g})")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from distill_cli.deployed import add_location_arguments

    parser.add_argument("execution", nargs="?", help="execution ARN or name (default: the newest run)")
    parser.add_argument("--follow", action="store_true", help="keep watching until the run ends")
    add_interval_argument(parser)
    add_location_arguments(parser)


@dataclass(frozen=True)
class RunStatus:
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE
    state: str  # the state it is in (or ended in)
    job_status: str
    job_phases: str
    serving_status: str  # of the provisioned throughput or the on-demand deployment
    elapsed_seconds: int
    error: str = ""
    cause: str = ""
    output: dict[str, Any] | None = None
    serving_kind: str = "throughput"
    queue_position: int | None = None  # waiting for a job slot: n-th in line (0: holding one)

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    def key(self) -> tuple[str, ...]:
        """What counts as a change (everything but the clock)."""
        return self.status, self.state, self.job_status, self.job_phases, self.serving_status, str(self.queue_position)

    def line(self) -> str:
        parts = [f"{self.status:<9}", _clock(self.elapsed_seconds), f"state: {self.state or '-'}"]
        if self.queue_position is not None:
            parts.append("queue: a slot is free" if self.queue_position == 0 else f"queue: #{self.queue_position} in line")
        if self.job_status:
            parts.append(f"job: {self.job_status}{f' ({self.job_phases})' if self.job_phases else ''}")
        if self.serving_status:
            parts.append(f"{self.serving_kind}: {self.serving_status}")
        return "  ".join(parts)


def look(execution_arn: str, bucket: Bucket = "") -> RunStatus:
    """``bucket``: the data bucket, to show a queued run's place in line (none without it)."""
    from distill import aws

    sfn = aws.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=200)["events"]
    state = job = phases = serving = ""
    kind = "throughput"
    for event in events:  # newest first
        entered = event.get("stateEnteredEventDetails")
        if entered and not state:
            state = entered["name"]
        looked = event.get("taskSubmittedEventDetails")
        if looked and not job:  # the latest look at the job while the run waits for its end
            job = str(_json_object(json.dumps(_json_object(looked.get("output")).get("Payload"))).get("status") or "")
        exited = event.get("stateExitedEventDetails")
        if not exited:
            continue
        result = _json_object(exited.get("output"))
        if exited["name"] in JOB_STATES and not job:
            found = _json_object(json.dumps(result.get("job")))
            job = str(found.get("status") or "")
            phases = _phases(found.get("statusDetails"))
        elif exited["name"] in SERVING_STATES and not serving:
            kind = SERVING_STATES[exited["name"]]
            found = next((f for k in SERVING_KEYS if (f := _json_object(json.dumps(result.get(k)))).get("status")), {})
            serving = str(found.get("status") or "")
    place = _queue_position(bucket, execution_arn) if state == QUEUE_STATE and described["status"] == "RUNNING" else None
    end = described.get("stopDate") or datetime.fromtimestamp(clock.now(), UTC)
    output = _json_object(described.get("output")) if described.get("output") else None
    return RunStatus(
        execution_arn=execution_arn,
        status=described["status"],
        state=state,
        job_status=job,
        job_phases=phases,
        serving_status=serving,
        serving_kind=kind,
        elapsed_seconds=max(0, int((end - described["startDate"]).total_seconds())),
        error=described.get("error", ""),
        cause=described.get("cause", ""),
        output=output,
        queue_position=place,
    )


Bucket = str | Callable[[], str]  # the data bucket, or how to find it (only a queued run needs it)


def _queue_position(bucket: Bucket, execution_arn: str) -> int | None:
    """The run's place in the job queue's line (distill.job_slot_store), or None when it cannot be read."""
    bucket = bucket() if callable(bucket) else bucket
    if not bucket:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import job_slot_store

    try:
        return job_slot_store.queue_position(bucket, execution_arn)
    except (BotoCoreError, ClientError):
        return None


def follow(execution_arn: str, interval: float = DEFAULT_INTERVAL, out: Any = None, progress: Any = None,
           bucket: Bucket = "") -> int:  # fmt: skip
    """Print each change until the run ends, then the outputs and the verdict (SUCCEEDED or FAILED: ...).

    Changes go to ``progress`` (default ``out``): on a terminal one line rewritten in place, otherwise one
    line per change (the clock alone is not a change). The verdict goes to ``out``. A look that fails for a
    passing reason (throttling, the network) is tried again at the next interval.
    """
    out = out or sys.stdout
    progress = progress or out
    live = _is_terminal(progress)
    last: tuple[str, ...] = ()
    failed_looks = 0
    while True:
        try:
            now = look(execution_arn, bucket)
        except Exception as error:
            failed_looks += 1
            if not _transient(error) or failed_looks >= MAX_FAILED_LOOKS:
                raise
            clock.sleep(interval)
            continue
        failed_looks = 0
        if live:
            progress.write("\r\033[K" + now.line())
        elif now.key() != last:
            progress.write(now.line() + "\n")
        progress.flush()
        last = now.key()
        if not now.running:
            break
        clock.sleep(interval)
    if live:
        progress.write("\n")
        progress.flush()
    return verdict(now, out)


def verdict(now: RunStatus, out: Any) -> int:
    """A finished run's outputs and its last line; the exit code (0 SUCCEEDED, 1 otherwise)."""
    if now.status == "SUCCEEDED":
        for line in output_lines(now.output):
            out.write(line + "\n")
        out.write("SUCCEEDED\n")
        return 0
    reason = failure_text(now.error, now.cause)
    out.write(f"FAILED: {reason}\n" if now.status == "FAILED" else f"FAILED: execution {now.status}: {reason}\n")
    return 1


def output_lines(output: dict[str, Any] | None) -> list[str]:
    lines = []
    for key, value in (output or {}).items():
        label = OUTPUT_LABELS.get(key) or _words(key)
        shown = "(none)" if value is None else value if isinstance(value, str) else json.dumps(value)
        lines.append(f"  {label:<18} {shown}")
    return lines


def failure_text(error: str, cause: str) -> str:
    """``error: cause``; a Lambda error payload as cause reads ``errorType: errorMessage``."""
    payload = _json_object(cause) if cause and cause.lstrip().startswith("{") else {}
    if "errorMessage" in payload:
        return f"{payload.get('errorType') or error}: {payload['errorMessage']}"
    if error and cause:
        return f"{error}: {cause}"
    return error or cause or "no cause given"


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from distill_cli import deployed

    try:
        arn = deployed.execution_of(args)
        bucket = _bucket(args)
        if args.follow:
            return follow(arn, args.interval, bucket=bucket)
        now = look(arn, bucket)
    except deployed.NotDeployed as error:
        print(f"distill status: {error}", file=sys.stderr)
        return 2
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ExecutionDoesNotExist", "InvalidArn"):
            print(f"distill status: no such execution: {args.execution} ({deployed.aws_error(error)})",
                  file=sys.stderr)  # fmt: skip
        else:
            print(f"distill status: {deployed.aws_error(error)}", file=sys.stderr)
        return 2
    except (BotoCoreError, deployed.NoRuns) as error:
        print(f"distill status: {deployed.aws_error(error)}", file=sys.stderr)
        return 2
    print(now.line())
    if now.running:
        return 0
    return verdict(now, sys.stdout)


def _bucket(args: argparse.Namespace) -> Bucket:
    """The data bucket (for a queued run's place in line), found in the stacks only when first needed and then
    kept; "" when it cannot be found: the rest still works."""
    from distill_cli import deployed

    if getattr(args, "bucket", None):  # named: no need to find the stacks (the state machine may be unnamed)
        return str(args.bucket)

    @functools.cache
    def found() -> str:
        try:
            return deployed.find(args).bucket
        except deployed.NotDeployed:
            return ""

    return found


def _transient(error: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "") in TRANSIENT_CODES
    # A history read racing its writer (local emulators) surfaces as a RuntimeError.
    return isinstance(error, (BotoCoreError, RuntimeError))


def _phases(details: Any) -> str:
    if not isinstance(details, dict):
        return ""
    shown = []
    for name, value in details.items():
        status = value.get("status") if isinstance(value, dict) else value
        if status:
            shown.append(f"{name.removesuffix('Details')} {status}")
    return ", ".join(shown)


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _words(key: str) -> str:
    out = "".join(f" {c.lower()}" if c.isupper() else c for c in key).strip()
    return out.removesuffix(" arn").removesuffix(" uri") or key


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"
