"""distill cleanup : list the provisioned throughput and on-demand deployments this pipeline created and delete
what you choose.

Only resources carrying the pipeline's tag are listed; data in S3 is never touched. Provisioned throughput bills
by the hour; an on-demand custom model deployment bills per token only, so an idle one costs nothing (it is listed
so it can be removed when it is no longer wanted).

``--expired`` runs the janitor's sweep (distill.janitor) by hand: it deletes the serving whose
``distill:expires-at`` has passed (asking first, unless ``--yes``; ``--list`` only shows what it would delete) and
shows what had no invocations for ``--idle-hours``. It remembers and publishes nothing. Exit 0 done, 1 something
could not be deleted or checked, 2 it would have to ask but stdin is not a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        action="store_true",
        help="delete every listed no-commitment throughput and every listed deployment without asking",
    )
    parser.add_argument("--list", action="store_true", help="only list, delete nothing")
    parser.add_argument(
        "--expired",
        action="store_true",
        help="run the janitor's sweep: delete only serving whose distill:expires-at has passed, show idle serving",
    )
    parser.add_argument("--json", action="store_true", help="with --expired: print the sweep's report as JSON")
    parser.add_argument(
        "--idle-hours",
        type=int,
        default=24,
        help="with --expired: show serving with no invocations for this many hours (default 24, 0 = skip)",
    )
    parser.add_argument(
        "--unit-price",
        type=float,
        help="your price in USD per model unit and hour (Bedrock pricing page), to show the hourly cost",
    )


@dataclass(frozen=True)
class _Found:
    name: str
    arn: str
    line: str  # what the listing shows
    delete: Callable[[str], None] | None  # None: cannot be deleted (a commitment before its term)


def run(args: argparse.Namespace, ask: Any = input) -> int:
    if getattr(args, "expired", False):
        return _expired(args, ask)
    if getattr(args, "json", False):
        print("distill cleanup: --json goes with --expired", file=sys.stderr)
        return 2
    from distill import bedrock, serving_inventory
    from distill.settings import PIPELINE_TAG

    now = datetime.now(UTC)
    found: list[_Found] = []
    for pt in serving_inventory.pipeline_throughputs(*PIPELINE_TAG):
        cost = f"${pt.model_units * args.unit_price:.2f}/h" if args.unit_price else "cost: see --unit-price"
        commitment = (
            f"commitment {pt.commitment} (cannot be deleted before its term)" if pt.commitment else "no commitment"
        )
        line = f"{pt.name}  {pt.status}  {pt.model_units} unit(s)  age {_age(pt.created, now)}  {cost}  {commitment}"
        found.append(_Found(pt.name, pt.arn, line, None if pt.commitment else bedrock.delete_provisioned_throughput))
    for deployment in serving_inventory.pipeline_deployments(*PIPELINE_TAG):
        line = (
            f"{deployment.name}  {deployment.status}  on-demand deployment  age {_age(deployment.created, now)}  "
            "billed per token (no hourly charge)"
        )
        found.append(_Found(deployment.name, deployment.arn, line, bedrock.delete_custom_model_deployment))
    if not found:
        print("nothing to clean up: no provisioned throughput or on-demand deployment created by this pipeline")
        return 0
    for index, item in enumerate(found, 1):
        print(f"[{index}] {item.line}\n    {item.arn}")
    if args.list:
        return 0
    deleted = 0
    for item in found:
        if item.delete is None:
            continue
        if not args.yes:
            if not sys.stdin.isatty() and ask is input:
                print("not a terminal: pass --yes to delete, or --list", file=sys.stderr)
                return 2
            if ask(f"delete {item.name}? [y/N] ").strip().lower() not in ("y", "yes"):
                continue
        item.delete(item.arn)
        deleted += 1
        print(f"deleted {item.arn}")
    print(f"{deleted} deleted, {len(found) - deleted} kept")
    return 0


def _age(created: str, now: datetime) -> str:
    try:
        hours = (now - datetime.fromisoformat(created)).total_seconds() / 3600
    except (TypeError, ValueError):
        return "?"
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"


def _ask_on_stderr(question: str) -> str:
    """Like input(), with the question on stderr: stdout carries only the JSON report."""
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def _expired(args: argparse.Namespace, ask: Any) -> int:
    from distill import janitor

    if args.idle_hours < 0:
        print("distill cleanup: --idle-hours must be 0 or more", file=sys.stderr)
        return 2
    interactive = not (args.yes or args.list)
    cannot_ask = interactive and ask is input and not sys.stdin.isatty()
    if interactive and args.json and ask is input:
        ask = _ask_on_stderr

    def confirm(entry: Any) -> bool:
        return str(ask(f"delete {entry.name}? [y/N] ")).strip().lower() in ("y", "yes")

    report = janitor.sweep_serving(
        datetime.now(UTC),
        idle_warning_hours=args.idle_hours,
        delete=not (args.list or cannot_ask),
        confirm=confirm if interactive else None,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_sweep(report)
    if cannot_ask and report.would_delete:
        print("not a terminal: pass --yes to delete, or --list", file=sys.stderr)
        return 2
    return 1 if report.failed else 0


def _print_sweep(report: Any) -> None:
    from distill import janitor

    noun = {"provisioned-throughput": "throughput", "on-demand-deployment": "deployment"}
    for entry in report.deleted:
        print(f"deleted       {noun.get(entry.kind, entry.kind)} {entry.name}  expired {entry.expires_at}\n"
              f"    {entry.arn}")  # fmt: skip
    for entry in report.would_delete:
        print(f"would delete  {noun.get(entry.kind, entry.kind)} {entry.name}  expired {entry.expires_at}\n"
              f"    {entry.arn}")  # fmt: skip
    ours = [e for e in report.skipped if e.reason != janitor.UNTAGGED]  # others' resources are not shown
    for entry in ours:
        why = entry.reason + (f" ({entry.detail})" if entry.detail else "")
        why += f", expires {entry.expires_at}" if entry.expires_at else ""
        print(f"kept          {noun.get(entry.kind, entry.kind)} {entry.name}  {why}\n    {entry.arn}")
    for entry in report.idle:
        print(f"idle          {noun.get(entry.kind, entry.kind)} {entry.name}  {entry.detail}\n    {entry.arn}")
    for entry in report.failed:
        print(f"failed        {entry.name}  {entry.reason}: {entry.detail}\n    {entry.arn}".rstrip(), file=sys.stderr)
    print(f"{len(report.deleted)} deleted, {len(report.would_delete)} would be deleted, {len(ours)} kept, "
          f"{len(report.idle)} idle, {len(report.failed)} failed")  # fmt: skip
