"""Small generated datasets for the dataset tests, and a run of the engine on them in memory."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from distill.dataset import ConvertOptions, DatasetReport, DatasetRules, convert
from tests.support.memory_io import MemorySink, MemorySource

SCHEMA = "bedrock-conversation-2024"


def pc_line(number: int) -> bytes:
    record = {"prompt": f"How do I reset my password? (ticket {number})", "completion": f"Open Settings. #{number}"}
    return json.dumps(record).encode()


def conversation_line(number: int, system: str | None = None) -> bytes:
    record: dict[str, Any] = {"schemaVersion": SCHEMA}
    if system:
        record["system"] = [{"text": system}]
    record["messages"] = [
        {"role": "user", "content": [{"text": f"question {number}"}]},
        {"role": "assistant", "content": [{"text": f"answer {number}"}]},
    ]
    return json.dumps(record).encode()


def chat_line(number: int) -> bytes:
    record = {
        "messages": [
            {"role": "system", "content": "You help customers."},
            {"role": "user", "content": f"question {number}"},
            {"role": "assistant", "content": [{"type": "text", "text": f"answer {number}"}]},
        ]
    }
    return json.dumps(record).encode()


def dataset(count: int = 100, line=pc_line, start: int = 0) -> list[bytes]:
    return [line(number) for number in range(start, start + count)]


def jsonl(lines: list[bytes], newline: bytes = b"\n") -> bytes:
    return b"".join(line + newline for line in lines)


def write_records(path: Path, count: int = 100, line=pc_line) -> Path:
    path.write_bytes(jsonl(dataset(count, line)))
    return path


def run(
    data: bytes, name: str = "data.jsonl", rules: DatasetRules | None = None, **options: Any
) -> tuple[DatasetReport, MemorySink]:
    sink = MemorySink()
    report = convert([MemorySource(name, data)], sink, ConvertOptions(**options), rules or DatasetRules())
    return report, sink


def notebook_convert(text: str, system_prompt: str) -> list[dict[str, Any]]:
    """The AWS notebook's converter as written (the one the benchmark runs), its output parsed back."""
    from bench.notebook_convert import notebook_line

    return [json.loads(notebook_line(line, system_prompt)) for line in io.StringIO(text)]
