"""``distill convert IN OUT``: write bedrock-conversation-2024 JSONL, only if the whole dataset is valid.

IN is a file, a folder of .jsonl/.jsonl.gz files, or an s3:// object or prefix; OUT a file or an s3:// key.
OUT appears (or is replaced) only when the run succeeds. Exit status: 0 done, 1 invalid data, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from distill_cli.commands.validate import (
    UsageError,
    add_format_arguments,
    open_sources,
    print_errors,
    progress_printer,
    usage_error,
)

if TYPE_CHECKING:
    from distill.dataset import Sink


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="a file, a folder of .jsonl/.jsonl.gz files, or an s3:// URI")
    parser.add_argument("output", metavar="OUT", help="the JSONL file (or s3:// object) to write")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument(
        "--system-prompt", metavar="TEXT", default="", help="system prompt for every record (replaces the records' own)"
    )
    prompt.add_argument("--system-prompt-file", metavar="F", help="read the system prompt from a UTF-8 file")
    add_format_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from distill.dataset import ConvertOptions, convert

    try:
        system_prompt = _system_prompt(args)
        sources = open_sources(args.input)
        sink = output_sink(args.output, sources)
    except UsageError as error:
        return usage_error("convert", str(error))
    options = ConvertOptions(args.input_format, args.on_invalid, system_prompt)
    report = convert(sources, sink, options, progress=progress_printer(sources))
    print_errors(report)
    if not report.ok:
        print(f"{args.output} left untouched", file=sys.stderr)
    print(report.summary_line())
    return 0 if report.ok else 1


def _system_prompt(args: argparse.Namespace) -> str:
    if args.system_prompt_file is None:
        return str(args.system_prompt)
    try:
        with open(args.system_prompt_file, encoding="utf-8-sig") as file:
            return file.read().strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--system-prompt-file: {error}") from None


def output_sink(output: str, sources: Sequence[Any] = ()) -> Sink:
    """Where OUT goes: an S3 multipart upload or a file written atomically; refuses a folder, a missing folder
    and any of ``sources`` (the input is never modified). Also `distill logs export`'s."""
    if output.startswith("s3://"):
        from distill import aws
        from distill.dataset import S3MultipartSink

        if any(getattr(source, "name", None) == output for source in sources):
            raise UsageError("OUT is one of the inputs; the input is never modified")
        try:
            return S3MultipartSink(aws.client("s3"), output)
        except ValueError as error:
            raise UsageError(str(error)) from None
    from distill.dataset import AtomicFileSink

    if os.path.isdir(output):
        raise UsageError(f"{output} is a folder; OUT must be a file")
    parent = os.path.dirname(output) or "."
    if not os.path.isdir(parent):
        raise UsageError(f"{parent}: no such folder for OUT")
    if os.path.exists(output):
        for source in sources:
            path = getattr(source, "path", None)
            if path is not None and os.path.samefile(path, output):
                raise UsageError("OUT is one of the inputs; the input is never modified")
    return AtomicFileSink(output)
