"""Inputs Bedrock accepts once converted: every shape and encoding variant, re-validated after conversion."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from distill.dataset import AtomicFileSink, ConvertOptions, DatasetRules, convert, local_sources
from tests.support.memory_io import MemorySource
from tests.unit.dataset.dataset_helpers import (
    chat_line,
    conversation_line,
    dataset,
    jsonl,
    pc_line,
    run,
    write_records,
)


def revalidate(data: bytes) -> None:
    """Converted output is itself a valid bedrock-conversation-2024 dataset, and converting it changes nothing."""
    report, sink = run(data, input_format="conversation")
    assert report.ok, report.first_error
    assert bytes(sink.data) == data


def test_given_crlf_lines_when_converted_then_records_are_identical() -> None:
    lines = dataset(120)
    lf, _ = run(jsonl(lines))
    crlf, sink = run(jsonl(lines, b"\r\n"))
    assert crlf.ok and crlf.records_written == 120
    assert bytes(sink.data) == bytes(run(jsonl(lines))[1].data)
    assert lf.bytes_in + 120 == crlf.bytes_in


def test_given_a_bom_and_blank_lines_when_converted_then_they_are_ignored_and_lines_keep_their_numbers() -> None:
    data = b"\xef\xbb\xbf" + jsonl(dataset(100)) + b"\n   \n\r\n" + b'{"prompt": ""}\n'
    report, _ = run(data)
    assert report.records_read == 101
    assert report.errors[0].line == 104


def test_given_prompt_only_records_when_converted_then_there_is_no_assistant_message() -> None:
    lines = [json.dumps({"prompt": f"q{i}"}).encode() for i in range(60)]
    lines += [json.dumps({"prompt": f"r{i}", "completion": None}).encode() for i in range(60)]
    report, sink = run(jsonl(lines))
    assert report.ok
    assert sink.records()[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": "q0"}]}],
    }
    revalidate(bytes(sink.data))


def test_given_conversation_records_when_converted_then_they_pass_through_with_their_system_prompt() -> None:
    lines = dataset(100, lambda n: conversation_line(n, system="be brief"))
    report, sink = run(jsonl(lines))
    assert report.detected_formats == {"data.jsonl": "conversation"}
    assert sink.records() == [json.loads(line) for line in lines]


def test_given_a_run_system_prompt_when_converting_conversations_then_it_replaces_theirs() -> None:
    lines = [*dataset(100, lambda n: conversation_line(n, system="old")), conversation_line(1000)]
    _, sink = run(jsonl(lines), system_prompt="new")
    assert {json.dumps(r["system"]) for r in sink.records()} == {'[{"text": "new"}]'}


def test_given_chat_records_when_converted_then_the_system_message_becomes_system() -> None:
    report, sink = run(jsonl(dataset(100, chat_line)))
    assert report.ok and report.detected_formats == {"data.jsonl": "chat"}
    assert sink.records()[7] == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You help customers."}],
        "messages": [
            {"role": "user", "content": [{"text": "question 7"}]},
            {"role": "assistant", "content": [{"text": "answer 7"}]},
        ],
    }
    revalidate(bytes(sink.data))


def test_given_chat_text_parts_when_converted_then_they_are_joined_into_one_text_item() -> None:
    line = json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"text": "b"}]}]})
    _, sink = run(jsonl([line.encode()] * 100))
    assert sink.records()[0]["messages"] == [{"role": "user", "content": [{"text": "a\nb"}]}]


def test_given_multi_turn_conversations_when_validated_then_they_are_accepted() -> None:
    turns = [{"role": r, "content": [{"text": f"t{i}"}]} for i, r in enumerate(["user", "assistant"] * 3 + ["user"])]
    line = json.dumps({"schemaVersion": "bedrock-conversation-2024", "messages": turns}).encode()
    assert run(jsonl([line] * 100))[0].ok


@pytest.mark.parametrize(
    ("forced", "other", "kind"),
    [
        ("prompt-completion", chat_line, "missing-field"),
        ("conversation", pc_line, "unknown-field"),
        ("chat", pc_line, "missing-field"),
    ],
)
def test_given_a_forced_format_when_records_have_another_shape_then_they_are_invalid(
    forced: str, other, kind: str
) -> None:
    report, _ = run(jsonl(dataset(100, other)), input_format=forced)
    assert not report.ok and report.error_counts.get(kind) == 100
    assert report.detected_formats == {"data.jsonl": forced}


def test_given_gzip_input_when_converted_then_output_equals_the_plain_conversion(tmp_path: Path) -> None:
    data = jsonl(dataset(150))
    plain = run(data)[1].data
    report, sink = run(gzip.compress(data), name="data.jsonl.gz")
    assert report.ok and sink.data == plain
    # Detected by its magic bytes too, and concatenated gzip members are read one after the other.
    halves = gzip.compress(data[:3000]) + gzip.compress(data[3000:])
    assert run(halves, name="no-suffix.jsonl")[1].data == plain


@pytest.mark.parametrize(("data", "what"), [(b"not gzip at all", "header"), (None, "truncated")])
def test_given_broken_gzip_when_validated_then_invalid_gzip_is_reported(data: bytes | None, what: str) -> None:
    if data is None:
        data = gzip.compress(jsonl(dataset(150)))[:-20]
    report, _ = run(data, name="x.jsonl.gz", on_invalid="drop")
    assert not report.ok and "invalid-gzip" in report.error_counts
    assert "gzip" in report.first_error


def test_given_a_folder_when_converted_then_its_files_are_read_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "b.jsonl").write_bytes(jsonl(dataset(60, start=60)))
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(jsonl(dataset(60))))
    (folder / "notes.txt").write_text("ignored")
    sources = local_sources([folder])
    assert [Path(s.name).name for s in sources] == ["a.jsonl.gz", "b.jsonl"]
    out = tmp_path / "out.jsonl"
    report = convert(sources, AtomicFileSink(out))
    assert report.ok and report.records_written == 120
    texts = [json.loads(line)["messages"][0]["content"][0]["text"] for line in out.read_text().splitlines()]
    assert texts == [json.loads(line)["prompt"] for line in dataset(120)]


def test_given_one_record_too_few_when_validated_then_the_dataset_error_names_the_file_not_a_line() -> None:
    report, _ = run(jsonl(dataset(99)), name="s3://b/k.jsonl", on_invalid="drop")
    assert report.error_counts == {"too-few-records": 1}
    assert report.first_error == "s3://b/k.jsonl: only 99 valid records; Bedrock needs at least 100"
    assert report.errors[0].line == 0


def test_given_an_empty_file_when_validated_then_it_has_too_few_records() -> None:
    report, _ = run(b"")
    assert report.first_error == "data.jsonl: only 0 valid records; Bedrock needs at least 100"


def test_given_invalid_records_dropped_below_the_minimum_when_converted_then_the_run_fails() -> None:
    report, sink = run(jsonl(dataset(99) + [b"[]"] * 3), on_invalid="drop")
    assert not report.ok and report.records_dropped == 3 and sink.state == "aborted"
    assert report.first_error.endswith("only 99 valid records; Bedrock needs at least 100")


def test_given_one_record_over_the_maximum_when_validated_then_the_extra_record_is_named() -> None:
    report, _ = run(jsonl(dataset(15_001)))
    assert report.error_counts == {"too-many-records": 1}
    assert report.errors[0].line == 15_001
    assert run(jsonl(dataset(15_000)))[0].ok


def test_given_input_over_the_total_size_when_read_then_reading_stops_there() -> None:
    report, _ = run(jsonl(dataset(500)), rules=DatasetRules(max_total_bytes=20_000), on_invalid="drop")
    assert report.error_counts == {"too-large": 1}
    assert report.bytes_in <= 20_000 + 1024 * 1024 and report.records_read < 500


def test_given_several_sources_when_too_few_then_the_error_names_their_folder() -> None:
    sources = [MemorySource("s3://b/in/a.jsonl", jsonl(dataset(10))), MemorySource("s3://b/in/b.jsonl", b"")]
    report = convert(sources, None)
    assert report.first_error == "s3://b/in/: only 10 valid records; Bedrock needs at least 100"


def test_given_a_report_when_serialized_then_keys_are_camel_case_and_json_ready(tmp_path: Path) -> None:
    report = convert(local_sources([write_records(tmp_path / "x.jsonl", 100)]), None)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["recordsRead"] == 100 and data["detectedFormats"]
    assert {"recordsDropped", "bytesIn", "errorCounts", "firstError", "elapsedSeconds"} <= set(data)
    assert report.summary_line().startswith("valid: 100 valid of 100 records, 0 dropped")


def test_given_bad_options_when_made_then_they_are_refused() -> None:
    with pytest.raises(ValueError, match="input_format"):
        ConvertOptions(input_format="csv")
    with pytest.raises(ValueError, match="on_invalid"):
        ConvertOptions(on_invalid="ignore")
