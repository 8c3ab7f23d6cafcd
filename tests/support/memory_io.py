"""In-memory stand-ins for the dataset engine's sources and sinks (distill.dataset.engine's Source and Sink): a source that
counts how often it was opened, and a sink that records whether it was committed or aborted."""

from __future__ import annotations

import io
import json
from typing import Any


class MemorySource:
    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data
        self.opened = 0

    def open(self) -> io.BytesIO:
        self.opened += 1
        return io.BytesIO(self.data)


class MemorySink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.state = "open"

    def write(self, data: bytes) -> None:
        assert self.state == "open", f"written after {self.state}"
        self.data += data

    def commit(self) -> None:
        self.state = "committed"

    def abort(self) -> None:
        self.state = "aborted"

    def lines(self) -> list[str]:
        return bytes(self.data).decode().splitlines()

    def records(self) -> list[Any]:
        return [json.loads(line) for line in bytes(self.data).splitlines()]
