"""Evaluation prompts: taken from converted records, stored as one JSONL file the batches read their slice of.

A record is evaluated on its first user turn, with its system prompt; its own assistant answer, if it had one,
is kept as ``reference`` (shown nowhere to the judge: the comparison is student against teacher).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from distill.evaluation.holdout import prompt_key


class EvalPrompt(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, rename="camel"):
    index: int  # position in the evaluation set (0-based), stable across reruns
    prompt: str
    system: str = ""
    reference: str = ""
    key: int = 0  # the hold-out key of the prompt


def prompt_text(record: dict[str, Any]) -> str:
    """The first user text of a bedrock-conversation-2024 record (what the converter writes)."""
    return str(record["messages"][0]["content"][0]["text"])


def from_record(record: dict[str, Any], index: int = 0) -> EvalPrompt:
    """An evaluation prompt from a converted (bedrock-conversation-2024) record."""
    messages = record["messages"]
    system = record.get("system") or [{"text": ""}]
    reference = messages[1]["content"][0]["text"] if len(messages) > 1 else ""
    prompt = prompt_text(record)
    return EvalPrompt(
        index=index, prompt=prompt, system=str(system[0]["text"]), reference=str(reference), key=prompt_key(prompt)
    )


def from_line(line: bytes | bytearray | memoryview, index: int = 0) -> EvalPrompt:
    """An evaluation prompt from one converted JSONL line (e.g. a payload the hold-out kept back)."""
    return from_record(msgspec.json.decode(bytes(line)), index)


def ordered(prompts: Iterable[EvalPrompt]) -> list[EvalPrompt]:
    """The evaluation set in its stable order (by key, then text), numbered from 0."""
    chosen = sorted(prompts, key=lambda p: (p.key, p.prompt))
    return [msgspec.structs.replace(p, index=i) for i, p in enumerate(chosen)]


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(EvalPrompt)


def encode(prompts: Sequence[EvalPrompt]) -> bytes:
    """JSONL, one prompt per line (the file every batch reads its slice from)."""
    return b"".join(_ENCODER.encode(p) + b"\n" for p in prompts)


def decode(data: bytes, start: int = 0, count: int | None = None) -> list[EvalPrompt]:
    """The prompts of lines ``start`` to ``start + count`` of an encoded file."""
    lines = [line for line in data.split(b"\n") if line.strip()]
    stop = len(lines) if count is None else start + count
    return [_DECODER.decode(line) for line in lines[start:stop]]
