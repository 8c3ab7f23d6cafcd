"""Stream the log records under an S3 prefix or a local folder, in key order, with flat memory.

Bedrock delivers "gzipped JSON files, each containing a batch of invocation log records" (user guide) under
``<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/``. That a file holds one
record per line (NDJSON) is what public readers observe, not something AWS documents, so a file whose first
record is not a whole line (pretty-printed, or several records on one line) is read again as a stream of
concatenated JSON values. Files named ``*.json.gz`` / ``*.json`` are read; anything else under the prefix
(e.g. the permission-check object Bedrock writes when logging is set up) is ignored.

A line that is not JSON, a record that is not an object, a truncated gzip file: each is reported with the file
and line, and either skipped (``on_invalid="drop"``) or recorded as fatal (``"fail"``: the caller's verdict
fails; reading goes on so that every problem is counted).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distill.dataset.chunks import source_pieces
from distill.dataset.local import LocalFileSource
from distill.dataset.report import RecordError
from distill.dataset.s3 import S3ObjectSource
from distill.invocation_logs.records import AnyRecord, InvalidLine, decode_record
from distill.invocation_logs.streams import Unfinished, Values, ValueTooLong
from distill.locations import S3Location

LOG_SUFFIXES = (".json.gz", ".json")
ON_INVALID = ("fail", "drop")
MAX_RECORD_BYTES = 4 * 1024 * 1024  # inline bodies are at most 100 KB each; a longer record is skipped


@dataclass
class InvalidRecords:
    """The invalid records met while reading: all counted, the first few of each kind kept."""

    on_invalid: str = "fail"
    keep_per_kind: int = 5
    kept: list[RecordError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def __post_init__(self) -> None:
        if self.on_invalid not in ON_INVALID:
            raise ValueError(f"on_invalid must be 'fail' or 'drop', got {self.on_invalid!r}")

    def add(self, source: str, line: int, field: str, kind: str, message: str) -> None:
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        self.total += 1
        if seen < self.keep_per_kind:
            self.kept.append(RecordError(source, line, field, kind, message))

    @property
    def fatal(self) -> bool:
        return self.total > 0 and self.on_invalid == "fail"

    @property
    def first(self) -> RecordError | None:
        return self.kept[0] if self.kept else None

    def to_dict(self, limit: int = 10) -> dict[str, Any]:
        return {
            "onInvalid": self.on_invalid,
            "total": self.total,
            "counts": dict(self.counts),
            "first": [_error_dict(error) for error in self.kept[:limit]],
        }


@dataclass(slots=True)
class Located:
    source: str
    line: int  # 1-based line where the record starts
    record: AnyRecord


# --- where the files are -----------------------------------------------------------------------------------
def local_log_files(path: str | Path) -> list[LocalFileSource]:
    """A file as given, or every *.json.gz / *.json file below a folder, ordered as S3 lists keys."""
    root = Path(path)
    if root.is_file():
        return [LocalFileSource(root)]
    if not root.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    found = []
    for folder, folders, names in os.walk(root):
        folders.sort()
        for name in names:
            if name.endswith(LOG_SUFFIXES):
                found.append(Path(folder, name))
    if not found:
        raise ValueError(f"{path}: no .json.gz or .json files below this folder")
    found.sort(key=lambda p: p.relative_to(root).as_posix().encode())
    return [LocalFileSource(p) for p in found]


def s3_log_files(s3: Any, uri: str) -> list[S3ObjectSource]:
    """Every *.json.gz / *.json object under a prefix (or the one object a URI ending in a log suffix names),
    in key order (S3 lists in UTF-8 byte order)."""
    where = S3Location.parse(uri)
    if where.key.endswith(LOG_SUFFIXES):
        found = [item for item in _listing(s3, where.bucket, where.key) if item["Key"] == where.key]
        if not found:
            raise ValueError(f"{uri}: no such object")
    else:
        prefix = where.key if where.is_prefix else where.key + "/"
        found = [item for item in _listing(s3, where.bucket, prefix) if item["Key"].endswith(LOG_SUFFIXES)]
        if not found:
            raise ValueError(f"{uri}: no .json.gz or .json objects under this prefix")
    found.sort(key=lambda item: item["Key"].encode())
    return [S3ObjectSource(s3, where.bucket, item["Key"], item.get("Size")) for item in found]


def _listing(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


# --- the records in them -------------------------------------------------------------------------------------
def read_records(
    files: Iterable[Any], invalid: InvalidRecords, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[Located]:
    """Every decodable record of every file, in order; everything else goes to ``invalid``."""
    for file in files:
        yield from _file_records(file, invalid, max_record_bytes)


def _file_records(file: Any, invalid: InvalidRecords, max_bytes: int) -> Iterator[Located]:
    name = file.name
    lines = _Lines(max_bytes, lambda line: _too_long(invalid, name, line, max_bytes))
    held: tuple[int, InvalidLine] | None = None  # a first line cut short: a broken record, or a multi-line value?
    first = True
    try:
        for line_no, line in lines.split(source_pieces(file, file.name)):
            try:
                record = decode_record(line)
            except InvalidLine as bad:
                if first and bad.kind == "invalid-json" and "trailing characters" in bad.message:
                    break  # several values on the first line: a stream, not NDJSON
                if first and bad.kind == "invalid-json" and "truncated" in bad.message:
                    held, first = (line_no, bad), False  # decide on the next line
                    continue
                if held is not None:  # the second line is no whole record either: a pretty-printed stream
                    break
                invalid.add(name, line_no, bad.field, bad.kind, bad.message)
                first = False
                continue
            if held is not None:  # the next line is a whole record: the first one was just broken
                invalid.add(name, held[0], held[1].field, held[1].kind, held[1].message)
                held = None
            first = False
            yield Located(name, line_no, record)
        else:
            if held is not None:
                invalid.add(name, held[0], held[1].field, held[1].kind, held[1].message)
            return
    except zlib.error as error:
        if held is not None:
            invalid.add(name, held[0], held[1].field, held[1].kind, held[1].message)
        invalid.add(name, lines.line_no + 1, "", "invalid-gzip", f"cannot decompress gzip input: {error}")
        return
    yield from _stream_records(file, invalid, max_bytes)


def _stream_records(file: Any, invalid: InvalidRecords, max_bytes: int) -> Iterator[Located]:
    name = file.name
    scanner = Values(max_bytes)
    try:
        for line_no, value in scanner.split(source_pieces(file, file.name)):
            try:
                yield Located(name, line_no, decode_record(value))
            except InvalidLine as bad:
                invalid.add(name, line_no, bad.field, bad.kind, bad.message)
    except zlib.error as error:
        invalid.add(name, scanner.line_no, "", "invalid-gzip", f"cannot decompress gzip input: {error}")
    except ValueTooLong as too_long:
        _too_long(invalid, name, too_long.line, max_bytes, "; the rest of this file is skipped")
    except Unfinished as unfinished:
        invalid.add(name, unfinished.line, "", "invalid-json", "not valid JSON: the file ends inside a JSON value")


def _too_long(invalid: InvalidRecords, name: str, line: int, max_bytes: int, more: str = "") -> None:
    invalid.add(name, line, "", "line-too-long", f"record is longer than {max_bytes} bytes; skipped{more}")


class _Lines:
    """Split chunks into non-blank lines; a line over the limit is skipped up to its newline, never buffered."""

    def __init__(self, max_bytes: int, too_long: Callable[[int], None]) -> None:
        self.max_bytes = max_bytes
        self.too_long = too_long
        self.line_no = 0

    def split(self, chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
        pending, skipping, max_bytes, line_no = b"", False, self.max_bytes, self.line_no
        for chunk in chunks:
            if skipping:
                newline = chunk.find(b"\n")
                if newline < 0:
                    continue
                chunk, skipping = chunk[newline + 1 :], False
            lines = (pending + chunk if pending else chunk).split(b"\n")
            pending = lines.pop()
            for line in lines:
                line_no += 1
                if line and not line.isspace():
                    if len(line) > max_bytes:
                        self.too_long(line_no)
                    else:
                        self.line_no = line_no
                        yield line_no, line
            self.line_no = line_no
            if len(pending) > max_bytes:
                line_no = self.line_no = line_no + 1
                self.too_long(line_no)
                pending, skipping = b"", True
        if pending and not pending.isspace():
            self.line_no = line_no + 1
            yield self.line_no, pending


def _error_dict(error: RecordError) -> dict[str, Any]:
    return {"source": error.source, "line": error.line, "kind": error.kind, "text": str(error)[:300]}
