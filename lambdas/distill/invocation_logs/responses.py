"""The response a log record carries: the answer's text, or why there is none.

From ``output.message.content[].text`` of the response body (Converse and Nova's InvokeModel share the shape).
Reasoning blocks and cache points are skipped (the answer is the text); tool use or an image means there is no
text answer to learn from. A response body logged as a list of Nova stream events (``contentBlockDelta``) is
joined; no AWS source shows how streamed responses are logged, so this is defensive.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from distill.invocation_logs.records import AnyRecord

# What became of the response of a usable record ("ok": a text answer).
RESPONSE_STATUSES = ("ok", "none", "error", "in-s3", "non-text", "empty", "unknown-shape")
_IGNORED_RESPONSE_BLOCKS = frozenset({"cachePoint", "reasoningContent"})
_decode_plain = msgspec.json.Decoder().decode


def response_of(record: AnyRecord, typed: bool) -> tuple[str | None, str]:
    """(text, "ok") or (None, the RESPONSE_STATUSES reason). ``typed``: the record is a LogRecord."""
    if record.errorCode:
        return None, "error"
    out = record.output
    if out is None:
        return None, "none"
    if out.outputBodyS3Path:
        return None, "in-s3"
    if typed:
        body: Any = out.outputBodyJson
        if body is UNSET:
            return None, "none"
        message = body.output.message if body is not None and body.output is not None else None
        if message is None or message.content is None:
            return None, "unknown-shape"
        parts = [block.text for block in message.content if block.text is not UNSET]
        return _answer("\n".join(parts))  # type: ignore[arg-type]
    raw: Any = out.outputBodyJson
    if len(raw) == 0:
        return None, "none"
    return _plain_response(_decode_plain(raw))


def _plain_response(body: Any) -> tuple[str | None, str]:
    if type(body) is list:  # a stream logged as its events (defensive: not seen in a real log)
        deltas = [_delta_text(event) for event in body]
        return _answer("".join(text for text in deltas if text))
    if type(body) is not dict:
        return None, "unknown-shape"
    output = body.get("output")
    message = output.get("message") if type(output) is dict else None
    content = message.get("content") if type(message) is dict else None
    if type(content) is not list:
        return None, "unknown-shape"
    parts = []
    for block in content:
        if type(block) is not dict:
            return None, "unknown-shape"
        if type(block.get("text")) is str:
            parts.append(block["text"])
        elif not _IGNORED_RESPONSE_BLOCKS.issuperset(block):
            return None, "non-text"  # tool use, images...: no text answer to learn from
    return _answer("\n".join(parts))


def _answer(text: str) -> tuple[str | None, str]:
    if not text or text.isspace():
        return None, "empty"
    return text, "ok"


def _delta_text(event: Any) -> str | None:
    if type(event) is dict:
        delta = event.get("contentBlockDelta")
        if type(delta) is dict and type(delta.get("delta")) is dict:
            text = delta["delta"].get("text")
            return text if type(text) is str else None
    return None
