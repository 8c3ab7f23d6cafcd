"""The limits a dataset must respect, and the choices a run makes about its input."""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = "bedrock-conversation-2024"
INPUT_FORMATS = ("auto", "prompt-completion", "conversation", "chat")
ON_INVALID = ("fail", "drop")


@dataclass(frozen=True)
class DatasetRules:
    """Bedrock's dataset limits plus the guard rails that keep hostile input cheap to refuse."""

    min_records: int = 100  # fewer valid prompts fails the job, late, after queueing
    max_records: int = 15_000
    max_total_bytes: int = 1_000_000_000  # AWS's sample validator refuses more than 1 GB
    max_line_bytes: int = 1_048_576  # a longer line is skipped, never buffered whole
    max_depth: int = 64  # JSON nesting; a valid record needs 5
    max_errors_per_kind: int = 5  # how many errors of one kind the report keeps (all are counted)

    def __post_init__(self) -> None:
        if not 0 <= self.min_records <= self.max_records:
            raise ValueError("DatasetRules: need 0 <= min_records <= max_records")
        if min(self.max_total_bytes, self.max_line_bytes, self.max_depth) < 1:
            raise ValueError("DatasetRules: byte and depth limits must be positive")


@dataclass
class ConvertOptions:
    input_format: str = "auto"  # "auto" | "prompt-completion" | "conversation" | "chat"
    on_invalid: str = "fail"  # "fail": any invalid record fails the run; "drop": skip it
    system_prompt: str = ""  # non-empty: replaces every record's own system prompt

    def __post_init__(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {', '.join(INPUT_FORMATS)}, got {self.input_format!r}")
        if self.on_invalid not in ON_INVALID:
            raise ValueError(f"on_invalid must be 'fail' or 'drop', got {self.on_invalid!r}")
        if self.system_prompt is None:  # a run without a system prompt may carry None
            self.system_prompt = ""
