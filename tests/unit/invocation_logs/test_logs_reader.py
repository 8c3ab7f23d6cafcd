"""Reading log files: key order, gzip and plain JSON, NDJSON or a stream of values, and every kind of broken
file reported with the file and the line, then skipped or fatal as on_invalid says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.invocation_logs import InvalidRecords, local_log_files, read_records
from distill.invocation_logs.streams import Values
from tests.support.memory_io import MemorySource
from tests.unit.invocation_logs.logs_helpers import converse, gz, line, ndjson, write_logs


def read(sources: list, on_invalid: str = "drop", max_record_bytes: int = 4 << 20) -> tuple[list, InvalidRecords]:
    invalid = InvalidRecords(on_invalid)
    found = [(r.source, r.line, r.record.requestId) for r in read_records(sources, invalid, max_record_bytes)]
    return found, invalid


def records(count: int, start: int = 0) -> list[dict]:
    return [converse(request_id=f"r{n}") for n in range(start, start + count)]


def errors(invalid: InvalidRecords) -> list[tuple[str, int, str]]:
    return [(e.source, e.line, e.kind) for e in invalid.kept]


# --- where the files are ------------------------------------------------------------------------------------------
def test_given_the_s3_layout_on_disk_when_listed_then_log_files_in_key_order_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/2026/11"
    write_logs(root / "25/09", "b.json.gz", records(1))
    write_logs(root / "24/10", "a.json.gz", records(1))
    write_logs(root / "24/09", "z.json", records(1), gzipped=False)
    write_logs(root / "24/09", "y.json.gz", records(1))
    (tmp_path / "AWSLogs/123456789012/BedrockModelInvocationLogs/amazon-bedrock-logs-permission-check").write_text("")
    (root / "24/09/notes.txt").write_text("ignored")
    names = [Path(source.name).relative_to(root).as_posix() for source in local_log_files(tmp_path)]
    assert names == ["24/09/y.json.gz", "24/09/z.json", "24/10/a.json.gz", "25/09/b.json.gz"]


def test_given_nothing_to_read_when_listed_then_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        local_log_files(tmp_path / "missing")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(ValueError, match=r"no \.json\.gz or \.json files"):
        local_log_files(tmp_path)


# --- good files -----------------------------------------------------------------------------------------------------
def test_given_gzipped_and_plain_ndjson_when_read_then_every_record_with_its_line(tmp_path: Path) -> None:
    first = MemorySource("a.json.gz", gz(ndjson(records(2)) + b"\n\n" + ndjson(records(1, 2))))
    second = MemorySource("b.json", b"\xef\xbb\xbf" + ndjson(records(2, 3)).replace(b"\n", b"\r\n"))
    found, invalid = read([first, second], on_invalid="fail")
    assert found == [("a.json.gz", 1, "r0"), ("a.json.gz", 2, "r1"), ("a.json.gz", 5, "r2"),
                     ("b.json", 1, "r3"), ("b.json", 2, "r4")]  # fmt: skip
    assert invalid.total == 0 and not invalid.fatal


def test_given_concatenated_gzip_members_and_no_final_newline_when_read_then_all_records() -> None:
    data = gz(ndjson(records(2))) + gz(ndjson(records(1, 2)).rstrip(b"\n"))
    found, invalid = read([MemorySource("x.json.gz", data)])
    assert [r[2] for r in found] == ["r0", "r1", "r2"] and invalid.total == 0


def test_given_pretty_printed_records_when_read_then_decoded_as_a_stream_with_their_first_lines() -> None:
    text = "\n".join(json.dumps(record, indent=2) for record in records(3)) + "\n"
    source = MemorySource("pretty.json", text.encode())
    found, invalid = read([source], on_invalid="fail")
    starts = [n + 1 for n, row in enumerate(text.splitlines()) if row == "{"]
    assert found == [("pretty.json", starts[i], f"r{i}") for i in range(3)]
    assert invalid.total == 0 and source.opened == 2  # read again from the start in stream mode


def test_given_several_records_on_one_line_when_read_then_each_is_decoded() -> None:
    data = b"".join(line(record) for record in records(3)) + b"\n" + line(converse(request_id="r3")) + b"\n"
    found, invalid = read([MemorySource("one-line.json", data)], on_invalid="fail")
    assert found == [("one-line.json", 1, "r0"), ("one-line.json", 1, "r1"), ("one-line.json", 1, "r2"),
                     ("one-line.json", 2, "r3")]  # fmt: skip
    assert invalid.total == 0


# --- broken files ---------------------------------------------------------------------------------------------------
def test_given_a_truncated_gzip_when_read_then_records_before_are_kept_and_the_file_and_line_reported() -> None:
    whole = gz(ndjson(records(300)))
    cut = MemorySource("cut.json.gz", whole[: len(whole) // 2])
    after = MemorySource("next.json.gz", gz(ndjson(records(1, 300))))
    found, invalid = read([cut, after], on_invalid="drop")
    kept = [r for r in found if r[0] == "cut.json.gz"]
    assert 0 < len(kept) < 300 and kept == [("cut.json.gz", n + 1, f"r{n}") for n in range(len(kept))]
    assert errors(invalid) == [("cut.json.gz", len(kept) + 1, "invalid-gzip")]
    assert "truncated" in invalid.kept[0].message
    assert found[-1] == ("next.json.gz", 1, "r300")  # reading goes on with the next file
    assert not invalid.fatal
    assert read([cut], on_invalid="fail")[1].fatal


def test_given_bad_lines_among_good_ones_when_read_then_each_is_reported_with_file_and_line() -> None:
    lines = [line(converse(request_id="r0")), b"this is not json", b"[1, 2]", b'{"requestMetadata": {"a": 1}}',
             b'{"schemaType": "ModelInvocationLog"', line(converse(request_id="r5")), b'"a string"']  # fmt: skip
    found, invalid = read([MemorySource("bad.json", b"\n".join(lines))])
    assert [r[1:] for r in found] == [(1, "r0"), (6, "r5")]
    assert errors(invalid) == [("bad.json", 2, "invalid-json"), ("bad.json", 3, "not-an-object"),
                               ("bad.json", 4, "malformed-record"), ("bad.json", 5, "invalid-json"),
                               ("bad.json", 7, "not-an-object")]  # fmt: skip
    assert str(invalid.kept[2]) == "bad.json line 4: $.requestMetadata[...]: Expected `str`, got `int`"


def test_given_a_broken_first_line_then_good_lines_when_read_then_ndjson_mode_stays_and_line_1_is_reported() -> None:
    data = b'{"schemaType": "ModelInvoc\n' + ndjson(records(2))
    source = MemorySource("first.json", data)
    found, invalid = read([source])
    assert [r[1:] for r in found] == [(2, "r0"), (3, "r1")]
    assert errors(invalid) == [("first.json", 1, "invalid-json")] and source.opened == 1


def test_given_a_stream_that_ends_inside_a_value_when_read_then_reported_at_its_first_line() -> None:
    data = json.dumps(converse(request_id="r0"), indent=1).encode() + b'\n{\n  "schemaType": "Mod'
    found, invalid = read([MemorySource("end.json", data)])
    assert [r[2] for r in found] == ["r0"]
    first_line_of_last = data.count(b"\n", 0, data.rindex(b"{")) + 1
    assert errors(invalid) == [("end.json", first_line_of_last, "invalid-json")]


def test_given_an_overlong_line_when_read_then_skipped_without_buffering_and_the_rest_read() -> None:
    big = line(converse(prompt="x" * 5000, request_id="big"))
    data = ndjson(records(1)) + big + b"\n" + ndjson(records(1, 1))
    found, invalid = read([MemorySource("long.json", data)], max_record_bytes=1000)
    assert [r[1:] for r in found] == [(1, "r0"), (3, "r1")]
    assert errors(invalid) == [("long.json", 2, "line-too-long")]


def test_given_fail_when_a_line_is_invalid_then_fatal_but_every_problem_is_still_counted() -> None:
    data = b"\n".join([b"x"] * 8 + [line(converse())])
    found, invalid = read([MemorySource("many.json", data)], on_invalid="fail")
    assert len(found) == 1 and invalid.fatal and invalid.total == 8
    assert len(invalid.kept) == 5 and invalid.counts == {"invalid-json": 8}
    assert invalid.to_dict()["total"] == 8 and invalid.first is not None and invalid.first.line == 1


def test_given_an_unknown_policy_when_reading_then_refused() -> None:
    with pytest.raises(ValueError, match="'fail' or 'drop'"):
        InvalidRecords("ignore")


def test_given_a_big_file_when_read_then_no_read_is_larger_than_a_chunk() -> None:
    class Counting(MemorySource):
        largest = 0

        def open(self):  # type: ignore[no-untyped-def]
            stream = super().open()
            read_original = stream.read

            def read(size: int = -1) -> bytes:
                assert size > 0, "the whole file was asked for"
                data = read_original(size)
                Counting.largest = max(Counting.largest, len(data))
                return data

            stream.read = read  # type: ignore[method-assign]
            return stream

    data = gz(ndjson(records(3000)))
    found, _ = read([Counting("big.json.gz", data)])
    assert len(found) == 3000 and Counting.largest <= 1 << 20


# --- the stream splitter on its own ---------------------------------------------------------------------------------
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(VALUES, min_size=1, max_size=6), indent=st.sampled_from([None, 1]), cut=st.integers(1, 7))
def test_given_any_concatenated_json_values_in_any_chunks_when_split_then_each_value_comes_back(
    values: list, indent: int | None, cut: int
) -> None:
    text = "\n".join(json.dumps(value, indent=indent) for value in values).encode()
    chunks = [text[i : i + cut] for i in range(0, len(text), cut)]
    split = list(Values(1 << 20).split(chunks))
    assert [json.loads(value) for _, value in split] == values
    starts = []
    line_no = 1
    for value_text in (json.dumps(value, indent=indent) for value in values):
        starts.append(line_no)
        line_no += value_text.count("\n") + 1
    assert [number for number, _ in split] == starts
