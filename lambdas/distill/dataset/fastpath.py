"""The fast path for the notebook's ``{"prompt", "completion"}`` records.

Decoding into ``msgspec.Raw`` keeps each text as the JSON string bytes it already is: no Python str is
built and nothing is re-encoded, the output record is a fixed template around those bytes. This path only
*accepts* records that are plainly valid; anything doubtful (extra fields, a text that might be empty, a
non-string, bad UTF-8) returns None and goes through the general path in formats.py, which gives the
error message. Both paths produce the same JSON.
"""

from __future__ import annotations

import msgspec

from distill.dataset.rules import SCHEMA_VERSION


class PromptCompletion(msgspec.Struct, forbid_unknown_fields=True):
    prompt: msgspec.Raw = msgspec.Raw()
    completion: msgspec.Raw = msgspec.Raw()


# Byte classes for the UTF-8 check: A = ASCII, C = continuation byte (10xxxxxx), L = anything else.
_CLASSES = bytes(65 if b < 0x80 else 67 if b < 0xC0 else 76 for b in range(256))
_ASCII = bytes(range(0x80))
# A text starting with one of these is certainly neither empty nor whitespace only.
_PLAIN_START = frozenset(b for b in range(0x21, 0x7F) if b not in b'"\\')


def valid_utf8(line: bytes) -> bool:
    """Whether ``line`` is valid UTF-8, without building a str of the whole line.

    Deleting the ASCII bytes leaves the multi-byte sequences side by side; when no run of them starts with
    a continuation byte (no ASCII byte directly before a continuation byte), two runs cannot merge into one
    sequence, so the rest decodes exactly when every run does. That rest is short for mostly-ASCII text.
    """
    if line.isascii():
        return True
    if b"AC" in line.translate(_CLASSES):
        return False
    try:
        line.translate(None, _ASCII).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Templates:
    """The output record around the raw prompt and completion bytes, with the run's system prompt."""

    def __init__(self, system_prompt: str) -> None:
        head = b'{"schemaVersion":"' + SCHEMA_VERSION.encode() + b'",'
        if system_prompt:
            head += b'"system":[{"text":' + msgspec.json.encode(system_prompt) + b"}],"
        self.head = head + b'"messages":[{"role":"user","content":[{"text":'
        self.mid = b'}]},{"role":"assistant","content":[{"text":'
        self.tail = b"}]}]}\n"
        self.decode = msgspec.json.Decoder(PromptCompletion).decode

    def line(self, line: bytes) -> list[bytes | msgspec.Raw] | None:
        """The output pieces for one input line, or None to let the general path decide."""
        try:
            record = self.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None
        prompt, completion = record.prompt, record.completion
        if not _plain_text(prompt) or not (line.isascii() or valid_utf8(line)):
            return None
        if len(completion) == 0 or completion == _NULL:
            return [self.head, prompt, self.tail]
        if not _plain_text(completion):
            return None
        return [self.head, prompt, self.mid, completion, self.tail]


_NULL = msgspec.Raw(b"null")


def _plain_text(raw: msgspec.Raw) -> bool:
    view = memoryview(raw)
    return len(view) > 2 and view[0] == 0x22 and view[1] in _PLAIN_START
