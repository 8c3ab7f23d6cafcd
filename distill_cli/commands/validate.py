"""``distill validate FILE...``: check datasets against Bedrock's rules without writing anything.

Each argument is one dataset (a file, a folder of .jsonl/.jsonl.gz files, or an s3:// object or prefix).
Exit status: 0 all valid, 1 something invalid, 2 usage error. The helpers here are shared with ``convert``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from distill.dataset import INPUT_FORMATS, ON_INVALID, ConvertOptions, DatasetReport, convert

PROGRESS_FROM_BYTES = 64 * 1024 * 1024  # smaller inputs finish before a progress line would help


class UsageError(Exception):
    """A bad argument found after parsing (missing file, same input and output): exit status 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a .jsonl or .jsonl.gz file, a folder of them, or an s3:// object or prefix",
    )
    add_format_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print each full report as JSON on stdout")


def add_format_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        dest="input_format",
        choices=INPUT_FORMATS,
        default="auto",
        help="input shape (default: detected per file)",
    )
    parser.add_argument(
        "--on-invalid",
        choices=ON_INVALID,
        default="fail",
        help="fail on any invalid record (default) or drop invalid records",
    )


def run(args: argparse.Namespace) -> int:
    options = ConvertOptions(input_format=args.input_format, on_invalid=args.on_invalid)
    status = 0
    for target in args.files:
        try:
            sources = open_sources(target)
        except UsageError as error:
            return usage_error("validate", str(error))
        report = convert(sources, None, options, progress=progress_printer(sources))
        print_errors(report)
        if args.json:
            import json

            print(json.dumps(report.to_dict(), indent=2))
        print(f"{target}: {report.summary_line()}", file=sys.stderr if args.json else sys.stdout)
        status = status or (0 if report.ok else 1)
    return status


# --- shared with convert -----------------------------------------------------------------------------
def open_sources(target: str) -> list[Any]:
    """Sources for a local path or an s3:// URI; a missing input is a usage error."""
    if target.startswith("s3://"):
        from distill import aws
        from distill.dataset import s3_sources

        try:
            return list(s3_sources(aws.client("s3"), target))
        except ValueError as error:
            raise UsageError(str(error)) from None
    from distill.dataset import local_sources

    try:
        return list(local_sources([target]))
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None


def usage_error(command: str, message: str) -> int:
    print(f"distill {command}: error: {message}", file=sys.stderr)
    return 2


def print_errors(report: DatasetReport) -> None:
    """The first errors of each kind, then how many of each there were in all."""
    for error in report.errors:
        print(f"error [{error.kind}] {error}", file=sys.stderr)
    for kind, count in report.error_counts.items():
        shown = sum(1 for error in report.errors if error.kind == kind)
        if count > shown:
            print(f"  ... {count} {kind} errors in all ({shown} shown)", file=sys.stderr)


def progress_printer(sources: list[Any]) -> Callable[[int], None] | None:
    """A progress line on stderr, for large inputs and only when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    total = 0
    for source in sources:
        size = getattr(source, "size", None)
        if not isinstance(size, int):
            return None  # unknown size (e.g. gzip decompresses to more): no percentage to show
        total += size
    if total < PROGRESS_FROM_BYTES:
        return None
    last = [0.0]

    def show(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done >= total:
            last[0] = now
            end = "\n" if done >= total else ""
            print(
                f"\r{min(done, total) * 100 // total:3d}% of {total / 2**20:.0f} MiB",
                end=end,
                file=sys.stderr,
                flush=True,
            )

    return show
