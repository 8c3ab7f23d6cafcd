"""Turn Step Functions history events into a readable trace, one event at a time.

Each state is shown as it is entered (``>``) and left (``<``), with the time since the execution started and
the facts worth seeing from the handler's result: records converted, the job ARN, the job's status and the
phases of its ``statusDetails``, the throughput's or the deployment's status. Failed attempts (``!``) and retries (``~``) show too.
The trace reads only the history and the state machine definition, so it works for any execution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_PHASE_LABELS = {
    "validationDetails": "validation",
    "dataProcessingDetails": "data processing",
    "trainingDetails": "training",
}
_SERVING = {
    "none": "no serving requested",
    "provisioned-throughput": "with provisioned throughput",
    "on-demand": "with an on-demand deployment",
}
_TERMINAL_EVENTS = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def path_value(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (``$.a.b``) in ``document``, or None."""
    if path == "$":
        return document
    current = document
    for part in path.removeprefix("$.").split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def phases(status_details: Mapping[str, Any] | None) -> str:
    """'validation Completed, data processing InProgress, training NotStarted'."""
    parts = []
    for key, label in _PHASE_LABELS.items():
        phase = (status_details or {}).get(key)
        if isinstance(phase, Mapping) and phase.get("status"):
            parts.append(f"{label} {phase['status']}")
    return ", ".join(parts)


def facts(result: Any) -> str:
    """What a handler's result says, in a few words (empty when it is nothing we know)."""
    if not isinstance(result, Mapping):
        return ""
    if isinstance(result.get("run"), Mapping):
        run = result["run"]
        serving = _SERVING.get(str(run.get("serving")), f"served: {run.get('serving')}")
        return (
            f"run {run.get('runId')}: {run.get('teacherModelId')} -> {run.get('studentModelId')}, "
            f"job {run.get('jobName')}, {serving}"
        )
    if "summaryUri" in result:  # Write run summary
        return f"summary -> {result['summaryUri']}"
    if "answer" in result and "prompt" in result:  # Try the distilled model
        if result.get("error"):
            return f"the model did not answer: {result['error']}"
        return f"asked {_clip(result['prompt'])!r}, answered {_clip(result.get('answer') or '')!r}"
    if "updateStatus" in result:  # Promote the student / Check the promotion
        text = f"promotion {result['updateStatus']}: {result.get('deploymentArn')} -> {result.get('modelArn')}"
        return text + (f"; next check in {result.get('waitSeconds')}s" if result["updateStatus"] == "Updating" else "")
    if "passed" in result and "cause" in result:  # Decide the verdict
        return f"{'PASSED' if result['passed'] else result.get('error')}: {_clip(str(result['cause']), 160)}"
    if result.get("source") == "invocation-logs":  # Preview the invocation logs
        return (
            f"{result.get('recordsSelected')} of {result.get('recordsRead')} log records selected, "
            f"{result.get('teacherPairs')} answered by the teacher; {_clip(str(result.get('verdict', '')))}"
        )
    if "recordsWritten" in result:
        return (
            f"{result['recordsWritten']} records converted ({result.get('recordsRead')} read, "
            f"{result.get('recordsDropped', 0)} dropped, "
            + (f"{result['recordsHeldOut']} held out for the evaluation, " if result.get("recordsHeldOut") else "")
            + f"{result.get('bytesOut', 0):,} bytes) -> {result.get('datasetUri')}"
        )
    if "provisionedModelArn" in result:
        text = f"throughput {result.get('status')}"
        if not result.get("checks"):
            commitment = result.get("commitment") or "no commitment"
            return f"{text}: {result['provisionedModelArn']} ({result.get('modelUnits')} model unit(s), {commitment})"
        if result.get("failureMessage"):
            return f"{text}: {result['failureMessage']}"
        if result.get("status") in ("Creating", "Updating"):
            text += f"; next check in {result.get('waitSeconds')}s"
        return text
    if "deploymentArn" in result:
        text = f"deployment {result.get('status')}"
        if not result.get("checks"):
            return f"{text}: {result['deploymentArn']} (on demand, billed per token)"
        if result.get("failureMessage"):
            return f"{text}: {result['failureMessage']}"
        if result.get("status") == "Creating":
            text += f"; next check in {result.get('waitSeconds')}s"
        return text
    if "resumed" in result:  # the job's state-change event reached its target
        return f"resumed the waiting run ({result.get('status')})" if result["resumed"] else str(result.get("reason"))
    if "answered" in result and "status" in result:  # "Wait for the job to end" looked at the job
        said = "answered its own token" if result["answered"] else "waiting for its end"
        return f"looked at the job: {result['status']}; {said}"
    if "jobArn" in result:
        if not result.get("checks"):
            return f"job {result['jobArn']} started; its end comes by event, or by a look at the backstop"
        text = f"job {result.get('status')}"
        detail = phases(result.get("statusDetails"))
        text += f" ({detail})" if detail else ""
        if result.get("failureMessage"):
            text += f": {result['failureMessage']}"
        elif result.get("outputModelArn"):
            text += f" -> custom model {result['outputModelArn']}"
        return text
    queue = _queue_facts(result)
    if queue:
        return queue
    if "promptsUri" in result:  # Prepare the evaluation
        return f"{result.get('prompts')} prompts to answer and judge -> {result['promptsUri']}"
    if "batch" in result and "scored" in result:  # Answer and judge a batch
        return f"batch {result['batch']}: {result.get('scored')} of {result.get('prompts')} prompts scored"
    # A result this trace does not know: its short scalar fields.
    shown = [f"{k}={v}" for k, v in result.items()
             if isinstance(v, str | int | float | bool) and v != "" and len(str(v)) <= 120]  # fmt: skip
    return ", ".join(shown[:4])


