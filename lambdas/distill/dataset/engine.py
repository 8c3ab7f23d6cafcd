"""One streaming pass over a dataset: split lines, decode, check, convert, encode, write.

Memory stays flat whatever the input size: the input is read in 1 MiB chunks (decompressed in bounded
pieces when gzipped), a line longer than the limit is skipped up to its newline instead of being buffered,
and the output goes to the sink chunk by chunk. The sink is committed only when the whole dataset is valid.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import msgspec

from distill.dataset.chunks import source_pieces
from distill.dataset.fastpath import Templates
from distill.dataset.formats import CONVERTERS, Invalid, depth, detect, json_type
from distill.dataset.report import DATASET_KINDS, DatasetReport, RecordError
from distill.dataset.rules import ConvertOptions, DatasetRules


class Source(Protocol):
    """Where raw bytes come from. ``name`` appears in every error message."""

    @property
    def name(self) -> str: ...

    def open(self) -> Any:  # a binary file-like with .read(n); closed by the engine when it has .close()
        ...


class Sink(Protocol):
    """Where the converted dataset goes; nothing is visible before commit()."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class _Stop(Exception):
    """The dataset as a whole cannot go on (too large): stop reading."""


def convert(
    sources: Iterable[Source],
    sink: Sink | None,
    options: ConvertOptions | None = None,
    rules: DatasetRules | None = None,
    progress: Callable[[int], None] | None = None,
) -> DatasetReport:
    """Validate (and with a sink, convert) every source as one dataset, in order.

    ``progress`` is called with the number of input bytes read so far, once per chunk. The sink is
    committed only when the report is ok and aborted otherwise, also when something raises.
    """
    run = _Run(options or ConvertOptions(), rules or DatasetRules(), sink, progress)
    try:
        run.read_all(sources)
        report = run.finish()
        if sink is not None:
            if report.ok:
                sink.commit()
                report.records_written = report.records_valid
            else:
                sink.abort()
                report.bytes_out = 0
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return report


