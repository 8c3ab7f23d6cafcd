"""Local output appears only when complete: a failed run leaves OUT as it was and no temporary file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from distill.dataset import AtomicFileSink, convert, local_sources
from distill.dataset.chunks import CHUNK_SIZE
from tests.support.memory_io import MemorySource
from tests.unit.dataset.dataset_helpers import dataset, jsonl, write_records


class WatchedSink(AtomicFileSink):
    """The real sink, counting what the engine wrote to it before the run's verdict."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        super().write(data)


def test_given_an_existing_output_when_the_run_fails_then_it_is_untouched_and_no_temp_file_remains(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"previous content\n")
    os.utime(out, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = os.stat(out)
    # Over two read chunks of valid records before the bad last line: converted output reaches the sink
    # before the run is known to fail.
    long = [json.dumps({"prompt": f"{n}: " + "why " * 600, "completion": "because"}).encode() for n in range(1000)]
    assert sum(map(len, long)) > 2 * CHUNK_SIZE
    bad = tmp_path / "in.jsonl"
    bad.write_bytes(jsonl([*long, b"{"]))
    sink = WatchedSink(out)

    report = convert(local_sources([bad]), sink)

    assert not report.ok and report.records_written == 0 and report.bytes_out == 0
    assert report.errors[0].line == 1001
    assert sink.written > CHUNK_SIZE  # the failure came after the sink had been written to
    assert out.read_bytes() == b"previous content\n"
    after = os.stat(out)
    assert (after.st_mtime_ns, after.st_ino, after.st_size) == (before.st_mtime_ns, before.st_ino, before.st_size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_given_a_source_that_breaks_mid_way_when_converting_then_the_error_propagates_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    class Broken(MemorySource):
        def open(self):
            stream = super().open()

            class Reader:
                def read(self, n: int) -> bytes:
                    data = stream.read(100)
                    if not data:
                        raise OSError("connection reset")
                    return data

            return Reader()

    out = tmp_path / "out.jsonl"
    with pytest.raises(OSError, match="connection reset"):
        convert([Broken("x.jsonl", jsonl(dataset(150)))], AtomicFileSink(out))
    assert list(tmp_path.iterdir()) == []


def test_given_a_valid_input_when_converted_then_the_output_replaces_the_old_one_and_the_input_is_unchanged(
    tmp_path: Path,
) -> None:
    source = write_records(tmp_path / "in.jsonl", 100)
    before = source.read_bytes()
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    report = convert(local_sources([source]), AtomicFileSink(out))
    assert report.ok and out.read_bytes().count(b"\n") == 100
    assert source.read_bytes() == before
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"


def test_given_missing_paths_or_empty_folders_when_listed_then_clear_errors_are_raised(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        local_sources([tmp_path / "nope.jsonl"])
    with pytest.raises(ValueError, match=r"no \.jsonl"):
        local_sources([tmp_path])