def _queue_facts(result: Mapping[str, Any]) -> str:
    """The job queue's tasks (distill.job_slot_store): take, give back, back off."""
    limit = f"limit {result.get('limit')}" + (f", {result['limitSource']}" if result.get("limitSource") else "")
    if "attempt" in result and "waitSeconds" in result:
        return f"slot given back; queueing again in {result['waitSeconds']}s (back-off {result['attempt']}, {limit})"
    if "released" in result:
        done = "slot given back" if result["released"] else "left the line" if result.get("leftTheLine") else "no slot held"
        handed = f"; handed to {', '.join(result['handedTo'])}" if result.get("handedTo") else ""
        return f"{done}{handed} ({limit})"
    if result.get("slot") == "queued":
        return f"#{result.get('position')} in line ({limit}); waiting to be answered"
    if result.get("slot") == "granted":
        waited = f" after {clock_text(result['waitedSeconds'])} in line" if result.get("waitedSeconds") else ""
        return f"job slot granted{waited}" + (f" ({limit})" if "limit" in result else "")
    return ""


def _clip(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def error_text(error: str, cause: str) -> str:
    payload = _json(cause)
    if isinstance(payload, Mapping) and "errorMessage" in payload:
        return f"{payload.get('errorType') or error}: {payload['errorMessage']}"
    return f"{error}: {cause}" if cause else error


class Trace:
    """Feed it history events in order; it returns the lines each one adds."""

    def __init__(self, definition: Mapping[str, Any], started_at: float | None = None) -> None:
        self.states: Mapping[str, Any] = definition.get("States", {})
        self.start: datetime | None = None
        self.state: str = ""  # the state we are in
        self.attempts = 0
        self.result: Any = None
        self.pending_choice: tuple[float, str] | None = None
        self.backstop = False  # the last attempt of a callback task timed out (the backstop looks again)

    def _elapsed(self, event: Mapping[str, Any]) -> float:
        stamp = event.get("timestamp")
        if not isinstance(stamp, datetime):
            return 0.0
        if self.start is None:
            self.start = stamp
        return (stamp - self.start).total_seconds()

    @staticmethod
    def _line(elapsed: float, marker: str, text: str) -> str:
        return f"{clock_text(elapsed):>9} {marker} {text}"

    def feed(self, event: Mapping[str, Any]) -> list[str]:
        kind = str(event.get("type", ""))
        details = _details(event)
        at = self._elapsed(event)
        lines: list[str] = []
        if kind.endswith("StateEntered"):
            name = str(details.get("name", ""))
            if self.pending_choice:
                when, choice = self.pending_choice
                lines.append(self._line(when, "<", f"{choice} -> {name}"))
                self.pending_choice = None
            self.state, self.attempts, self.result = name, 0, None
            lines.append(self._line(at, ">", name + self._entering(name, _json(details.get("input")))))
        elif kind.endswith("StateExited"):
            name = str(details.get("name", ""))
            if kind == "ChoiceStateExited":
                self.pending_choice = (at, name)  # shown with the branch taken, when the next state starts
            else:
                said = facts(self.result) if kind == "TaskStateExited" else ""
                lines.append(self._line(at, "<", f"{name}  {said}" if said else name))
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            self.attempts += 1
            if self.attempts > 1 and not self.backstop:
                lines.append(self._line(at, "~", f"retry {self.attempts - 1}: {self.state} again"))
            self.backstop = False
        elif kind == "TaskSubmitted":  # a callback task's function returned; the task waits for its token
            said = facts(_payload(_json(details.get("output"))))
            if said:
                lines.append(self._line(at, "·", f"{self.state}: {said}"))
        elif kind == "TaskTimedOut" and details.get("error") == "States.Timeout" and self._waits_for_token():
            # The backstop: no event within the task's timeout; the retry looks at the job again.
            self.backstop = True
            lines.append(self._line(at, "~", f"{self.state}: no event yet; looking again"))
        elif kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
            self.result = _payload(_json(details.get("output")))
        elif kind in ("LambdaFunctionFailed", "TaskFailed", "LambdaFunctionTimedOut", "TaskTimedOut",
                      "LambdaFunctionScheduleFailed", "LambdaFunctionStartFailed", "TaskSubmitFailed"):  # fmt: skip
            what = error_text(str(details.get("error", kind)), str(details.get("cause", "")))
            lines.append(self._line(at, "!", f"{self.state}: {_short(what)}"))
        elif kind == "ExecutionStarted":
            lines.append(self._line(at, "*", f"execution started, input {_compact(details.get('input'))}"))
        elif kind in _TERMINAL_EVENTS:
            if kind == "ExecutionSucceeded":
                lines.append(self._line(at, "*", "execution succeeded"))
            else:
                what = error_text(str(details.get("error", "")), str(details.get("cause", "")))
                verb = {"ExecutionFailed": "failed", "ExecutionTimedOut": "timed out"}.get(kind, "aborted")
                lines.append(self._line(at, "*", f"execution {verb}: {_short(what)}"))
        return lines

    def _waits_for_token(self) -> bool:
        return str(self.states.get(self.state, {}).get("Resource", "")).endswith(".waitForTaskToken")

    def _entering(self, name: str, state_input: Any) -> str:
        state = self.states.get(name, {})
        kind = state.get("Type")
        if kind == "Wait":
            seconds = state.get("Seconds")
            if seconds is None and "SecondsPath" in state:
                seconds = path_value(state_input, state["SecondsPath"])
            if seconds is not None:
                return f"  ({seconds}s)"
            until = state.get("Timestamp") or path_value(state_input, state.get("TimestampPath", "$.none"))
            return f"  (until {until})" if until else ""
        if kind == "Fail":
            return f"  ({state.get('Error', 'failed')})"
        return ""


def clock_text(seconds: float) -> str:
    """Time since the start, readable at any scale: '12.30s', '2m05s', '6h03m21s'."""
    if seconds < 60:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _payload(result: Any) -> Any:
    """lambda:invoke without payloadResponseOnly wraps the function's result in Payload."""
    if isinstance(result, Mapping) and "Payload" in result and "StatusCode" in result:
        return result["Payload"]
    return result


def _compact(text: Any, limit: int = 160) -> str:
    value = _json(text)
    rendered = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return _short(rendered, limit)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
