"""What a pass over invocation logs found: the counts, the verdict, and a bounded JSON form of both.

Bedrock's user guide (distillation, "Option 2: Use invocation logs"): at most 15K prompts or prompt-response
pairs; with prompts only, "at least 100 prompt-response pairs generated from across all models"; with
``usePromptResponse``, "at least 100 prompt-response pairs generated from the model in your invocation logs
that exactly match with the teacher model you've chosen". The verdict applies exactly that:

* pairs = selected, usable records with a text response (from the teacher when ``use_prompt_response``);
  fewer than ``min_records`` (100) fails;
* what Bedrock would take = the teacher pairs (``use_prompt_response``) or the usable prompts; more than
  ``max_records`` (15,000) fails;
* under ``on_invalid="fail"`` any invalid line fails too.

``to_dict`` stays under ``max_bytes`` (default 16 KiB) whatever the input, so the profile can travel in a Step
Functions state (256 KiB per state, shared with everything else).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from distill.invocation_logs.counting import MetadataStats, TopValues, clip
from distill.invocation_logs.filters import RequestMetadataFilter, describe, filter_keys, to_api
from distill.invocation_logs.reader import InvalidRecords

MIN_RECORDS = 100
MAX_RECORDS = 15_000
EXAMPLES = 5


@dataclass(frozen=True)
class ProfileOptions:
    selection: RequestMetadataFilter | None = None  # None selects every record
    teacher: str | None = None
    use_prompt_response: bool = False
    min_records: int = MIN_RECORDS
    max_records: int = MAX_RECORDS

    def __post_init__(self) -> None:
        if self.use_prompt_response and not self.teacher:
            raise ValueError("use_prompt_response needs the teacher model id: only its responses count")


@dataclass
class LogProfile:
    options: ProfileOptions
    invalid: InvalidRecords
    files: int = 0
    scanned: int = 0
    usable: int = 0
    selected: int = 0
    selected_usable: int = 0
    with_response: int = 0  # selected, usable, with a text response (any model)
    teacher_pairs: int = 0  # ... from the teacher
    input_tokens: int = 0  # selected records
    output_tokens: int = 0
    distinct_prompts: int = 0  # among the pairs; counted up to max_records + 1
    operations: TopValues = field(default_factory=lambda: TopValues(16))
    selected_operations: TopValues = field(default_factory=lambda: TopValues(16))
    not_usable: TopValues = field(default_factory=lambda: TopValues(32))
    selected_not_usable: TopValues = field(default_factory=lambda: TopValues(32))
    responses: TopValues = field(default_factory=lambda: TopValues(16))  # selected usable: response status
    models: TopValues = field(default_factory=lambda: TopValues(64))  # selected records by modelId
    answered: TopValues = field(default_factory=lambda: TopValues(64))  # pairs (any model) by modelId
    metadata: MetadataStats = field(default_factory=MetadataStats)
    selected_metadata: MetadataStats = field(default_factory=MetadataStats)
    mismatches: int = 0  # use_prompt_response: selected usable records without a teacher response
    examples: list[dict[str, str]] = field(default_factory=list)
    first_timestamp: str = ""
    last_timestamp: str = ""
    elapsed_seconds: float = 0.0

    # --- the verdict ---------------------------------------------------------------------------------------
    @property
    def pairs(self) -> int:
        return self.teacher_pairs if self.options.use_prompt_response else self.with_response

    @property
    def taken(self) -> int:
        """What Bedrock would take from the selection (compared with the 15K maximum)."""
        return self.teacher_pairs if self.options.use_prompt_response else self.selected_usable

    @property
    def ok(self) -> bool:
        options = self.options
        return not self.invalid.fatal and options.min_records <= self.pairs and self.taken <= options.max_records

    def verdict(self) -> str:
        options = self.options
        what = f"with a response from {options.teacher}" if options.use_prompt_response else "with a response"
        if self.invalid.fatal:
            return (
                f"REJECTED: {self.invalid.total:,} invalid log lines (on_invalid=fail), first: {self.invalid.first}. "
                "Use on_invalid=drop to skip them."
            )
        if self.pairs < options.min_records:
            return (
                f"REJECTED: the filter selects {self.pairs:,} usable records {what}; Bedrock needs at least "
                f"{options.min_records:,}. {self.hint()}"
            )
        if self.taken > options.max_records:
            return (
                f"REJECTED: the filter selects {self.taken:,} usable records; Bedrock takes at most "
                f"{options.max_records:,}. Narrow it. {self.hint()}"
            )
        text = (
            f"ACCEPTED: {self.pairs:,} usable records {what} (Bedrock needs {options.min_records:,} to "
            f"{options.max_records:,}); {self.distinct_text()} distinct prompts."
        )
        if options.use_prompt_response and self.mismatches:
            text += f" {self.mismatches:,} more selected records have no response from the teacher: not used."
        return text

    def hint(self) -> str:
        """The metadata keys and their most common values that DO exist, so the filter can be fixed."""
        keys = self.metadata.top_keys(6)
        if not keys:
            return f"None of the {self.scanned} records has requestMetadata: tag live traffic first."
        shown = []
        for key, count in keys:
            summary = self.metadata.values.get(key)
            values = ", ".join(f"{clip(v, 40)!r} {n}" for v, n in summary.top(4)) if summary else ""
            shown.append(f"{clip(key, 40)!r} in {count} ({values})")
        text = "requestMetadata keys in these logs: " + "; ".join(shown)
        text += f"; {self.metadata.without} records have none."
        missing = [key for key in filter_keys(self.options.selection) if key not in self.metadata.keys.counts]
        if missing and self.metadata.keys.exact:
            text += " The filter's key " + ", ".join(repr(k) for k in missing) + " occurs in no record."
        return text

    def distinct_text(self) -> str:
        limit = self.options.max_records
        return f"more than {limit:,}" if self.distinct_prompts > limit else f"{self.distinct_prompts:,}"

    # --- serialized ------------------------------------------------------------------------------------
    def to_dict(self, max_bytes: int = 16_384) -> dict[str, Any]:
        """JSON-ready and smaller than ``max_bytes`` encoded, whatever the input: detail shrinks until it fits."""
        for keys, values, width, examples in ((12, 10, 64, EXAMPLES), (8, 5, 48, 3), (5, 3, 32, 1), (3, 2, 24, 0)):
            out = self._dict(keys, values, width, examples)
            if len(msgspec.json.encode(out)) <= max_bytes:
                return out
        out = self._dict(0, 0, 16, 0)
        out["verdict"] = clip(out["verdict"], 500)
        return out

    def _dict(self, keys: int, values: int, width: int, examples: int) -> dict[str, Any]:
        options, invalid = self.options, self.invalid
        return {
            "ok": self.ok,
            "verdict": clip(self.verdict(), 2000),
            "filter": to_api(options.selection) if options.selection is not None else None,
            "filterText": clip(describe(options.selection), 1000),
            "teacher": options.teacher,
            "usePromptResponse": options.use_prompt_response,
            "files": self.files,
            "recordsScanned": self.scanned,
            "recordsInvalid": invalid.total,
            "invalid": invalid.to_dict(limit=examples),
            "recordsUsable": self.usable,
            "byOperation": _rows(self.operations, 8, width),
            "notUsable": _rows(self.not_usable, 16, width),
            "selected": {
                "records": self.selected,
                "usable": self.selected_usable,
                "withResponse": self.with_response,
                "withTeacherResponse": self.teacher_pairs if options.teacher else None,
                "withoutResponse": self.selected_usable - self.with_response,
                "responses": _rows(self.responses, 8, width),
                "byOperation": _rows(self.selected_operations, 8, width),
                "notUsable": _rows(self.selected_not_usable, 16, width),
                "models": _rows(self.models, 8, width),
                "answeredBy": _rows(self.answered, 8, width),
                "inputTokens": self.input_tokens,
                "outputTokens": self.output_tokens,
                "distinctPrompts": self.distinct_prompts if self.distinct_prompts <= options.max_records else None,
                "firstTimestamp": self.first_timestamp,
                "lastTimestamp": self.last_timestamp,
            },
            "pairs": self.pairs,
            "taken": self.taken,
            "teacherMismatches": {"count": self.mismatches, "examples": self.examples[:examples]},
            "metadata": self.metadata.to_dict(keys, values, width),
            "selectedMetadata": self.selected_metadata.to_dict(keys, values, width),
            "elapsedSeconds": round(self.elapsed_seconds, 3),
        }


def _rows(summary: TopValues, limit: int, width: int) -> dict[str, int]:
    return {clip(value, width): count for value, count in summary.rows(limit)}
