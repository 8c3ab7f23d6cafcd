"""What a pass over a dataset found: counts, the first errors of each kind, and one line for humans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Errors about the whole dataset: the run fails whatever the on-invalid policy says.
DATASET_KINDS = frozenset({"too-few-records", "too-many-records", "too-large", "invalid-gzip", "no-input"})


@dataclass(frozen=True)
class RecordError:
    source: str  # file path or s3:// URI
    line: int  # 1-based; 0 = the dataset as a whole
    field: str  # JSON path such as $.messages[1].role, or "" when the line is not JSON at all
    kind: str  # short stable name, e.g. "role-order"
    message: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "field": self.field,
            "kind": self.kind,
            "message": self.message,
            "text": str(self),
        }


@dataclass
class DatasetReport:
    ok: bool = False
    records_read: int = 0  # non-blank lines seen
    records_valid: int = 0
    records_invalid: int = 0
    records_written: int = 0  # in the committed output (0 when validating only or when the run failed)
    records_dropped: int = 0  # invalid records skipped under on_invalid="drop"
    bytes_in: int = 0  # uncompressed input bytes
    bytes_out: int = 0
    input_format: str = "auto"
    on_invalid: str = "fail"
    detected_formats: dict[str, str] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)  # the first few of each kind, in input order
    error_counts: dict[str, int] = field(default_factory=dict)  # kind -> every occurrence
    first_error: str | None = None
    elapsed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase keys (the Lambda writes it next to the converted dataset)."""
        return {
            "ok": self.ok,
            "recordsRead": self.records_read,
            "recordsValid": self.records_valid,
            "recordsInvalid": self.records_invalid,
            "recordsWritten": self.records_written,
            "recordsDropped": self.records_dropped,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "inputFormat": self.input_format,
            "onInvalid": self.on_invalid,
            "detectedFormats": dict(self.detected_formats),
            "errorCounts": dict(self.error_counts),
            "errors": [error.to_dict() for error in self.errors],
            "firstError": self.first_error,
            "elapsedSeconds": round(self.elapsed_seconds, 3),
        }

    def summary_line(self) -> str:
        verdict = "valid" if self.ok else "INVALID"
        text = (
            f"{verdict}: {self.records_valid} valid of {self.records_read} records, "
            f"{self.records_dropped} dropped, {_size(self.bytes_in)} in"
        )
        if self.bytes_out:
            text += f", {_size(self.bytes_out)} out"
        text += f", {self.elapsed_seconds:.2f} s"
        if self.error_counts:
            text += " (" + ", ".join(f"{kind}: {n}" for kind, n in self.error_counts.items()) + ")"
        return text


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"