class _Run:
    def __init__(
        self, options: ConvertOptions, rules: DatasetRules, sink: Sink | None, progress: Callable[[int], None] | None
    ) -> None:
        self.options = options
        self.rules = rules
        self.sink = sink
        self.progress = progress
        self.started = time.perf_counter()
        self.report = DatasetReport(input_format=options.input_format, on_invalid=options.on_invalid)
        self.system = [{"text": options.system_prompt}] if options.system_prompt else None
        self.decode = msgspec.json.Decoder().decode
        self.encoder = msgspec.json.Encoder()
        self.drop = options.on_invalid == "drop"
        self.writing = sink is not None  # turns False once the run is bound to fail
        self.pending_out: list[Any] = []  # output pieces (bytes-like) of the current chunk
        self.templates = Templates(options.system_prompt)
        self.names: list[str] = []
        self.fatal = False
        self.first_failure: RecordError | None = None
        self.format: str | None = None  # of the current source, once known

    # --- reading -----------------------------------------------------------------------------------
    def read_all(self, sources: Iterable[Source]) -> None:
        try:
            for source in sources:
                self.names.append(source.name)
                self.read(source)
        except _Stop:
            pass

    def read(self, source: Source) -> None:
        name = source.name
        forced = self.options.input_format
        self.format = None if forced == "auto" else forced
        self.report.detected_formats[name] = self.format or "unknown"
        max_line = self.rules.max_line_bytes
        line_no = 0
        pending = b""
        skipping = False  # inside a line over the limit: drop bytes up to the next newline
        try:
            for chunk in self._chunks(source, name):
                if skipping:
                    newline = chunk.find(b"\n")
                    if newline < 0:
                        continue
                    chunk = chunk[newline + 1 :]
                    skipping = False
                buffer = pending + chunk if pending else chunk
                lines = buffer.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    line_no += 1
                    if line and not line.isspace():
                        self.record(name, line_no, line)
                if len(pending) > max_line:
                    line_no += 1
                    self.report.records_read += 1
                    self.line_too_long(name, line_no)
                    pending, skipping = b"", True
                self.flush()
            if pending and not pending.isspace():  # last line without a newline
                self.record(name, line_no + 1, pending)
            self.flush()
        except zlib.error as error:
            self.error(name, line_no + 1, "", "invalid-gzip", f"cannot decompress gzip input: {error}")
        except _Stop:
            self.error(
                name,
                line_no + 1,
                "",
                "too-large",
                f"dataset is over {self.rules.max_total_bytes} bytes, Bedrock's limit; stopped reading here",
            )
            raise

    def _chunks(self, source: Source, name: str) -> Iterator[bytes]:
        """The source's bytes (distill.dataset.chunks), counted against the size limit."""
        pieces = source_pieces(source, name)
        try:
            report, limit, progress = self.report, self.rules.max_total_bytes, self.progress
            for piece in pieces:
                report.bytes_in += len(piece)
                if report.bytes_in > limit:
                    raise _Stop
                if progress is not None:
                    progress(report.bytes_in)
                yield piece
        finally:
            pieces.close()  # closes the source's stream now, not when the generator is collected

    # --- one record --------------------------------------------------------------------------------
    def record(self, name: str, line_no: int, line: bytes) -> None:
        report = self.report
        report.records_read += 1
        if len(line) > self.rules.max_line_bytes:
            self.line_too_long(name, line_no)
            return
        if self.format == "prompt-completion":
            pieces = self.templates.line(line)
            if pieces is not None:
                self.accept(name, line_no, pieces)
                return
        self.general(name, line_no, line)

    def general(self, name: str, line_no: int, line: bytes) -> None:
        """Decode into plain Python values, detect the shape, check and convert; name what is wrong."""
        report = self.report
        try:
            value = self.decode(line)
        except UnicodeDecodeError as error:
            self.invalid(name, line_no, "", "invalid-utf8", f"not valid UTF-8: {error.reason}")
            return
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            self.invalid(name, line_no, "", "invalid-json", f"not valid JSON: {error}")
            return
        except RecursionError:
            self.invalid(name, line_no, "", "too-deep", f"JSON nested deeper than {self.rules.max_depth}")
            return
        if type(value) is not dict:
            self.invalid(
                name, line_no, "$", "not-an-object", f"expected one JSON object per line, got {_json_name(value)}"
            )
            return
        fmt = self.format
        if fmt is None:
            fmt = detect(value)
            if fmt is None:
                self.invalid(
                    name,
                    line_no,
                    "$",
                    "unknown-format",
                    "cannot tell the format: expected 'prompt', 'messages' or 'schemaVersion'",
                )
                return
            self.format = fmt
            report.detected_formats[name] = fmt
        try:
            out = CONVERTERS[fmt](value, self.system)
            if fmt == "prompt-completion":
                self.check_extra_depth(value)  # other fields are ignored, but may not be hostile
        except Invalid as invalid:
            # Deep nesting shows up as a wrong type somewhere: name the real problem.
            max_depth = self.rules.max_depth
            if invalid.kind != "too-deep" and depth(value, max_depth) > max_depth:
                self.invalid(name, line_no, "$", "too-deep", f"JSON nested deeper than {max_depth}")
            else:
                self.invalid(name, line_no, invalid.field, invalid.kind, invalid.message)
            return
        self.accept(name, line_no, (self.encoder.encode(out), b"\n") if self.writing else ())

    def accept(self, name: str, line_no: int, pieces: Any) -> None:
        report = self.report
        report.records_valid += 1
        if report.records_valid > self.rules.max_records:
            if report.records_valid == self.rules.max_records + 1:
                self.error(
                    name,
                    line_no,
                    "",
                    "too-many-records",
                    f"record {report.records_valid} is over Bedrock's limit of {self.rules.max_records}",
                )
            return
        if self.writing:
            self.pending_out.extend(pieces)

    def check_extra_depth(self, value: dict[str, Any]) -> None:
        max_depth = self.rules.max_depth
        for key, item in value.items():
            deep = type(item) in (dict, list) and 1 + depth(item, max_depth) > max_depth
            if deep and key not in ("prompt", "completion"):
                raise Invalid("too-deep", f"$.{key}", f"JSON nested deeper than {max_depth}")

    def line_too_long(self, name: str, line_no: int) -> None:
        self.invalid(
            name,
            line_no,
            "",
            "line-too-long",
            f"line is longer than {self.rules.max_line_bytes} bytes; skipped without reading it",
        )

    # --- errors and output -------------------------------------------------------------------------
    def invalid(self, name: str, line_no: int, field: str, kind: str, message: str) -> None:
        """One record is invalid: dropped under "drop", fails the run under "fail"."""
        report = self.report
        report.records_invalid += 1
        if self.drop:
            report.records_dropped += 1
        self.error(name, line_no, field, kind, message)

    def error(self, name: str, line_no: int, field: str, kind: str, message: str) -> None:
        report = self.report
        seen = report.error_counts.get(kind, 0)
        report.error_counts[kind] = seen + 1
        error = RecordError(name, line_no, field, kind, message)
        if seen < self.rules.max_errors_per_kind:
            report.errors.append(error)
        if kind in DATASET_KINDS or not self.drop:
            self.fatal = True
            if self.first_failure is None:
                self.first_failure = error
            # The run will fail: stop producing output, keep reading to count every problem.
            self.writing = False
            self.pending_out.clear()

    def flush(self) -> None:
        if self.pending_out:
            if self.writing and self.sink is not None:
                data = b"".join(self.pending_out)
                self.sink.write(data)
                self.report.bytes_out += len(data)
            self.pending_out.clear()

    def finish(self) -> DatasetReport:
        report = self.report
        if not self.names:
            self.error("(no input)", 0, "", "no-input", "no input files were given")
        elif report.records_valid < self.rules.min_records and "too-large" not in report.error_counts:
            self.error(
                _dataset_name(self.names),
                0,
                "",
                "too-few-records",
                f"only {report.records_valid} valid records; Bedrock needs at least {self.rules.min_records}",
            )
        report.ok = not self.fatal
        if not report.ok:
            report.first_error = str(self.first_failure or report.errors[0])
        report.elapsed_seconds = time.perf_counter() - self.started
        return report


def _dataset_name(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    # The folder (or S3 prefix) the files share, compared segment by segment.
    common: list[str] = []
    for segments in zip(*(name.split("/") for name in names), strict=False):
        if any(segment != segments[0] for segment in segments):
            break
        common.append(segments[0])
    return "/".join(common) + "/" if common else names[0]


def _json_name(value: Any) -> str:
    name = json_type(value)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
