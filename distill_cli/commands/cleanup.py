"""distill cleanup : list the provisioned throughput this pipeline created and delete what you choose.

Only resources carrying the pipeline's tag are listed; data in S3 is never touched.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", action="store_true", help="delete every listed no-commitment throughput without asking"
    )
    parser.add_argument("--list", action="store_true", help="only list, delete nothing")
    parser.add_argument(
        "--unit-price",
        type=float,
        help="your price in USD per model unit and hour (Bedrock pricing page), to show the hourly cost",
    )


def run(args: argparse.Namespace, ask: Any = input) -> int:
    from distill import bedrock
    from distill.settings import PIPELINE_TAG

    found = bedrock.pipeline_throughputs(*PIPELINE_TAG)
    if not found:
        print("nothing to clean up: no provisioned throughput created by this pipeline")
        return 0
    now = datetime.now(UTC)
    for index, pt in enumerate(found, 1):
        age = _age(pt.created, now)
        cost = f"${pt.model_units * args.unit_price:.2f}/h" if args.unit_price else "cost: see --unit-price"
        commitment = (
            f"commitment {pt.commitment} (cannot be deleted before its term)" if pt.commitment else "no commitment"
        )
        print(
            f"[{index}] {pt.name}  {pt.status}  {pt.model_units} unit(s)  age {age}  {cost}  {commitment}\n    {pt.arn}"
        )
    if args.list:
        return 0
    deletable = [pt for pt in found if not pt.commitment]
    deleted = 0
    for pt in deletable:
        if not args.yes:
            if not sys.stdin.isatty() and ask is input:
                print("not a terminal: pass --yes to delete, or --list", file=sys.stderr)
                return 2
            if ask(f"delete {pt.name}? [y/N] ").strip().lower() not in ("y", "yes"):
                continue
        bedrock.delete_provisioned_throughput(pt.arn)
        deleted += 1
        print(f"deleted {pt.arn}")
    print(f"{deleted} deleted, {len(found) - deleted} kept")
    return 0


def _age(created: str, now: datetime) -> str:
    try:
        hours = (now - datetime.fromisoformat(created)).total_seconds() / 3600
    except (TypeError, ValueError):
        return "?"
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"
