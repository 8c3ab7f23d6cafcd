"""Turn the selected, usable log records into a bedrock-conversation-2024 dataset and a hold-out file.

* Each record becomes ``{"schemaVersion", "system"?, "messages": [user, (assistant, user)..., assistant?]}``;
  the assistant answer is the logged response when there is one we may use: from the teacher when a teacher is
  named (another model's answer is left out, so the teacher writes its own), from any model otherwise. With
  ``use_prompt_response`` only records answered by the teacher are exported.
* Every record goes through the dataset engine's own checks (``distill.dataset.formats.from_conversation``)
  before it is written, so the file passes ``distill validate``.
* Duplicates by prompt (system prompt and turns, normalized: case, Unicode NFKC, whitespace; see
  ``records.prompt_key``) are written once: the first in key order wins.
* The hold-out split is decided by the prompt's hash: a prompt goes to the hold-out file when the first 8 bytes
  of its key, read as a fraction of 2**64, are below ``holdout``. Same input, same split; a prompt keeps its
  side when other records come or go.
* The training file must hold ``rules.min_records`` to ``rules.max_records`` records (100 to 15,000): otherwise,
  or when an invalid line is met under ``on_invalid="fail"``, nothing is written (both sinks are aborted).
  Both sinks show nothing before commit (temp file + rename locally, multipart upload on S3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from distill.dataset import DatasetRules, Sink
from distill.dataset.formats import Invalid, from_conversation
from distill.dataset.rules import SCHEMA_VERSION
from distill.invocation_logs.conversation import Extracted
from distill.invocation_logs.profiler import Progress, profile
from distill.invocation_logs.reader import Located
from distill.invocation_logs.report import LogProfile, ProfileOptions

MAX_HOLDOUT = 0.5


@dataclass
class ExportReport:
    profile: LogProfile
    holdout_fraction: float
    training: int = 0  # training records (written when ok)
    held_out: int = 0  # hold-out records (written when ok)
    eligible: int = 0  # selected, usable (and answered by the teacher with use_prompt_response)
    duplicates: int = 0
    with_response: int = 0  # training records that carry an assistant answer (the others are prompts only)
    responses_left_out: int = 0  # answers by a model other than the teacher, not written
    rejected: int = 0  # refused by the dataset rules (should not happen: extraction applies the same rules)
    over_limit: bool = False
    ok: bool = False  # True: both files were committed
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "training": self.training,
            "heldOut": self.held_out,
            "holdoutFraction": self.holdout_fraction,
            "eligible": self.eligible,
            "duplicates": self.duplicates,
            "withResponse": self.with_response,
            "responsesLeftOut": self.responses_left_out,
            "rejected": self.rejected,
            "profile": self.profile.to_dict(),
        }


def holdout_path(out: str) -> str:
    """``train.jsonl`` -> ``train.holdout.jsonl``; any other name gets ``.holdout.jsonl`` appended."""
    return out[: -len(".jsonl")] + ".holdout.jsonl" if out.endswith(".jsonl") else out + ".holdout.jsonl"


def in_holdout(key: bytes, fraction: float) -> bool:
    return int.from_bytes(key[:8], "big") < fraction * 2**64


def export(
    files: Sequence[Any],
    sink: Sink,
    holdout_sink: Sink | None,
    options: ProfileOptions | None = None,
    holdout: float = 0.05,
    on_invalid: str = "fail",
    rules: DatasetRules | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    """One pass: profile the logs and write the selected records. Sinks are committed only when ``ok``."""
    if not 0 <= holdout <= MAX_HOLDOUT:
        raise ValueError(f"holdout must be between 0 and {MAX_HOLDOUT}, got {holdout}")
    if holdout > 0 and holdout_sink is None:
        raise ValueError("a hold-out fraction needs a hold-out sink")
    options = options or ProfileOptions()
    rules = rules or DatasetRules(min_records=options.min_records, max_records=options.max_records)
    writer = _Writer(options, rules, sink, holdout_sink if holdout > 0 else None, holdout)
    try:
        found = profile(files, options, on_invalid, progress, consumer=writer.take)
        report = writer.finish(found)
        if report.ok:
            sink.commit()
            if holdout_sink is not None and holdout > 0:
                holdout_sink.commit()
        else:
            sink.abort()
            if holdout_sink is not None:
                holdout_sink.abort()
    except BaseException:
        sink.abort()
        if holdout_sink is not None:
            holdout_sink.abort()
        raise
    return report


class _Writer:
    def __init__(
        self, options: ProfileOptions, rules: DatasetRules, sink: Sink, holdout_sink: Sink | None, fraction: float
    ) -> None:
        self.options = options
        self.rules = rules
        self.sink = sink
        self.holdout_sink = holdout_sink
        self.fraction = fraction
        self.seen: set[bytes] = set()
        self.encode = msgspec.json.Encoder().encode
        self.training = self.held_out = self.eligible = self.duplicates = 0
        self.with_response = self.responses_left_out = self.rejected = 0
        self.over_limit = False

    def take(self, located: Located, found: Extracted, from_teacher: bool, key: bytes) -> None:
        options = self.options
        if options.use_prompt_response and not from_teacher:
            return
        self.eligible += 1
        if key in self.seen:
            self.duplicates += 1
            return
        if self.over_limit:  # bound to fail: stop remembering prompts, so memory stays flat
            return
        self.seen.add(key)
        response = found.response if found.response_status == "ok" else None
        if response is not None and options.teacher is not None and not from_teacher:
            response = None
            self.responses_left_out += 1
        record = _record(found, response)
        try:
            from_conversation(record, None)
        except Invalid:
            self.rejected += 1
            return
        if self.holdout_sink is not None and in_holdout(key, self.fraction):
            self.held_out += 1
            self.holdout_sink.write(self.encode(record) + b"\n")
            return
        self.training += 1
        if self.training > self.rules.max_records:
            self.over_limit = True
            return
        self.with_response += response is not None
        self.sink.write(self.encode(record) + b"\n")

    def finish(self, found: LogProfile) -> ExportReport:
        rules, invalid = self.rules, found.invalid
        report = ExportReport(
            found, self.fraction, self.training, self.held_out, self.eligible, self.duplicates,
            self.with_response, self.responses_left_out, self.rejected, self.over_limit,
        )  # fmt: skip
        if invalid.fatal:
            report.message = f"{invalid.total} invalid log lines (on_invalid=fail), first: {invalid.first}"
        elif self.over_limit:
            report.message = (
                f"more than {rules.max_records} training records after de-duplication; Bedrock takes at most "
                f"{rules.max_records}: narrow the filter"
            )
        elif self.training < rules.min_records:
            report.message = (
                f"only {self.training} training records after de-duplication and hold-out; a dataset needs at "
                f"least {rules.min_records}"
            )
        else:
            report.ok = True
            report.message = f"{self.training} training records, {self.held_out} held out"
        return report


def _record(found: Extracted, response: str | None) -> dict[str, Any]:
    messages = [{"role": role, "content": [{"text": text}]} for role, text in found.turns]
    if response is not None:
        messages.append({"role": "assistant", "content": [{"text": response}]})
    if found.system:
        return {"schemaVersion": SCHEMA_VERSION, "system": [{"text": found.system}], "messages": messages}
    return {"schemaVersion": SCHEMA_VERSION, "messages": messages}
