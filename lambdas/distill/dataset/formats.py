"""The three input shapes, each checked and turned into one bedrock-conversation-2024 record.

Records arrive as plain dicts from msgspec's raw decoder: checking them with ``type(x) is ...`` and dict
look-ups is faster than decoding into typed Structs and lets every error name its exact JSON path and say
what is wrong in Bedrock's terms. Error paths are built only when something is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distill.dataset.rules import SCHEMA_VERSION

Record = dict[str, Any]
SystemItems = list[dict[str, str]] | None
Converter = Callable[[Record, SystemItems], Record]

_MISSING: Any = object()
_TOP_KEYS = frozenset({"schemaVersion", "system", "messages"})
# Content Bedrock's Converse schema knows but distillation does not accept.
_UNSUPPORTED_CONTENT = frozenset(
    {"image", "document", "video", "toolUse", "toolResult", "reasoningContent", "guardContent", "cachePoint"}
)
_CHAT_TOOL_KEYS = ("tool_calls", "function_call")


class Invalid(Exception):
    """One record breaks a rule. Raised by the converters, turned into a RecordError by the engine."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _text(value: Any, field: str) -> str:
    if type(value) is not str:
        if value is _MISSING:
            raise Invalid("missing-field", field, "required text is missing")
        raise Invalid("wrong-type", field, f"expected a string, got {json_type(value)}")
    if not value or value.isspace():
        raise Invalid("empty-text", field, "text is empty")
    return value


def _message(role: str, text: str) -> Record:
    return {"role": role, "content": [{"text": text}]}


def _record(system: SystemItems, messages: list[Record]) -> Record:
    # Key order as in the AWS notebook: schemaVersion, system, messages.
    if system:
        return {"schemaVersion": SCHEMA_VERSION, "system": system, "messages": messages}
    return {"schemaVersion": SCHEMA_VERSION, "messages": messages}


def _order_error(index: int, expected: str, previous: str | None, role: str, field: str) -> Invalid:
    if previous is None:
        return Invalid("role-order", field, f"expected '{expected}' first, got '{role}'")
    return Invalid("role-order", field, f"expected '{expected}' after '{previous}', got '{role}'")


# --- {"prompt": ..., "completion": ...} as in the AWS notebook ------------------------------------------
def from_prompt_completion(record: Record, system: SystemItems) -> Record:
    prompt = _text(record.get("prompt", _MISSING), "$.prompt")
    messages = [_message("user", prompt)]
    completion = record.get("completion")
    if completion is not None:  # missing or null: the teacher writes the answer
        messages.append(_message("assistant", _text(completion, "$.completion")))
    return _record(system, messages)


# --- records already in bedrock-conversation-2024 -----------------------------------------------------
def from_conversation(record: Record, system: SystemItems) -> Record:
    if len(record) > 3 or not _TOP_KEYS.issuperset(record):
        extra = next(key for key in record if key not in _TOP_KEYS)
        raise Invalid(
            "unknown-field",
            f"$.{extra}",
            "not part of bedrock-conversation-2024 (allowed: schemaVersion, system, messages)",
        )
    version = record.get("schemaVersion", _MISSING)
    if version != SCHEMA_VERSION:
        if version is _MISSING:
            raise Invalid("missing-field", "$.schemaVersion", f"required, must be '{SCHEMA_VERSION}'")
        raise Invalid("schema-version", "$.schemaVersion", f"expected '{SCHEMA_VERSION}', got {_show(version)}")
    own = record.get("system")
    if own is not None:
        _check_system(own)
    messages = record.get("messages", _MISSING)
    _check_messages(messages)
    # A run's non-empty system prompt replaces the record's own.
    return _record(system if system else own, messages)


def _check_system(system: Any) -> None:
    if type(system) is not list:
        raise Invalid("wrong-type", "$.system", f"expected an array, got {json_type(system)}")
    if len(system) > 1:
        raise Invalid("system-items", "$.system", f"at most one system text item is allowed, got {len(system)}")
    for index, item in enumerate(system):
        _check_text_item(item, f"$.system[{index}]")


def _check_messages(messages: Any) -> None:
    if type(messages) is not list:
        if messages is _MISSING:
            raise Invalid("missing-field", "$.messages", "required")
        raise Invalid("wrong-type", "$.messages", f"expected an array, got {json_type(messages)}")
    if not messages:
        raise Invalid("missing-field", "$.messages", "needs at least one 'user' message")
    expected, previous = "user", None
    for index, message in enumerate(messages):
        if type(message) is not dict:
            raise Invalid("wrong-type", f"$.messages[{index}]", f"expected an object, got {json_type(message)}")
        role = message.get("role", _MISSING)
        if role != expected:
            field = f"$.messages[{index}].role"
            if role is _MISSING:
                raise Invalid("missing-field", field, "required ('user' or 'assistant')")
            if role not in ("user", "assistant"):
                raise Invalid("bad-role", field, f"expected 'user' or 'assistant', got {_show(role)}")
            raise _order_error(index, expected, previous, role, field)
        content = message.get("content", _MISSING)
        if type(content) is not list or len(content) != 1 or len(message) != 2:
            _content_error(message, content, f"$.messages[{index}]")
        _check_text_item(content[0], f"$.messages[{index}].content[0]")
        previous, expected = role, ("assistant" if role == "user" else "user")


