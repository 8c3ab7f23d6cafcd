"""One model-invocation log record as Bedrock writes it: decoding, and helpers about models and prompts.

A record (user guide "Monitor model invocation using CloudWatch Logs and Amazon S3", and real Converse records
quoted in the project's research notes, Q11)::

    {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2025-03-11T00:38:02Z",
     "accountId": "...", "identity": {"arn": "..."}, "region": "us-east-1", "requestId": "ff4b6c63-...",
     "operation": "Converse", "modelId": "amazon.nova-lite-v1:0",
     "input": {"inputContentType": "application/json", "inputBodyJson": {...request...}, "inputTokenCount": 4},
     "output": {"outputContentType": "application/json", "outputBodyJson": {...response...}, "outputTokenCount": 38},
     "requestMetadata": {"project": "CustomerService"}}

Bodies over 100 KB (and binary data) are stored as separate objects: the record then carries
``input.inputBodyS3Path`` / ``output.outputBodyS3Path`` instead of the inline JSON (we do not fetch them).

Two decodings: the fast one puts Converse-shaped bodies straight into typed structs (no dicts are built, the
fields we do not use are skipped in C); when a body has another shape (an embeddings request, an image block,
Anthropic's body...) that fails and the record is decoded again with its bodies kept as raw JSON, for the
general path in ``conversation``, which says what it found.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

SCHEMA_TYPE = "ModelInvocationLog"
CONVERSE_OPERATIONS = ("Converse", "ConverseStream")
INVOKE_OPERATIONS = ("InvokeModel", "InvokeModelWithResponseStream")
OPERATIONS = CONVERSE_OPERATIONS + INVOKE_OPERATIONS
NOVA_SCHEMA_VERSION = "messages-v1"
_EMPTY_RAW = msgspec.Raw()


class InvalidLine(Exception):
    """A line that is not a log record at all (bad JSON, not an object, wrong field types)."""

    def __init__(self, kind: str, field: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message


# --- the fast shapes: bodies decoded straight into typed structs (Converse / Nova messages-v1) ------------------
class Block(msgspec.Struct, forbid_unknown_fields=True):
    """A content block that is text, a cache point or reasoning. Any other member (image, toolUse, ...) makes
    the fast decode fail, and the record takes the general path, which names it."""

    text: str | UnsetType = UNSET
    cachePoint: Any = UNSET
    reasoningContent: Any = UNSET


class Message(msgspec.Struct):
    role: Any = None
    content: list[Block] | None = None


class RequestBody(msgspec.Struct):
    schemaVersion: Any = None
    system: list[Block] | None = None
    messages: list[Message] | UnsetType | None = UNSET
    anthropic_version: Any = UNSET
    taskType: Any = UNSET
    textToImageParams: Any = UNSET


class OutputMessage(msgspec.Struct):
    message: Message | None = None


class ResponseBody(msgspec.Struct):
    output: OutputMessage | None = None


class LogInput(msgspec.Struct):
    inputBodyJson: RequestBody | UnsetType | None = UNSET
    inputBodyS3Path: Any = None
    inputTokenCount: Any = None


class LogOutput(msgspec.Struct):
    outputBodyJson: ResponseBody | UnsetType | None = UNSET
    outputBodyS3Path: Any = None
    outputTokenCount: Any = None


# --- the general shapes: bodies kept as raw JSON, decoded into plain values when needed -----------------------
class RawInput(msgspec.Struct):
    inputBodyJson: msgspec.Raw = _EMPTY_RAW
    inputBodyS3Path: Any = None
    inputTokenCount: Any = None


class RawOutput(msgspec.Struct):
    outputBodyJson: msgspec.Raw = _EMPTY_RAW
    outputBodyS3Path: Any = None
    outputTokenCount: Any = None


class Envelope(msgspec.Struct):
    """The fields we use; every other field of the record is skipped by the decoder. Types are checked where a
    wrong one would change a result (metadata, the body containers); the rest is taken as it comes."""

    schemaType: Any = None
    timestamp: Any = None
    requestId: Any = None
    operation: Any = None
    modelId: Any = None
    requestMetadata: dict[str, str] | None = None
    errorCode: Any = None  # failed invocations (field seen in public log schemas; not in the AWS doc example)

    @property
    def model(self) -> str:
        return self.modelId if type(self.modelId) is str else "(none)"

    # Both kinds of record (below) have ``input`` and ``output`` bodies that carry the token counts.
    @property
    def input_tokens(self) -> int:
        body = getattr(self, "input", None)
        return _count(body.inputTokenCount) if body is not None else 0

    @property
    def output_tokens(self) -> int:
        body = getattr(self, "output", None)
        return _count(body.outputTokenCount) if body is not None else 0


class LogRecord(Envelope):
    """A record whose bodies decoded into the typed Converse / Nova shapes (or have none)."""

    input: LogInput | None = None
    output: LogOutput | None = None


class RawLogRecord(Envelope):
    """Any other record: its bodies stay raw JSON."""

    input: RawInput | None = None
    output: RawOutput | None = None


AnyRecord = LogRecord | RawLogRecord
_decode_typed = msgspec.json.Decoder(LogRecord).decode
_decode_raw = msgspec.json.Decoder(RawLogRecord).decode


def decode_record(line: bytes | memoryview) -> AnyRecord:
    """The record on one line, or InvalidLine naming what is wrong. Typed bodies first (fast); a body of
    another shape makes that fail, and the record is decoded again with raw bodies."""
    try:
        return _decode_typed(line)
    except (msgspec.ValidationError, RecursionError):
        pass
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # reported by the second decode, with its message
    try:
        return _decode_raw(line)
    except UnicodeDecodeError as error:
        raise InvalidLine("invalid-utf8", "", f"not valid UTF-8: {error.reason}") from None
    except RecursionError:
        raise InvalidLine("too-deep", "", "JSON nested too deeply") from None
    except msgspec.ValidationError as error:
        text = str(error)
        if " - at `" not in text:  # the top-level value itself has the wrong type
            got = text.rsplit("got `", 1)[-1].rstrip("`")
            raise InvalidLine("not-an-object", "$", f"expected one JSON object per record, got {got}") from None
        message, _, path = text.rpartition(" - at `")
        raise InvalidLine("malformed-record", path.rstrip("`"), message) from None
    except msgspec.DecodeError as error:
        raise InvalidLine("invalid-json", "", f"not valid JSON: {error}") from None


def model_name(model_id: str) -> str:
    """A foundation-model or inference-profile ARN becomes its id; anything else is returned as is."""
    if model_id.startswith("arn:") and ("/" in model_id):
        kind = model_id.split(":", 5)[-1].split("/", 1)[0]
        if kind in ("foundation-model", "inference-profile", "system-defined-inference-profile"):
            return model_id.split("/", 1)[1]
    return model_id


def same_model(model_id: str, teacher: str) -> bool:
    """Whether a logged modelId is the teacher. The user guide wants responses "generated from the model ...
    that exactly match with the teacher model"; we also equate an ARN with its id (an assumption)."""
    return model_id == teacher or model_name(model_id) == model_name(teacher)


def normalized_prompt(system: str | None, turns: tuple[tuple[str, str], ...]) -> str:
    """The prompt (system prompt and every turn) case-folded, Unicode NFKC, runs of whitespace made one space:
    two prompts that differ only in case or spacing give the same text."""
    if len(turns) == 1:  # the common case, without building a list
        return f"{_normalize(system or '')}\x1fu:{_normalize(turns[0][1])}"
    parts = [_normalize(system or "")]
    parts.extend(f"{role[0]}:{_normalize(text)}" for role, text in turns)
    return "\x1f".join(parts)


def prompt_key(system: str | None, turns: tuple[tuple[str, str], ...]) -> bytes:
    """A 16-byte hash of the normalized prompt: the same on every run and machine (the hold-out split uses it)."""
    return hashlib.blake2b(normalized_prompt(system, turns).encode(), digest_size=16).digest()


def _normalize(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0
