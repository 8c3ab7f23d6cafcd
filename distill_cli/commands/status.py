"""distill status [EXECUTION] : where a run of the deployed pipeline is, and (with --follow) how it ends."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

JOB_STATE = "Check distillation job"
THROUGHPUT_STATE = "Check provisioned throughput"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from distill_cli.deployed import add_location_arguments

    parser.add_argument("execution", nargs="?", help="execution ARN or name (default: the newest run)")
    parser.add_argument("--follow", action="store_true", help="keep watching until the run ends")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between looks with --follow")
    add_location_arguments(parser)


@dataclass(frozen=True)
class RunStatus:
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    state: str  # the state it is in (or ended in)
    job_status: str
    job_phases: str
    throughput_status: str
    elapsed_seconds: int
    error: str = ""
    cause: str = ""
    output: dict[str, Any] | None = None

    def line(self) -> str:
        parts = [f"{self.status:<9}", f"{_clock(self.elapsed_seconds)}", f"state: {self.state or '-'}"]
        if self.job_status:
            parts.append(f"job: {self.job_status}{f' ({self.job_phases})' if self.job_phases else ''}")
        if self.throughput_status:
            parts.append(f"throughput: {self.throughput_status}")
        return "  ".join(parts)


def look(execution_arn: str) -> RunStatus:
    from distill import aws

    sfn = aws.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=200)["events"]
    state = job = phases = throughput = ""
    for event in events:  # newest first
        entered = event.get("stateEnteredEventDetails")
        if entered and not state:
            state = entered["name"]
        exited = event.get("stateExitedEventDetails")
        if exited and exited["name"] in (JOB_STATE, THROUGHPUT_STATE):
            output = json.loads(exited.get("output") or "{}")
            if exited["name"] == JOB_STATE and not job:
                job = output.get("job", {}).get("status", "")
                details = output.get("job", {}).get("statusDetails", {})
                phases = ", ".join(f"{k.removesuffix('Details')} {v.get('status')}" for k, v in details.items())
            if exited["name"] == THROUGHPUT_STATE and not throughput:
                throughput = output.get("throughput", {}).get("status", "")
    end = described.get("stopDate") or datetime.now(UTC)
    return RunStatus(
        execution_arn=execution_arn,
        status=described["status"],
        state=state,
        job_status=job,
        job_phases=phases,
        throughput_status=throughput,
        elapsed_seconds=int((end - described["startDate"]).total_seconds()),
        error=described.get("error", ""),
        cause=described.get("cause", ""),
        output=json.loads(described["output"]) if described.get("output") else None,
    )


def follow(execution_arn: str, interval: float = 30.0, out: Any = None) -> int:
    """Print each change until the run ends; the last line is SUCCEEDED or FAILED: <cause>."""
    out = out or sys.stdout
    live = out.isatty()
    last = ""
    while True:
        now = look(execution_arn)
        line = now.line()
        if live:
            out.write("\r\033[K" + line)
        elif line.split("  ", 2)[2:] != last.split("  ", 2)[2:]:  # a change other than the clock
            out.write(line + "\n")
        out.flush()
        last = line
        if now.status != "RUNNING":
            break
        time.sleep(interval)
    if live:
        out.write("\n")
    return _verdict(now, out)


def _verdict(now: RunStatus, out: Any) -> int:
    if now.status == "SUCCEEDED":
        for key, value in (now.output or {}).items():
            out.write(f"{key}: {value}\n")
        out.write("SUCCEEDED\n")
        return 0
    out.write(f"FAILED: {now.error or now.status}: {now.cause or 'no cause given'}\n")
    return 1


def run(args: argparse.Namespace) -> int:
    from distill import aws
    from distill_cli import deployed

    where = deployed.find(args)
    arn = args.execution
    if not arn:
        newest = aws.client("stepfunctions").list_executions(stateMachineArn=where.state_machine_arn, maxResults=1)
        if not newest["executions"]:
            print("no runs yet", file=sys.stderr)
            return 1
        arn = newest["executions"][0]["executionArn"]
    elif not arn.startswith("arn:"):
        arn = where.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + arn
    if args.follow:
        return follow(arn, args.interval)
    now = look(arn)
    print(now.line())
    if now.status == "RUNNING":
        return 0
    return _verdict(now, sys.stdout)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"
