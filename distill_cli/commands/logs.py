"""``distill logs profile|export``: what a requestMetadataFilters selects from Bedrock's invocation logs.

``profile SRC`` reads every log record under SRC (an s3:// prefix or a local folder, in key order) and shows
the requestMetadata keys and values, what the filter selects, the models, the tokens and whether Bedrock would
accept the selection: exit 0 accepted, 1 not, 2 bad arguments or unreadable source.
``export SRC OUT.jsonl`` writes the selection as a bedrock-conversation-2024 dataset plus OUT.holdout.jsonl:
exit 0 written, 1 nothing written (too few / too many records, invalid lines under --on-invalid fail), 2 usage.
Only what the command needs is imported (boto3 only for s3:// paths).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from distill_cli.commands.convert import output_sink
from distill_cli.commands.validate import UsageError, usage_error

if TYPE_CHECKING:
    from distill.invocation_logs import LogProfile
    from distill.invocation_logs.counting import TopValues

DEFAULT_TEACHER = "amazon.nova-pro-v1:0"  # distill.settings.DEFAULT_TEACHER, without importing msgspec here
PIPED_PROGRESS_EVERY = 100_000  # records between two progress lines when stderr is not a terminal
VALUES_SHOWN = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="logs_command", metavar="ACTION", required=True)
    profile = actions.add_parser(
        "profile",
        help="preview what a requestMetadataFilters selects, and whether Bedrock would accept it",
        description="Preview what a requestMetadataFilters selects from invocation logs, before paying for a job.",
    )
    profile.add_argument("source", metavar="SRC", help="s3://bucket/prefix/ or a local folder of .json.gz files")
    _common(profile)
    profile.add_argument("--json", action="store_true", help="print the profile as JSON on stdout")
    export = actions.add_parser(
        "export",
        help="write the selected records as bedrock-conversation-2024 JSONL, with a hold-out file",
        description="Write the selected, usable records as a bedrock-conversation-2024 dataset (de-duplicated by "
        "prompt) and a hold-out file beside it (OUT.holdout.jsonl), both only when complete.",
    )
    export.add_argument("source", metavar="SRC", help="s3://bucket/prefix/ or a local folder of .json.gz files")
    export.add_argument("output", metavar="OUT.jsonl", help="the dataset to write (a file or an s3:// key)")
    _common(export)
    export.add_argument(
        "--holdout", type=float, default=0.05, metavar="F", help="fraction held out by prompt hash (default 0.05)"
    )
    export.add_argument("--json", action="store_true", help="print the export report as JSON on stdout")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filter",
        metavar="JSON|@FILE",
        help='requestMetadataFilters, e.g. \'{"equals": {"use-case": "support"}}\' (default: every record)',
    )
    parser.add_argument(
        "--teacher", default=DEFAULT_TEACHER, metavar="MODEL", help=f"teacher model id (default {DEFAULT_TEACHER})"
    )
    parser.add_argument(
        "--use-prompt-response",
        action="store_true",
        help="count (and export) only responses the teacher wrote, as Bedrock's usePromptResponse does",
    )
    parser.add_argument(
        "--on-invalid",
        choices=("fail", "drop"),
        default="fail",
        help="fail on an invalid log line (default) or skip it",
    )


def run(args: argparse.Namespace) -> int:
    command = f"logs {args.logs_command}"
    try:
        if args.logs_command == "export":
            return _export(args)
        return _profile(args)
    except UsageError as error:
        return usage_error(command, str(error))


# --- profile ---------------------------------------------------------------------------------------------------
def _profile(args: argparse.Namespace) -> int:
    from distill.invocation_logs import profile

    options = _options(args)
    files = _files(args.source)
    progress = _Progress()
    try:
        found = _reading(args.source, lambda: profile(files, options, args.on_invalid, progress))
    finally:
        progress.close()
    _print_invalid(found)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
        print(found.verdict(), file=sys.stderr)
    else:
        print_profile(found, args.source)
    return 0 if found.ok else 1


def print_profile(found: LogProfile, source: str) -> None:
    """The human preview: totals, operations, metadata keys and values, models, tokens, verdict."""
    from distill.invocation_logs import describe
    from distill.invocation_logs.conversation import NOT_USABLE

    options, out = found.options, []
    out.append(
        f"Invocation logs  {source} ({found.files} files, {found.scanned:,} records, "
        f"{found.invalid.total} invalid, {found.elapsed_seconds:.2f} s)"
    )
    out.append(f"Filter           {describe(options.selection)}")
    usage = "its logged responses (--use-prompt-response)" if options.use_prompt_response else "prompts only"
    out.append(f"Teacher          {options.teacher}, {usage}")
    out.append("")
    out.append(_row("", "all", "selected"))
    out.append(_row("records", found.scanned, found.selected))
    out.append(_row("  usable (text conversation)", found.usable, found.selected_usable))
    out.append(_row("    with a response", "", found.with_response))
    out.append(_row("    with a response from the teacher", "", found.teacher_pairs))
    out.append("by operation")
    for name, count in found.operations.rows(8):
        out.append(_row(f"  {name}", count, found.selected_operations.get(name)))
    if found.not_usable.total:
        out.append("not usable")
        for reason, count in found.not_usable.rows(16):
            out.append(_row(f"  {NOT_USABLE.get(reason, reason)}", count, found.selected_not_usable.get(reason)))
    out.append("requestMetadata")
    out.append(_row("  (no requestMetadata)", found.metadata.without, found.selected_metadata.without))
    for key, count in found.metadata.keys.top(16):
        selected = found.selected_metadata.keys.get(key)
        out.append(_row(f"  {_clip(key, 50)}", count, selected))
        out.extend(_value_rows(found.metadata.values.get(key), found.selected_metadata.values.get(key)))
    if not found.metadata.exact:
        out.append("  (counts are estimates: more distinct keys or values than the counters hold)")
    out.append(_row("models (selected)", "records", "answered"))
    for model, count in found.models.rows(10):
        out.append(_row(f"  {_clip(model, 50)}", count, found.answered.get(model)))
    out.append(f"tokens (selected)    input {found.input_tokens:,}  output {found.output_tokens:,}")
    if found.first_timestamp:
        out.append(f"time (selected)      {found.first_timestamp} .. {found.last_timestamp}")
    out.append(f"distinct prompts     {found.distinct_text()} (among the {found.pairs:,} records that count)")
    if options.use_prompt_response and found.mismatches:
        out.append(f"without a response from the teacher: {found.mismatches:,}, e.g.")
        root = source.rstrip("/") + "/"
        for example in found.examples:
            where = example["where"]
            print_where = ".../" + where[len(root) :] if where.startswith(root) else where
            out.append(f"  {print_where}  {example['why']}")
    out.append("")
    out.append(found.verdict())
    print("\n".join(out))


def _value_rows(values: TopValues | None, chosen: TopValues | None) -> list[str]:
    """One row per value of a key (the top VALUES_SHOWN, then the rest as "(other values)")."""
    if values is None:
        return []
    rows: list[str] = []
    shown = values.top(VALUES_SHOWN)
    for value, count in values.rows(VALUES_SHOWN):
        if len(rows) < len(shown):
            rows.append(_row(f"    {_clip(value, 46)}", count, chosen.get(value) if chosen else 0))
        else:
            rest = chosen.total - sum(chosen.get(v) for v, _ in shown) if chosen else 0
            rows.append(_row("    (other values)", count, rest))
    return rows


def _row(label: str, all_: object, selected: object) -> str:
    def show(value: object) -> str:
        return f"{value:,}" if isinstance(value, int) else str(value)

    return f"{label:<50}{show(all_):>9}{show(selected):>10}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --- export ------------------------------------------------------------------------------------------------------
def _export(args: argparse.Namespace) -> int:
    from distill.invocation_logs import export, holdout_path

    options = _options(args)
    if not 0 <= args.holdout <= 0.5:
        raise UsageError(f"--holdout must be between 0 and 0.5, got {args.holdout}")
    if not args.output.endswith(".jsonl"):
        raise UsageError(f"{args.output}: OUT must end with .jsonl")
    files = _files(args.source)
    held = holdout_path(args.output)
    sink = output_sink(args.output)
    holdout_sink = output_sink(held) if args.holdout > 0 else None
    progress = _Progress()
    try:
        report = _reading(
            args.source,
            lambda: export(files, sink, holdout_sink, options, args.holdout, args.on_invalid, progress=progress),
        )
    finally:
        progress.close()
    found = report.profile
    _print_invalid(found)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    lines = [
        f"read {found.scanned:,} records from {found.files} files: {found.selected:,} selected, "
        f"{report.eligible:,} usable{' with a teacher response' if options.use_prompt_response else ''}, "
        f"{report.duplicates:,} duplicate prompts left out"
    ]
    if report.responses_left_out:
        lines.append(
            f"{report.responses_left_out:,} answers by other models than {options.teacher} left out (prompts kept)"
        )
    if report.ok:
        prompts_only = report.training - report.with_response
        lines.append(
            f"wrote {args.output}: {report.training:,} records, {report.with_response:,} with the logged answer"
            + (f", {prompts_only:,} prompts only (the teacher answers them)" if prompts_only else "")
        )
        if holdout_sink is not None:
            lines.append(f"wrote {held}: {report.held_out:,} hold-out records ({args.holdout:g} by prompt hash)")
    else:
        lines.append(f"nothing written: {report.message}")
    print("\n".join(lines), file=sys.stderr if args.json else sys.stdout)
    return 0 if report.ok else 1


# --- shared --------------------------------------------------------------------------------------------------------
def _options(args: argparse.Namespace) -> Any:
    from distill.invocation_logs import FilterError, ProfileOptions, parse_filter

    selection = None
    if args.filter is not None:
        text = args.filter
        if text.startswith("@"):
            try:
                with open(text[1:], encoding="utf-8-sig") as file:
                    text = file.read()
            except (OSError, UnicodeDecodeError) as error:
                raise UsageError(f"--filter: {error}") from None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--filter is not JSON: {error}") from None
        if isinstance(value, dict) and list(value) == ["requestMetadataFilters"]:
            value = value["requestMetadataFilters"]  # the API's field, pasted whole
        try:
            selection = parse_filter(value)
        except FilterError as error:
            raise UsageError(f"--filter: {error}") from None
    if not args.teacher:
        raise UsageError("--teacher must not be empty")
    return ProfileOptions(selection, args.teacher, args.use_prompt_response)


def _files(source: str) -> list[Any]:
    from distill.invocation_logs import local_log_files, s3_log_files

    if source.startswith("s3://"):
        from distill import aws

        return _reading(source, lambda: s3_log_files(aws.client("s3"), source))
    try:
        return list(local_log_files(source))
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None


def _reading(source: str, work: Any) -> Any:
    """Run ``work``; a source that cannot be listed or read is a usage error (exit 2)."""
    try:
        return work()
    except ValueError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"{source}: {error}") from None
    except Exception as error:
        if type(error).__module__.startswith(("botocore", "boto3", "s3transfer")):
            raise UsageError(f"{source}: cannot read: {error}") from None
        raise


def _print_invalid(found: LogProfile) -> None:
    invalid = found.invalid
    label = "dropped" if invalid.on_invalid == "drop" else "error"
    for error in invalid.kept:
        print(f"{label} [{error.kind}] {error}", file=sys.stderr)
    for kind, count in invalid.counts.items():
        shown = sum(1 for error in invalid.kept if error.kind == kind)
        if count > shown:
            print(f"  ... {count} {kind} lines in all ({shown} shown)", file=sys.stderr)


class _Progress:
    """On a terminal, one line rewritten in place (at most 5 times a second, erased at the end); otherwise a
    line every 100,000 records, so a long run in CI still shows it is alive."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, records: int, started: int, total: int) -> None:
        if self.tty:
            now = time.monotonic()
            if now - self.last >= 0.2:
                self.last, self.shown = now, True
                print(f"\r  {records:,} records, file {started} of {total}", end="", file=sys.stderr, flush=True)
        elif records % PIPED_PROGRESS_EVERY == 0:
            print(f"  {records:,} records, file {started} of {total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
