"""The conversation inside a log record: is it usable for distillation, and what did the model answer?

Taken from ``system`` and ``messages`` of a Converse / ConverseStream request (the Converse API's shapes,
botocore bedrock-runtime 2023-09-30) and of an InvokeModel request to a Nova model (``schemaVersion:
messages-v1``, the same shapes); the response text from ``output.message.content[].text`` of the response body,
the same for Converse and Nova's InvokeModel. No AWS source shows a logged InvokeModel-on-Nova or streaming
record, so these are read defensively: streamed responses are assumed to be logged aggregated in the Converse
shape (as the one public ConverseStream record is); a list of Nova stream events is understood as well
(``responses``).

Rules (the dataset rules of bedrock-conversation-2024): text only (a cachePoint marker is ignored; image,
document, tool use... make the record unusable); several text blocks of one message are joined with a newline;
roles alternate user/assistant, starting and ending with user (a prefilled assistant turn is refused); no text
may be empty.

There are two implementations of the same rules: ``_typed_*`` for records whose bodies decoded into the typed
structs (almost all of them, and fast), ``_plain_*`` for the rest (plain dicts). tests/unit/invocation_logs checks
that both give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from distill.invocation_logs.records import (
    INVOKE_OPERATIONS,
    NOVA_SCHEMA_VERSION,
    OPERATIONS,
    SCHEMA_TYPE,
    AnyRecord,
    Block,
    LogRecord,
    RequestBody,
)
from distill.invocation_logs.responses import response_of

# Why a record cannot give a training example; the profile counts each.
NOT_USABLE = {
    "not-a-log-record": "not a model invocation log record",
    "unsupported-operation": "another operation than Converse(Stream), InvokeModel(WithResponseStream)",
    "embeddings": "embeddings call",
    "image-generation": "image generation call",
    "video-generation": "video generation call",
    "unsupported-body": "body other than Converse / Nova messages-v1",
    "body-in-s3": "request body stored in S3 (inputBodyS3Path)",
    "no-input-body": "no request body logged",
    "no-messages": "request without messages",
    "non-text-content": "image, document, tool use... in the request",
    "empty-text": "a message without text",
    "role-order": "turns not user/assistant/.../user",
}
_decode_plain = msgspec.json.Decoder().decode
_OPERATIONS = frozenset(OPERATIONS)
_INVOKE = frozenset(INVOKE_OPERATIONS)
Turns = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Extracted:
    """What one record can give: the conversation (when usable) and the response (when there is one)."""

    usable: bool
    reason: str = ""  # a NOT_USABLE kind when not usable
    detail: str = ""
    system: str | None = None
    turns: Turns = ()  # (role, text): user, assistant, ..., user
    response: str | None = None
    response_status: str = "none"  # one of RESPONSE_STATUSES


class _NotUsable(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


def extract(record: AnyRecord) -> Extracted:
    """Classify a decoded record and take out its conversation and response text."""
    typed = type(record) is LogRecord
    try:
        system, turns = _typed_request(record) if typed else _plain_request(record)  # type: ignore[arg-type]
    except _NotUsable as not_usable:
        return Extracted(False, not_usable.reason, not_usable.detail)
    except (msgspec.DecodeError, RecursionError):  # a raw body that does not decode after all
        return Extracted(False, "unsupported-body", "the request body cannot be decoded")
    try:
        response, status = response_of(record, typed)
    except (msgspec.DecodeError, RecursionError):
        response, status = None, "unknown-shape"
    return Extracted(True, "", "", system, turns, response, status)


# --- checks shared by both paths ---------------------------------------------------------------------------------
def _envelope(record: AnyRecord) -> tuple[str, str]:
    if record.schemaType != SCHEMA_TYPE:
        raise _NotUsable("not-a-log-record", f"schemaType is {_show(record.schemaType)}")
    operation, model = record.operation, record.modelId
    if type(model) is not str:
        model = "(none)"
    if operation not in _OPERATIONS:
        raise _NotUsable("unsupported-operation", f"operation {_show(operation)}")
    if operation in _INVOKE:
        kind = _media_kind(model)
        if kind:
            raise _NotUsable(kind, f"{operation} on {model}")
    data = record.input
    if data is not None and data.inputBodyS3Path:
        raise _NotUsable("body-in-s3", f"inputBodyS3Path {_show(data.inputBodyS3Path)}")
    return operation, model


def _media_kind(model: str) -> str:
    name = model.lower()
    if "embed" in name:
        return "embeddings"
    if "reel" in name:
        return "video-generation"
    if any(part in name for part in ("canvas", "image", "stable-diffusion", "stability.", "sd3")):
        return "image-generation"
    return ""


def _joined(texts: list[str | None], path: str) -> str:
    text = "\n".join(text for text in texts if text is not None)
    if not text or text.isspace():
        raise _NotUsable("empty-text", f"{path}: no text")
    return text


def _check_role(role: Any, expected: str, path: str) -> None:
    if role != expected:
        raise _NotUsable("role-order", f"{path}.role: expected {expected!r}, got {_show(role)}")


def _check_last(expected: str, count: int) -> None:
    if expected == "user":  # the last message is the assistant's: a prefill the response continues
        raise _NotUsable("role-order", f"$.input.inputBodyJson.messages[{count - 1}]: ends with 'assistant'")


# --- typed path ------------------------------------------------------------------------------------------------
def _typed_request(record: LogRecord) -> tuple[str | None, Turns]:
    operation, model = _envelope(record)
    data = record.input
    body = data.inputBodyJson if data is not None else UNSET
    if body is UNSET:
        raise _NotUsable("no-input-body", "input.inputBodyJson is missing")
    if body is None:
        raise _NotUsable("unsupported-body", "the request body is not a JSON object")
    assert isinstance(body, RequestBody)
    if operation in _INVOKE:
        if body.taskType is not UNSET or body.textToImageParams is not UNSET:
            raise _NotUsable("image-generation", f"{operation} on {model}")
        nova = body.schemaVersion == NOVA_SCHEMA_VERSION or (
            "amazon.nova" in model and body.messages is not UNSET and body.anthropic_version is UNSET
        )
        if not nova:
            raise _NotUsable("unsupported-body", f"{operation} body of {model} is not Nova messages-v1")
    messages = body.messages
    if not messages:  # UNSET, None or []
        raise _NotUsable("no-messages", "$.input.inputBodyJson.messages is missing or empty")
    system_text = None
    if body.system is not None:
        system_text = _typed_text(body.system, -1) or None
        if system_text is not None and system_text.isspace():
            raise _NotUsable("empty-text", "$.input.inputBodyJson.system: text is empty")
    if len(messages) == 1 and messages[0].role == "user" and messages[0].content is not None:
        return system_text, (("user", _typed_text(messages[0].content, 0)),)  # the common single turn
    turns = []
    expected = "user"
    for index, message in enumerate(messages):
        if message.role != expected:
            _check_role(message.role, expected, f"$.input.inputBodyJson.messages[{index}]")
        blocks = message.content
        if blocks is None:
            raise _NotUsable("unsupported-body", f"$.input.inputBodyJson.messages[{index}].content is not an array")
        turns.append((expected, _typed_text(blocks, index)))
        expected = "assistant" if expected == "user" else "user"
    _check_last(expected, len(messages))
    return system_text, tuple(turns)


def _typed_text(blocks: list[Block], index: int) -> str:
    """The text of message ``index``'s blocks (-1: the system prompt's), joined. The common case, one plain
    non-blank text block, takes no detour; anything else goes block by block, and errors name the block."""
    if len(blocks) == 1:
        block = blocks[0]
        text: Any = block.text
        if block.cachePoint is UNSET and block.reasoningContent is UNSET and text and not text.isspace():
            return text  # type: ignore[no-any-return]
    if index < 0:
        texts = [_typed_block(block, f"$.input.inputBodyJson.system[{i}]") for i, block in enumerate(blocks)]
        return "\n".join(text for text in texts if text is not None)
    path = f"$.input.inputBodyJson.messages[{index}]"
    return _joined([_typed_block(block, f"{path}.content[{i}]") for i, block in enumerate(blocks)], path)


def _typed_block(block: Block, path: str) -> str | None:
    text, cache, reasoning = block.text, block.cachePoint, block.reasoningContent
    if cache is UNSET and reasoning is UNSET:
        if text is UNSET:
            raise _NotUsable("non-text-content", f"{path}: 'text' content")
        return text  # type: ignore[return-value]
    if text is UNSET and reasoning is UNSET:
        return None  # a cache point only
    kind = "cachePoint" if cache is not UNSET else "reasoningContent"
    raise _NotUsable("non-text-content", f"{path}: {kind!r} content")


# --- plain path ---------------------------------------------------------------------------------------------------
def _plain_request(record: Any) -> tuple[str | None, Turns]:
    operation, model = _envelope(record)
    data = record.input
    if data is None or len(data.inputBodyJson) == 0:
        raise _NotUsable("no-input-body", "input.inputBodyJson is missing")
    body = _decode_plain(data.inputBodyJson)
    if operation in INVOKE_OPERATIONS:
        if type(body) is dict and ("taskType" in body or "textToImageParams" in body):
            raise _NotUsable("image-generation", f"{operation} on {model}")
        nova = type(body) is dict and (
            body.get("schemaVersion") == NOVA_SCHEMA_VERSION
            or ("amazon.nova" in model and "messages" in body and "anthropic_version" not in body)
        )
        if not nova:
            raise _NotUsable("unsupported-body", f"{operation} body of {model} is not Nova messages-v1")
    if type(body) is not dict:
        raise _NotUsable("unsupported-body", "the request body is not a JSON object")
    messages = body.get("messages")
    if type(messages) is not list or not messages:
        raise _NotUsable("no-messages", "$.input.inputBodyJson.messages is missing or empty")
    system_text = None
    system = body.get("system")
    if system is not None:
        if type(system) is not list:
            raise _NotUsable("unsupported-body", "$.input.inputBodyJson.system is not an array")
        texts = [_plain_block(block, f"$.input.inputBodyJson.system[{i}]") for i, block in enumerate(system)]
        system_text = "\n".join(text for text in texts if text is not None) or None
        if system_text is not None and system_text.isspace():
            raise _NotUsable("empty-text", "$.input.inputBodyJson.system: text is empty")
    turns = []
    expected = "user"
    for index, message in enumerate(messages):
        path = f"$.input.inputBodyJson.messages[{index}]"
        if type(message) is not dict:
            raise _NotUsable("unsupported-body", f"{path} is not an object")
        role = message.get("role")
        _check_role(role, expected, path)
        content = message.get("content")
        if type(content) is not list:
            raise _NotUsable("unsupported-body", f"{path}.content is not an array")
        text = _joined([_plain_block(block, f"{path}.content[{i}]") for i, block in enumerate(content)], path)
        turns.append((expected, text))
        expected = "assistant" if expected == "user" else "user"
    _check_last(expected, len(messages))
    return system_text, tuple(turns)


def _plain_block(block: Any, path: str) -> str | None:
    """The text of a content block; None for a cachePoint marker; _NotUsable for anything else."""
    if type(block) is not dict:
        raise _NotUsable("unsupported-body", f"{path} is not an object")
    text = block.get("text")
    if type(text) is str and len(block) == 1:
        return text
    if len(block) == 1 and "cachePoint" in block:
        return None
    kind = next((key for key in block if key != "text"), "text")
    raise _NotUsable("non-text-content", f"{path}: {kind!r} content")


def _show(value: Any) -> str:
    if value is None:
        return "missing"
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."
