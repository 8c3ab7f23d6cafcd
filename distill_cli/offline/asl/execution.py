"""One execution of a state machine: its status and its history, with events shaped as GetExecutionHistory
returns them (https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# "Maximum execution history size: 25,000 events ... If the execution history reaches this quota the
# execution will fail." https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
HISTORY_LIMIT = 25_000
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class Execution:
    arn: str
    name: str
    state_machine_arn: str
    input: str
    role_arn: str
    started: float
    status: str = "RUNNING"
    stopped: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    history_exhausted: bool = False

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    def add(self, at: float, kind: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append a history event; ``details`` go under ``<kind in camelCase>EventDetails``."""
        event: dict[str, Any] = {
            "timestamp": utc(at),
            "type": kind,
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
        }
        if details is not None:
            # Every *StateEntered / *StateExited event carries stateEntered/ExitedEventDetails.
            name = "stateEntered" if kind.endswith("StateEntered") else "stateExited" if kind.endswith(
                "StateExited") else kind[0].lower() + kind[1:]  # fmt: skip
            event[name + "EventDetails"] = details
        self.events.append(event)
        if len(self.events) >= HISTORY_LIMIT:
            self.history_exhausted = True
        return event

    def end(self, at: float, status: str, *, output: Any = None, error: str = "", cause: str = "") -> None:
        if not self.running:
            return
        self.status, self.stopped = status, at
        kind = {"SUCCEEDED": "ExecutionSucceeded", "FAILED": "ExecutionFailed", "TIMED_OUT": "ExecutionTimedOut",
                "ABORTED": "ExecutionAborted"}[status]  # fmt: skip
        if status == "SUCCEEDED":
            self.output = as_json(output)
            self.add(at, kind, {"output": self.output, "outputDetails": {"truncated": False}})
        else:
            self.error, self.cause = error, cause
            self.add(at, kind, {"error": error, "cause": cause})

    def describe(self) -> dict[str, Any]:
        """DescribeExecution's answer."""
        answer: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": utc(self.started),
            "input": self.input,
            "inputDetails": {"included": True},
        }
        if self.stopped is not None:
            answer["stopDate"] = utc(self.stopped)
        if self.output is not None:
            answer["output"] = self.output
            answer["outputDetails"] = {"included": True}
        if self.error:
            answer["error"] = self.error
        if self.cause:
            answer["cause"] = self.cause
        return answer
