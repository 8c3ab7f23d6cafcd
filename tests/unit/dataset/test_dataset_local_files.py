"""Local output appears only when complete: a failed run leaves OUT as it was and no temporary file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distill.dataset import AtomicFileSink, convert, local_sources
from tests.unit.dataset.dataset_helpers import MemorySource, dataset, jsonl, write_records


def test_given_an_existing_output_when_the_run_fails_then_it_is_untouched_and_no_temp_file_remains(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous content\n")
    bad = tmp_path / "in.jsonl"
    bad.write_bytes(jsonl([*dataset(100), b"{"]))
    report = convert(local_sources([bad]), AtomicFileSink(out))
    assert not report.ok and report.records_written == 0 and report.bytes_out == 0
    assert out.read_text() == "previous content\n"
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
