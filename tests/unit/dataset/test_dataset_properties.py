"""Properties over generated records: conversion keeps the meaning, is idempotent, and the notebook agrees."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from distill.dataset import DatasetRules
from distill.dataset.fastpath import valid_utf8
from tests.unit.dataset.dataset_helpers import jsonl, notebook_convert, run

ANY = DatasetRules(min_records=1)
# Non-empty texts that are not only whitespace; Hypothesis' text() never yields lone surrogates.
TEXT = st.text(min_size=1, max_size=40).filter(lambda s: not s.isspace())
ROOT = Path(__file__).resolve().parents[3]


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(st.tuples(TEXT, st.none() | TEXT, st.booleans()), min_size=1, max_size=8),
    system=st.just("") | TEXT,
)
def test_given_any_valid_prompt_records_when_converted_then_their_meaning_survives(pairs, system) -> None:
    lines = []
    for prompt, completion, ascii_only in pairs:
        record = {"prompt": prompt} if completion is None else {"prompt": prompt, "completion": completion}
        lines.append(json.dumps(record, ensure_ascii=ascii_only).encode())
    report, sink = run(jsonl(lines), rules=ANY, system_prompt=system)
    assert report.ok, report.first_error
    for (prompt, completion, _), out in zip(pairs, sink.records(), strict=True):
        expected = [{"role": "user", "content": [{"text": prompt}]}]
        if completion is not None:
            expected.append({"role": "assistant", "content": [{"text": completion}]})
        assert out["messages"] == expected
        assert out.get("system") == ([{"text": system}] if system else None)
    # Converting converted data changes nothing: the same records, and from then on the same bytes
    # (the first pass keeps the input's own string escapes, the next ones write msgspec's).
    again, resink = run(bytes(sink.data), rules=ANY)
    assert again.ok and resink.records() == sink.records()
    assert run(bytes(resink.data), rules=ANY)[1].data == resink.data


@settings(max_examples=60, deadline=None)
@given(turns=st.lists(TEXT, min_size=1, max_size=6), system=st.none() | TEXT, count=st.integers(1, 3))
def test_given_any_valid_conversation_when_converted_twice_then_nothing_changes(turns, system, count) -> None:
    record = {"schemaVersion": "bedrock-conversation-2024"}
    if system is not None:
        record["system"] = [{"text": system}]
    record["messages"] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": [{"text": t}]} for i, t in enumerate(turns)
    ]
    report, sink = run(jsonl([json.dumps(record).encode()] * count), rules=ANY)
    assert report.ok and sink.records() == [record] * count
    assert run(bytes(sink.data), rules=ANY)[1].data == sink.data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.lists(st.text(max_size=8).map(str.encode) | st.binary(max_size=3)).map(b"".join))
def test_given_any_bytes_when_checked_for_utf8_then_the_answer_matches_python(data: bytes) -> None:
    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert valid_utf8(data) is expected


def test_given_the_notebook_shape_when_converted_then_records_equal_what_the_notebook_writes() -> None:
    tricky = ["plain", 'quote " and backslash \\', "new\nline\ttab", "unicode café — 🙂", "</script>", "\u2028"]
    lines = [json.dumps({"prompt": f"{t} {i}", "completion": f"re: {t}", "id": i}) for i, t in enumerate(tricky * 20)]
    text = "\n".join(lines) + "\n"
    system = "You are a support agent. Answer in one paragraph."
    _, sink = run(text.encode(), system_prompt=system)
    assert sink.records() == notebook_convert(text, system)


def test_given_the_sample_dataset_when_converted_then_it_equals_the_notebook_output() -> None:
    text = (ROOT / "samples" / "support-tickets.jsonl").read_text(encoding="utf-8")
    system = "You are a friendly customer-support agent."
    report, sink = run(text.encode(), system_prompt=system)
    assert report.ok and report.records_written >= 120
    assert sink.records() == notebook_convert(text, system)
