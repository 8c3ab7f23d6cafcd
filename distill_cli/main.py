"""Entry point of the ``distill`` console script."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module under distill_cli.commands, one-line help). Keep the imports lazy: see commands/__init__.py.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check JSONL files against Bedrock's distillation dataset rules"),
    "convert": ("convert", "convert and validate a dataset into bedrock-conversation-2024 JSONL"),
    "local-run": ("local_run", "run the whole pipeline offline: synthesized state machine, real handlers"),
    "start": ("start", "start a run of the deployed pipeline on a local file or an s3:// object"),
    "status": ("status", "show (and follow) a run of the deployed pipeline"),
    "cleanup": ("cleanup", "list and delete provisioned throughput / deployments this pipeline created"),
    "doctor": ("doctor", "check, read-only, that the deployed pipeline is ready for its first run"),
    "report": ("report", "download a run's evaluation report (report.html): the student against its teacher"),
    "logs": ("logs", "profile or export Bedrock model invocation logs selected by requestMetadata filters"),
}


def build_parser(load: bool = False) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="distill",
        description="Distil a small model from a large one on Amazon Bedrock, with the pipeline's own core.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {}
    for name, (module, help_text) in COMMANDS.items():
        if load or _available(module):
            parsers[name] = sub.add_parser(name, help=help_text, description=help_text)
    return parser, parsers


def _available(module: str) -> bool:
    return importlib.util.find_spec(f"distill_cli.commands.{module}") is not None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, parsers = build_parser()
    # Only the chosen command's module is imported (it adds its own arguments).
    chosen = next((a for a in argv if not a.startswith("-")), None)
    if chosen in parsers:
        module_name = COMMANDS[chosen][0]
        module = importlib.import_module(f"distill_cli.commands.{module_name}")
        module.add_arguments(parsers[chosen])
        parsers[chosen].set_defaults(run=module.run)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0 if not argv or args.command is None else 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