def _content_error(message: Record, content: Any, path: str) -> None:
    extra = next((key for key in message if key not in ("role", "content")), None)
    if extra is not None:
        raise Invalid("unknown-field", f"{path}.{extra}", "a message has only 'role' and 'content'")
    if content is _MISSING:
        raise Invalid("missing-field", f"{path}.content", "required")
    if type(content) is not list:
        raise Invalid("wrong-type", f"{path}.content", f"expected an array, got {json_type(content)}")
    raise Invalid("content-items", f"{path}.content", f"expected exactly one content item, got {len(content)}")


def _check_text_item(item: Any, path: str) -> None:
    if type(item) is not dict:
        raise Invalid("wrong-type", path, f"expected an object with 'text', got {json_type(item)}")
    if len(item) != 1 or "text" not in item:
        for key in item:
            if key in _UNSUPPORTED_CONTENT:
                raise Invalid(
                    "unsupported-content",
                    f"{path}.{key}",
                    f"'{key}' content is not supported in distillation datasets (text only)",
                )
        extra = next((key for key in item if key != "text"), None)
        if extra is not None:
            raise Invalid("unknown-field", f"{path}.{extra}", "a content item has only 'text'")
    _text(item.get("text", _MISSING), f"{path}.text")


# --- chat records {"messages": [{"role": ..., "content": str | [{"type": "text", "text": ...}]}]} ----------
def from_chat(record: Record, system: SystemItems) -> Record:
    messages = record.get("messages", _MISSING)
    if type(messages) is not list:
        if messages is _MISSING:
            raise Invalid("missing-field", "$.messages", "required")
        raise Invalid("wrong-type", "$.messages", f"expected an array, got {json_type(messages)}")
    own: SystemItems = None
    start = 0
    if messages and type(messages[0]) is dict and messages[0].get("role") == "system":
        own = [{"text": _chat_text(messages[0], "$.messages[0]")}]
        start = 1
    if len(messages) == start:
        raise Invalid("missing-field", f"$.messages[{start}]", "needs at least one 'user' message")
    out: list[Record] = []
    expected, previous = "user", None
    for index in range(start, len(messages)):
        message = messages[index]
        path = f"$.messages[{index}]"
        if type(message) is not dict:
            raise Invalid("wrong-type", path, f"expected an object, got {json_type(message)}")
        role = message.get("role", _MISSING)
        if role != expected:
            if role is _MISSING:
                raise Invalid("missing-field", f"{path}.role", "required")
            if role == "system":
                raise Invalid("role-order", f"{path}.role", "a system message is only allowed first")
            if role in ("tool", "function"):
                raise Invalid("unsupported-content", f"{path}.role", f"'{role}' messages are not supported (text only)")
            if role not in ("user", "assistant"):
                raise Invalid("bad-role", f"{path}.role", f"expected 'user' or 'assistant', got {_show(role)}")
            raise _order_error(index, expected, previous, role, f"{path}.role")
        for key in _CHAT_TOOL_KEYS:
            if message.get(key):
                raise Invalid("unsupported-content", f"{path}.{key}", "tool use is not supported (text only)")
        out.append(_message(role, _chat_text(message, path)))
        previous, expected = role, ("assistant" if role == "user" else "user")
    return _record(system if system else own, out)


def _chat_text(message: Record, path: str) -> str:
    content = message.get("content", _MISSING)
    if type(content) is str or content is _MISSING:
        return _text(content, f"{path}.content")
    if type(content) is not list:
        raise Invalid("wrong-type", f"{path}.content", f"expected a string or an array, got {json_type(content)}")
    parts = []
    for index, part in enumerate(content):
        part_path = f"{path}.content[{index}]"
        if type(part) is not dict:
            raise Invalid("wrong-type", part_path, f"expected an object, got {json_type(part)}")
        kind = part.get("type", "text")
        if kind != "text":
            raise Invalid(
                "unsupported-content", f"{part_path}.type", f"{_show(kind)} parts are not supported (text only)"
            )
        parts.append(_text(part.get("text", _MISSING), f"{part_path}.text"))
    if not parts:
        raise Invalid("empty-text", f"{path}.content", "no text parts")
    # Bedrock wants one text item per message: several text parts become one, a line apart.
    return "\n".join(parts)


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json_type(value)
    return text if len(text) <= 60 else text[:57] + "..."


CONVERTERS: dict[str, Converter] = {
    "prompt-completion": from_prompt_completion,
    "conversation": from_conversation,
    "chat": from_chat,
}


def detect(record: Record) -> str | None:
    """The shape of one record: conversation records carry schemaVersion, chat records only messages."""
    if "schemaVersion" in record:
        return "conversation"
    if "messages" in record:
        return "chat"
    if "prompt" in record:
        return "prompt-completion"
    return None


def depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded value (a scalar is 0, {} is 1), counting no further than ``limit + 1``."""
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        return 0
    if limit <= 0:
        return 1
    return 1 + max((depth(child, limit - 1) for child in children), default=0)
