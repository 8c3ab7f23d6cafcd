"""What an offline run gives back: the execution's end, its history and trace, and the EventBridge deliveries
its end caused."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from distill_cli.offline.events import Delivery


@dataclass
class RunResult:
    execution_arn: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any = None
    error: str = ""
    cause: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    seconds: float = 0.0  # real seconds the offline run took
    virtual_seconds: float = 0.0  # what the execution took on the world's clock
    deliveries: list[Delivery] = field(default_factory=list)  # EventBridge targets the run reached

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def message(self) -> str:
        """The cause, readable: a Lambda error payload becomes ``errorType: errorMessage``."""
        return failure_message(self.error, self.cause)

    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history
                if e["type"].endswith("StateEntered") and "stateEnteredEventDetails" in e]  # fmt: skip

    def seconds_in(self, *states: str) -> float:
        """How long the run spent in the named states (from its history's timestamps)."""
        total, entered = 0.0, None
        for event in self.history:
            if not (event["type"].endswith("StateEntered") or event["type"].startswith("Execution")):
                continue
            if entered is not None:
                total += (event["timestamp"] - entered).total_seconds()
                entered = None
            if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] in states:
                entered = event["timestamp"]
        return total

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.history if e["type"] == type_]


def failure_message(error: str, cause: str) -> str:
    text = cause or ""
    with contextlib.suppress(ValueError, TypeError):
        payload = json.loads(text)
        if isinstance(payload, dict) and "errorMessage" in payload:
            return f"{payload.get('errorType') or error}: {payload['errorMessage']}"
    if error and text:
        return f"{error}: {text}"
    return error or text or "(no cause given)"


def default_execution_name(path: str | Path) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).name.lower()).strip("-")[:40] or "run"
    return f"local-{stem}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:4]}"


def printer(stream: TextIO | None = None) -> Callable[[str], None]:
    """A trace sink that writes to the stream current now (not to whatever sys.stdout is later)."""
    out = stream or sys.stdout

    def emit(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    return emit


def details_of(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})
