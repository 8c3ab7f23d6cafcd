"""``distill local-run FILE --many N``: N copies of FILE land in the drop zone at the same moment, as when a team
uploads a batch. Each starts its run through the drop rule; the runs share the account's job quota through the
job queue (maxConcurrentJobs), and the simulated Bedrock refuses a job over ``--max-running-jobs`` as the real
quota would (with ``--max-running-jobs J`` Service Quotas answers J too, as in an account whose quota is J; without
it the quota has no value offline and the queue's safe default, 2, applies). One line per run as it ends, then what
Bedrock itself recorded: the most jobs that ever ran at once.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

QUEUE_STATES = ("Join the job queue", "Wait for a job slot", "Back off and queue again", "Wait before queueing again")
MAX_MANY = 100


def problem(args: argparse.Namespace) -> str:
    """What is wrong with --many and the options around it, or ""."""
    if args.many is None:
        return "--max-running-jobs needs --many" if args.max_running_jobs is not None else ""
    if not 2 <= args.many <= MAX_MANY:
        return f"--many must be between 2 and {MAX_MANY}"
    if args.invocation_logs is not None or args.via_drop or args.name or args.promote_to:
        return "--many drops copies of a dataset FILE; leave out --invocation-logs, --via-drop, --name and --promote-to"
    if args.max_running_jobs is not None and args.max_running_jobs < 1:
        return "--max-running-jobs must be at least 1"
    return ""


def run_many(args: argparse.Namespace, pipeline: Any, settings: dict[str, Any], say: Any) -> int:
    """Drop the copies, follow every run to its end; exit 0 when all succeeded."""
    from distill.job_slot_store import LEDGER_NAME
    from distill_cli.offline.trace import clock_text

    limit = pipeline.settings.get("maxConcurrentJobs", "auto")
    say(f"Dropping {args.many} copies of {args.file} into s3://{pipeline.bucket}/{pipeline.drop_prefix} at once "
        f"(maxConcurrentJobs {json.dumps(limit)}; the simulated Bedrock allows {pipeline.bedrock.max_running_jobs} "
        "running jobs)")  # fmt: skip
    if settings:
        say(f"  each with the sidecar {json.dumps(settings)}")
    say("")
    results = pipeline.drop_many(args.file, args.many, settings=settings or None)
    for number, result in enumerate(results, start=1):
        queued = result.seconds_in(*QUEUE_STATES)
        backed_off = result.states_entered().count("Back off and queue again")
        say(f"  {number:>3}  {result.status:<9} {clock_text(result.virtual_seconds):>9} in all, "
            f"{clock_text(queued):>9} in the job queue" + (f", backed off {backed_off}x" if backed_off else "")
            + ("" if result.succeeded else f"  {result.message}"))  # fmt: skip
    ledger = pipeline.read_json(f"{pipeline.settings['layout']['queuePrefix']}{LEDGER_NAME}")
    succeeded = sum(r.succeeded for r in results)
    say("")
    say(f"{succeeded} of {args.many} runs SUCCEEDED; {len(pipeline.bedrock.jobs)} jobs created; at most "
        f"{pipeline.bedrock.peak_running_jobs} ran at once (the simulated Bedrock's own record)")  # fmt: skip
    source = ledger.get("limit") or {}
    say(f"job queue: limit {source.get('value')} ({source.get('source')}: {source.get('reason')}); "
        f"{len(ledger['running'])} slot(s) held, {len(ledger['waiting'])} run(s) in line at the end")  # fmt: skip
    if len(results) < args.many:
        say(f"FAILED: only {len(results)} of the {args.many} drops started a run")
        return 1
    if succeeded == args.many:
        say("SUCCEEDED")
        return 0
    say(f"FAILED: {args.many - succeeded} run(s) did not succeed")
    return 1
