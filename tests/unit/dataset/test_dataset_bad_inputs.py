"""Every kind of broken record: the run fails and the error names the line, the field and the problem."""

from __future__ import annotations

import json

import pytest

from distill.dataset import DatasetRules
from tests.unit.dataset.dataset_helpers import chat_line, conversation_line, dataset, jsonl, pc_line, run


def conv(*messages, **top) -> bytes:
    record = {"schemaVersion": "bedrock-conversation-2024", **top, "messages": list(messages)}
    return json.dumps(record).encode()


def msg(role: str, text: str = "hello", **content) -> dict:
    return {"role": role, "content": [{"text": text, **content}]}


DEEP = b'{"prompt": "a", "meta": ' + b"[" * 70 + b"]" * 70 + b"}"
VERY_DEEP = b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}"

# (id, the valid lines around it, bad line, kind, field or None, words the message must contain)
CASES = [
    ("truncated-json", pc_line, b'{"prompt": "a", "completion": "b"', "invalid-json", "", "not valid JSON"),
    ("invalid-utf8", pc_line, b'{"prompt": "caf\xe9", "completion": "b"}', "invalid-utf8", "", "UTF-8"),
    ("overlong-utf8", pc_line, b'{"prompt": "\xc0\xaf", "completion": "b"}', "invalid-utf8", "", "UTF-8"),
    ("array-line", pc_line, b'[{"prompt": "a"}]', "not-an-object", "$", "got an array"),
    ("number-line", pc_line, b"42", "not-an-object", "$", "got a number"),
    ("string-line", pc_line, b'"just text"', "not-an-object", "$", "got a string"),
    ("nan", pc_line, b'{"prompt": NaN}', "invalid-json", "", "malformed"),
    ("two-objects", pc_line, b'{"prompt": "a"}{"prompt": "b"}', "invalid-json", "", "trailing"),
    ("duplicate-key-empty", pc_line, b'{"prompt": "a", "prompt": ""}', "empty-text", "$.prompt", "empty"),
    ("missing-prompt", pc_line, b'{"completion": "b"}', "missing-field", "$.prompt", "missing"),
    ("prompt-number", pc_line, b'{"prompt": 5}', "wrong-type", "$.prompt", "got number"),
    ("completion-array", pc_line, b'{"prompt": "a", "completion": ["b"]}', "wrong-type", "$.completion", "array"),
    ("blank-prompt", pc_line, b'{"prompt": "  \\n "}', "empty-text", "$.prompt", "empty"),
    ("empty-completion", pc_line, b'{"prompt": "a", "completion": ""}', "empty-text", "$.completion", "empty"),
    ("deep-extra-field", pc_line, DEEP, "too-deep", "$.meta", "deeper than 64"),
    ("very-deep", pc_line, VERY_DEEP, "too-deep", None, "deeper than 64"),
    (
        "bad-schema-version",
        conversation_line,
        conv(msg("user")).replace(b"2024", b"2023"),
        "schema-version",
        "$.schemaVersion",
        "expected 'bedrock-conversation-2024'",
    ),
    ("missing-schema-version", conversation_line, b'{"messages": []}', "missing-field", "$.schemaVersion", "required"),
    (
        "two-system-items",
        conversation_line,
        conv(msg("user"), system=[{"text": "a"}, {"text": "b"}]),
        "system-items",
        "$.system",
        "at most one",
    ),
    (
        "assistant-first",
        conversation_line,
        conv(msg("assistant")),
        "role-order",
        "$.messages[0].role",
        "expected 'user' first, got 'assistant'",
    ),
    (
        "user-twice",
        conversation_line,
        conv(msg("user"), msg("user")),
        "role-order",
        "$.messages[1].role",
        "expected 'assistant' after 'user', got 'user'",
    ),
    (
        "image",
        conversation_line,
        conv(msg("user", image={"format": "png"})),
        "unsupported-content",
        "$.messages[0].content[0].image",
        "not supported",
    ),
    (
        "tool-use",
        conversation_line,
        conv(msg("user"), msg("assistant", toolUse={"name": "x"})),
        "unsupported-content",
        "$.messages[1].content[0].toolUse",
        "not supported",
    ),
    (
        "two-content-items",
        conversation_line,
        conv({"role": "user", "content": [{"text": "a"}, {"text": "b"}]}),
        "content-items",
        "$.messages[0].content",
        "exactly one",
    ),
    ("empty-text", conversation_line, conv(msg("user", "")), "empty-text", "$.messages[0].content[0].text", "empty"),
    (
        "system-role-in-messages",
        conversation_line,
        conv(msg("user"), msg("system")),
        "bad-role",
        "$.messages[1].role",
        "got 'system'",
    ),
    ("unknown-top-field", conversation_line, conv(msg("user"), extra=1), "unknown-field", "$.extra", "allowed"),
    (
        "content-string",
        conversation_line,
        conv({"role": "user", "content": "hi"}),
        "wrong-type",
        "$.messages[0].content",
        "expected an array",
    ),
    ("no-messages", conversation_line, conv(), "missing-field", "$.messages", "at least one"),
    (
        "text-number",
        conversation_line,
        conv(msg("user", 7)),
        "wrong-type",
        "$.messages[0].content[0].text",
        "expected a string",
    ),
    (
        "chat-image",
        chat_line,
        b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}',
        "unsupported-content",
        "$.messages[0].content[0].type",
        "not supported",
    ),
    (
        "chat-tool-role",
        chat_line,
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]}',
        "unsupported-content",
        "$.messages[1].role",
        "'tool'",
    ),
    (
        "chat-late-system",
        chat_line,
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}',
        "role-order",
        "$.messages[1].role",
        "only allowed first",
    ),
    (
        "chat-tool-calls",
        chat_line,
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [{}]}]}',
        "unsupported-content",
        "$.messages[1].tool_calls",
        "tool use",
    ),
]


