"""distill cleanup : list the provisioned throughput and on-demand deployments this pipeline created and delete
what you choose.

Only resources carrying the pipeline's tag are listed; data in S3 is never touched. Provisioned throughput bills
by the hour; an on-demand custom model deployment bills per token only, so an idle one costs nothing (it is listed
so it can be removed when it is no longer wanted).
"""

from __future__ import annotations

import argparse
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
    from distill import bedrock
    from distill.settings import PIPELINE_TAG

    now = datetime.now(UTC)
    found: list[_Found] = []
    for pt in bedrock.pipeline_throughputs(*PIPELINE_TAG):
        cost = f"${pt.model_units * args.unit_price:.2f}/h" if args.unit_price else "cost: see --unit-price"
        commitment = (
            f"commitment {pt.commitment} (cannot be deleted before its term)" if pt.commitment else "no commitment"
        )
        line = f"{pt.name}  {pt.status}  {pt.model_units} unit(s)  age {_age(pt.created, now)}  {cost}  {commitment}"
        found.append(_Found(pt.name, pt.arn, line, None if pt.commitment else bedrock.delete_provisioned_throughput))
    for deployment in bedrock.pipeline_deployments(*PIPELINE_TAG):
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
