"""Model-invocation log records as Bedrock writes them, files of them, and in-memory sources and sinks."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

from distill.invocation_logs import ProfileOptions, parse_filter

TEACHER = "amazon.nova-pro-v1:0"
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "invocation-logs"
SUPPORT = {"equals": {"use-case": "support"}}


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": text}]}


def converse(
    prompt: str = "My order #4471 has not arrived.",
    answer: str | None = "Sorry about that: it ships today.",
    *,
    metadata: dict[str, str] | None = None,
    model: str = TEACHER,
    operation: str = "Converse",
    system: str | None = "You help Northwind's customers.",
    messages: list[dict[str, Any]] | None = None,
    request_id: str = "req-1",
    timestamp: str = "2026-11-24T09:00:00Z",
) -> dict[str, Any]:
    """A Converse (or ConverseStream) record, shaped like the user guide's and the public Nova examples."""
    body: dict[str, Any] = {"messages": messages or [message("user", prompt)]}
    if system is not None:
        body["system"] = [{"text": system}]
    body["inferenceConfig"] = {"maxTokens": 512, "temperature": 0.7}
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": timestamp,
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/app/session"},
        "region": "us-east-1",
        "requestId": request_id,
        "operation": operation,
        "modelId": model,
        "input": {"inputContentType": "application/json", "inputBodyJson": body, "inputTokenCount": 12},
    }
    if answer is not None:
        record["output"] = {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": message("assistant", answer)},
                "stopReason": "end_turn",
                "metrics": {"latencyMs": 300},
                "usage": {"inputTokens": 12, "outputTokens": 9, "totalTokens": 21},
            },
            "outputTokenCount": 9,
        }
    if metadata is not None:
        record["requestMetadata"] = metadata
    return record


def nova_invoke(prompt: str = "Where is my parcel?", answer: str | None = "On its way.", **options: Any) -> dict:
    """InvokeModel on Nova: the Converse shapes under schemaVersion messages-v1."""
    record = converse(prompt, answer, **{"operation": "InvokeModel", **options})
    body = record["input"]["inputBodyJson"]
    record["input"]["inputBodyJson"] = {"schemaVersion": "messages-v1", **body}
    return record


def embeddings(text: str = "reset thermostat", metadata: dict[str, str] | None = None) -> dict[str, Any]:
    record = converse(metadata=metadata, model="amazon.titan-embed-text-v2:0", operation="InvokeModel")
    record["input"]["inputBodyJson"] = {"inputText": text, "dimensions": 256, "normalize": True}
    record["output"]["outputBodyJson"] = {"embedding": [0.01, -0.02, 0.03], "inputTextTokenCount": 3}
    return record


def image_generation() -> dict[str, Any]:
    record = converse(model="amazon.nova-canvas-v1:0", operation="InvokeModel")
    record["input"]["inputBodyJson"] = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cosy kitchen"}}
    record["output"] = {"outputContentType": "application/json", "outputBodyS3Path": "s3://logs/data/out.json"}
    return record


def line(record: Any) -> bytes:
    return json.dumps(record).encode()


def ndjson(records: list[Any]) -> bytes:
    return b"".join(line(record) + b"\n" for record in records)


def gz(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as file:
        file.write(data)
    return buffer.getvalue()


def write_logs(folder: Path, name: str, records: list[Any], gzipped: bool = True) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ndjson(records)
    path.write_bytes(gz(data) if gzipped else data)
    return path


def tagged(count: int, value: str = "support", start: int = 0, **options: Any) -> list[dict[str, Any]]:
    """``count`` distinct answered Converse records tagged use-case=value."""
    answered = options.pop("answer", True)
    return [
        converse(f"Question {number} about order #{1000 + number}", f"Answer {number}." if answered else None,
                 metadata={"use-case": value}, request_id=f"req-{number}", **options)
        for number in range(start, start + count)
    ]  # fmt: skip


def options(selection: Any = None, teacher: str | None = TEACHER, use_prompt_response: bool = False, **more: Any):
    parsed = parse_filter(selection) if selection is not None else None
    return ProfileOptions(parsed, teacher, use_prompt_response, **more)
