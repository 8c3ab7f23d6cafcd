"""One log record: which are usable, the conversation and the response taken out of them, and why not."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.invocation_logs import LogRecord, RawLogRecord, decode_record, extract
from distill.invocation_logs.records import InvalidLine, model_name, prompt_key, same_model
from tests.unit.invocation_logs.logs_helpers import (
    TEACHER,
    converse,
    embeddings,
    image_generation,
    line,
    message,
    nova_invoke,
)


def run(record: Any):
    return extract(decode_record(line(record)))


def test_given_a_converse_record_when_extracted_then_system_prompt_and_answer() -> None:
    found = run(converse("Where is order #4471?", "It ships today.", system="Be kind."))
    assert found.usable and found.system == "Be kind."
    assert found.turns == (("user", "Where is order #4471?"),)
    assert (found.response, found.response_status) == ("It ships today.", "ok")


@pytest.mark.parametrize("operation", ["ConverseStream", "Converse"])
def test_given_converse_and_converse_stream_when_extracted_then_the_same_shape_is_read(operation: str) -> None:
    found = run(converse("Hi", "Hello!", operation=operation, system=None))
    assert found.usable and found.system is None and found.response == "Hello!"


def test_given_nova_invoke_model_when_extracted_then_read_like_converse() -> None:
    found = run(nova_invoke("Where is my parcel?", "On its way."))
    assert found.usable and found.turns == (("user", "Where is my parcel?"),) and found.response == "On its way."


def test_given_nova_invoke_model_without_schema_version_when_extracted_then_still_nova_messages() -> None:
    record = nova_invoke()
    del record["input"]["inputBodyJson"]["schemaVersion"]
    assert run(record).usable
    other = copy.deepcopy(record)
    other["modelId"] = "anthropic.claude-3-haiku-20240307-v1:0"
    assert run(other).reason == "unsupported-body"


def test_given_a_multi_turn_conversation_with_several_text_blocks_when_extracted_then_joined_per_message() -> None:
    turns = [
        {"role": "user", "content": [{"text": "My grinder is loud."}, {"text": "Since Monday."}]},
        message("assistant", "Is anything stuck in it?"),
        {"role": "user", "content": [{"text": "No."}, {"cachePoint": {"type": "default"}}]},
    ]
    record = converse(messages=turns, system=None)
    record["input"]["inputBodyJson"]["system"] = [{"text": "Be kind."}, {"cachePoint": {"type": "default"}},
                                                  {"text": "Be brief."}]  # fmt: skip
    found = run(record)
    assert found.usable and found.system == "Be kind.\nBe brief."
    assert found.turns == (
        ("user", "My grinder is loud.\nSince Monday."),
        ("assistant", "Is anything stuck in it?"),
        ("user", "No."),
    )


# (id, change to a Converse record, reason)
def _set(path: list[Any], value: Any):
    def change(record: dict) -> None:
        target = record
        for step in path[:-1]:
            target = target[step]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


BODY = ["input", "inputBodyJson"]
NOT_USABLE = [
    ("embeddings", None, "embeddings"),
    ("image-generation", None, "image-generation"),
    ("other-schema", _set(["schemaType"], "SomethingElse"), "not-a-log-record"),
    ("other-operation", _set(["operation"], "ApplyGuardrail"), "unsupported-operation"),
    ("reel", lambda r: r.update(operation="InvokeModel", modelId="amazon.nova-reel-v1:0"), "video-generation"),
    ("body-in-s3", _set(["input", "inputBodyJson"], KeyError), "no-input-body"),
    ("no-messages", _set([*BODY, "messages"], []), "no-messages"),
    ("messages-null", _set([*BODY, "messages"], None), "no-messages"),
    ("image-block", _set([*BODY, "messages", 0, "content"], [{"text": "see"}, {"image": {"format": "png"}}]),
     "non-text-content"),
    ("document-only", _set([*BODY, "messages", 0, "content"], [{"document": {"name": "a"}}]), "non-text-content"),
    ("tool-use", _set([*BODY, "messages"], [message("user", "a"), {"role": "assistant", "content": [
        {"toolUse": {"toolUseId": "1", "name": "f", "input": {}}}]}, message("user", "b")]), "non-text-content"),
    ("reasoning-in-input", _set([*BODY, "messages", 0, "content"], [{"reasoningContent": {}}]), "non-text-content"),
    ("empty-text", _set([*BODY, "messages", 0, "content"], [{"text": "  "}]), "empty-text"),
    ("no-blocks", _set([*BODY, "messages", 0, "content"], []), "empty-text"),
    ("empty-block", _set([*BODY, "messages", 0, "content"], [{}]), "non-text-content"),
    ("text-null", _set([*BODY, "messages", 0, "content"], [{"text": None}]), "non-text-content"),
    ("content-string", _set([*BODY, "messages", 0, "content"], "hello"), "unsupported-body"),
    ("content-missing", _set([*BODY, "messages", 0, "content"], KeyError), "unsupported-body"),
    ("assistant-first", _set([*BODY, "messages"], [message("assistant", "hi")]), "role-order"),
    ("user-twice", _set([*BODY, "messages"], [message("user", "a"), message("user", "b")]), "role-order"),
    ("prefill", _set([*BODY, "messages"], [message("user", "a"), message("assistant", "{")]), "role-order"),
    ("system-role", _set([*BODY, "messages"], [message("system", "a")]), "role-order"),
    ("system-string", _set([*BODY, "system"], "Be kind."), "unsupported-body"),
    ("system-blank", _set([*BODY, "system"], [{"text": " "}]), "empty-text"),
    ("body-array", _set([*BODY], [1, 2]), "unsupported-body"),
    ("body-null", _set([*BODY], None), "unsupported-body"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "reason"), NOT_USABLE, ids=[case[0] for case in NOT_USABLE])
def test_given_a_record_that_cannot_give_an_example_when_extracted_then_not_usable_with_the_reason(
    name: str, change: Any, reason: str
) -> None:
    record = embeddings() if name == "embeddings" else image_generation() if name == "image-generation" else converse()
    if change is not None:
        change(record)
    found = run(record)
    assert (found.usable, found.reason) == (False, reason), found.detail
    assert found.detail


def test_given_invoke_model_bodies_in_s3_and_other_models_when_extracted_then_named() -> None:
    in_s3 = nova_invoke()
    del in_s3["input"]["inputBodyJson"]
    in_s3["input"]["inputBodyS3Path"] = "s3://logs/data/abc/input.json"
    assert run(in_s3).reason == "body-in-s3"
    llama = converse(operation="InvokeModel", model="meta.llama3-1-405b-instruct-v1:0")
    llama["input"]["inputBodyJson"] = {"prompt": "story of two dogs", "max_tokens_to_sample": 300}
    assert run(llama).reason == "unsupported-body"
    anthropic = converse(operation="InvokeModel", model="anthropic.claude-3-haiku-20240307-v1:0")
    anthropic["input"]["inputBodyJson"] = {"anthropic_version": "bedrock-2023-05-31", "system": "Be kind.",
                                           "messages": [message("user", "hi")]}  # fmt: skip
    assert run(anthropic).reason == "unsupported-body"
    stream = nova_invoke(operation="InvokeModelWithResponseStream")
    assert run(stream).usable


# (id, change, status, text)
RESPONSES = [
    ("error", _set(["errorCode"], "ModelTimeoutException"), "error", None),
    ("no-output", _set(["output"], KeyError), "none", None),
    ("output-in-s3", _set(["output"], {"outputBodyS3Path": "s3://logs/data/out.json"}), "in-s3", None),
    ("body-missing", _set(["output", "outputBodyJson"], KeyError), "none", None),
    ("body-null", _set(["output", "outputBodyJson"], None), "unknown-shape", None),
    ("other-shape", _set(["output", "outputBodyJson"], {"completion": "hi"}), "unknown-shape", None),
    ("tool-use", _set(["output", "outputBodyJson", "output", "message", "content"],
                      [{"toolUse": {"toolUseId": "1", "name": "f", "input": {}}}]), "non-text", None),
    ("reasoning", _set(["output", "outputBodyJson", "output", "message", "content"],
                       [{"reasoningContent": {"reasoningText": {"text": "hmm"}}}, {"text": "Done."}]), "ok", "Done."),
    ("two-texts", _set(["output", "outputBodyJson", "output", "message", "content"],
                       [{"text": "One."}, {"text": "Two."}]), "ok", "One.\nTwo."),
    ("blank", _set(["output", "outputBodyJson", "output", "message", "content"], [{"text": " "}]), "empty", None),
    ("stream-events", _set(["output", "outputBodyJson"], [{"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "On "}}}, {"contentBlockDelta": {"delta": {"text": "time."}}},
        {"messageStop": {"stopReason": "end_turn"}}]), "ok", "On time."),
]  # fmt: skip


@pytest.mark.parametrize(("change", "status", "text"), [c[1:] for c in RESPONSES], ids=[c[0] for c in RESPONSES])
def test_given_a_usable_record_when_its_response_is_read_then_the_text_or_why_there_is_none(
    change: Any, status: str, text: str | None
) -> None:
    record = converse()
    change(record)
    found = run(record)
    assert found.usable
    assert (found.response_status, found.response) == (status, text)


# --- decoding: lines that are not records ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "kind", "field"),
    [
        (b'{"schemaType": "ModelInvocationLog"', "invalid-json", ""),
        (b"not json at all", "invalid-json", ""),
        (b"[1, 2]", "not-an-object", "$"),
        (b'"text"', "not-an-object", "$"),
        (b'{"requestMetadata": {"team": 5}}', "malformed-record", "$.requestMetadata[...]"),
        (b'{"requestMetadata": ["team"]}', "malformed-record", "$.requestMetadata"),
        (b'{"input": "body"}', "malformed-record", "$.input"),
        (b'{"modelId": "caf\xe9"}', "invalid-utf8", ""),
    ],
)
def test_given_a_line_that_is_no_record_when_decoded_then_invalid_with_kind_and_path(
    data: bytes, kind: str, field: str
) -> None:
    with pytest.raises(InvalidLine) as bad:
        decode_record(data)
    assert (bad.value.kind, bad.value.field) == (kind, field)


def test_given_tokens_and_fields_of_any_type_when_decoded_then_counts_are_zero_not_an_error() -> None:
    record = converse()
    record["input"]["inputTokenCount"] = "12"
    record["timestamp"] = 5
    decoded = decode_record(line(record))
    assert decoded.input_tokens == 0 and decoded.output_tokens == 9


# --- the two decoding paths agree ------------------------------------------------------------------------------
def _plain(record: Any):
    return extract(msgspec.json.decode(line(record), type=RawLogRecord))


def _summary(found: Any) -> tuple:
    return (found.usable, found.reason, found.system, found.turns, found.response, found.response_status)


@pytest.mark.parametrize("case", [c for c in NOT_USABLE if c[1] is not None], ids=lambda c: c[0])
def test_given_each_odd_record_when_read_by_both_paths_then_the_same_result(case: tuple) -> None:
    record = converse()
    case[1](record)
    assert _summary(run(record)) == _summary(_plain(record))


TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
BLOCK = st.one_of(
    st.builds(lambda t: {"text": t}, TEXT),
    st.just({"cachePoint": {"type": "default"}}),
    st.just({"reasoningContent": {"reasoningText": {"text": "r"}}}),
    st.just({}),
    st.builds(lambda t: {"text": t, "cachePoint": {}}, TEXT),
)
MESSAGE = st.builds(lambda role, blocks: {"role": role, "content": blocks},
                    st.sampled_from(["user", "assistant", "system", None]), st.lists(BLOCK, max_size=3))  # fmt: skip
BODY_STRATEGY = st.fixed_dictionaries(
    {"messages": st.lists(MESSAGE, max_size=4)},
    optional={"system": st.lists(BLOCK, max_size=3), "schemaVersion": st.just("messages-v1"),
              "anthropic_version": st.just("x"), "taskType": st.just("TEXT_IMAGE")},
)  # fmt: skip
OUTPUT = st.one_of(
    st.none(),
    st.builds(lambda blocks: {"output": {"message": {"role": "assistant", "content": blocks}}}, st.lists(BLOCK, max_size=3)),
    st.just({"output": {}}),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    body=BODY_STRATEGY,
    output=OUTPUT,
    operation=st.sampled_from(["Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream", "X"]),
    model=st.sampled_from([TEACHER, "amazon.titan-embed-text-v2:0", "meta.llama3-70b-instruct-v1:0"]),
    error=st.booleans(),
)
def test_given_any_converse_like_record_when_read_by_both_paths_then_they_agree(
    body: dict, output: Any, operation: str, model: str, error: bool
) -> None:
    record = converse(operation=operation, model=model)
    record["input"]["inputBodyJson"] = body
    record["output"]["outputBodyJson"] = output
    if error:
        record["errorCode"] = "ValidationException"
    typed = decode_record(line(record))
    assert _summary(extract(typed)) == _summary(_plain(record))


def test_given_a_converse_record_when_decoded_then_the_fast_typed_path_is_taken() -> None:
    assert type(decode_record(line(converse()))) is LogRecord
    assert type(decode_record(line(embeddings()))) is LogRecord  # unknown body fields are skipped
    with_image = converse()
    with_image["input"]["inputBodyJson"]["messages"][0]["content"].append({"image": {"format": "png"}})
    assert type(decode_record(line(with_image))) is RawLogRecord  # the typed block refuses it: general path


# --- models and prompts ---------------------------------------------------------------------------------------
def test_given_model_ids_and_arns_when_compared_with_the_teacher_then_only_the_same_model_matches() -> None:
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"
    assert model_name(arn) == TEACHER and same_model(arn, TEACHER) and same_model(TEACHER, TEACHER)
    assert not same_model("amazon.nova-lite-v1:0", TEACHER)
    assert not same_model("us.amazon.nova-pro-v1:0", TEACHER)  # a profile is not the model: exact match
    profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"
    assert same_model(profile, "us.amazon.nova-pro-v1:0")


def test_given_prompts_differing_in_case_and_spacing_when_keyed_then_the_same_key() -> None:
    key = prompt_key("Be kind.", (("user", "Where is my order?"),))
    assert key == prompt_key("  be   KIND. ", (("user", "where is\tmy  order? "),))
    assert key == prompt_key("Be kind.", (("user", "\uff37here is my order?"),))  # NFKC: full-width W
    assert key != prompt_key(None, (("user", "Where is my order?"),))
    assert key != prompt_key("Be kind.", (("user", "Where is my order"),))
    assert len(key) == 16


def test_given_a_decoded_record_when_serialized_for_debugging_then_json_is_untouched() -> None:
    record = converse(metadata={"use-case": "support"})
    decoded = decode_record(json.dumps(record, indent=2).encode())
    assert decoded.requestMetadata == {"use-case": "support"} and decoded.model == TEACHER