@pytest.mark.parametrize(
    ("make_line", "bad", "kind", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_given_one_bad_record_when_validated_then_its_kind_line_and_field_are_reported(
    make_line, bad: bytes, kind: str, field: str | None, words: str
) -> None:
    lines = [*dataset(2, make_line), bad, *dataset(100, make_line, start=2)]
    report, sink = run(jsonl(lines), name="s3://bucket/incoming/x.jsonl")
    assert not report.ok
    assert sink.state == "aborted" and not sink.data
    assert report.error_counts == {kind: 1}
    error = report.errors[0]
    assert (error.kind, error.line, error.source) == (kind, 3, "s3://bucket/incoming/x.jsonl")
    if field is not None:
        assert error.field == field
    assert words in error.message
    assert report.first_error == str(error)
    assert report.first_error.startswith("s3://bucket/incoming/x.jsonl line 3: ")


@pytest.mark.parametrize(
    ("make_line", "bad", "kind", "field", "words"), [c[1:] for c in CASES[:4]], ids=[c[0] for c in CASES[:4]]
)
def test_given_one_bad_record_when_dropping_then_it_is_dropped_and_the_rest_is_written(
    make_line, bad: bytes, kind: str, field: str | None, words: str
) -> None:
    lines = [*dataset(2, make_line), bad, *dataset(100, make_line, start=2)]
    report, sink = run(jsonl(lines), on_invalid="drop")
    assert report.ok and report.first_error is None
    assert (report.records_dropped, report.records_written, report.error_counts) == (1, 102, {kind: 1})
    assert sink.state == "committed" and len(sink.records()) == 102


def test_given_an_unknown_shape_on_the_first_line_when_validated_then_unknown_format_is_reported() -> None:
    report, _ = run(jsonl([b'{"question": "x"}', *dataset(100)]))
    assert report.errors[0].kind == "unknown-format" and report.errors[0].line == 1
    assert report.detected_formats == {"data.jsonl": "prompt-completion"}


def test_given_a_line_over_the_limit_when_validated_then_it_is_skipped_and_later_lines_keep_their_numbers() -> None:
    long_line = b'{"prompt": "' + b"x" * 5000 + b'"}'
    rules = DatasetRules(max_line_bytes=1000)
    lines = [*dataset(3), long_line, *dataset(100, start=3), b'{"prompt": ""}']
    report, _ = run(jsonl(lines), rules=rules)
    assert [(e.kind, e.line) for e in report.errors] == [("line-too-long", 4), ("empty-text", 105)]
    assert report.records_read == 105 and report.records_valid == 103


def test_given_a_line_longer_than_a_read_chunk_when_validated_then_it_is_not_buffered_and_is_reported() -> None:
    # 3 MiB on one line with the default 1 MiB limit: read in 1 MiB chunks, skipped up to its newline.
    huge = b'{"prompt": "' + b"y" * (3 * 1024 * 1024) + b'"}'
    report, _ = run(jsonl([*dataset(50), huge, *dataset(60, start=50)]), on_invalid="drop")
    assert report.ok
    assert [(e.kind, e.line) for e in report.errors] == [("line-too-long", 51)]
    assert report.records_valid == 110


def test_given_many_errors_of_one_kind_when_reported_then_five_are_kept_and_all_are_counted() -> None:
    lines = dataset(100) + [b"[]"] * 12
    report, _ = run(jsonl(lines))
    assert report.error_counts == {"not-an-object": 12}
    assert [e.line for e in report.errors] == [101, 102, 103, 104, 105]


def test_given_a_chat_record_starting_with_the_assistant_after_its_system_message_when_validated_then_its_line_is_named(
) -> None:
    bad = json.dumps({"messages": [
        {"role": "system", "content": "You help customers."},
        {"role": "assistant", "content": "How can I help?"},
        {"role": "user", "content": "my parcel is late"},
    ]}).encode()  # fmt: skip
    lines = [*dataset(4, chat_line), bad, *dataset(100, chat_line, start=4)]
    report, sink = run(jsonl(lines), name="tickets/chat.jsonl")
    assert not report.ok and sink.state == "aborted" and not sink.data
    assert report.error_counts == {"role-order": 1}
    (error,) = report.errors
    assert (error.source, error.line, error.field) == ("tickets/chat.jsonl", 5, "$.messages[1].role")
    assert "expected 'user' first, got 'assistant'" in error.message
    assert report.first_error == "tickets/chat.jsonl line 5: $.messages[1].role: " + error.message


@pytest.mark.parametrize("before", [b"", b"\n\n", b"\r\n  \n"], ids=["no-blank-lines", "blank-lines", "crlf-blanks"])
def test_given_an_invalid_last_line_without_a_trailing_newline_when_validated_then_its_own_line_number_is_reported(
    before: bytes,
) -> None:
    data = jsonl(dataset(100)) + before + b'{"prompt": ""}'  # no newline at the end of the file
    last_line = data.count(b"\n") + 1
    report, sink = run(data)
    assert not report.ok and sink.state == "aborted"
    assert report.records_read == 101
    assert [(e.kind, e.line, e.field) for e in report.errors] == [("empty-text", last_line, "$.prompt")]
    assert report.first_error.startswith(f"data.jsonl line {last_line}: $.prompt: ")
