"""The Amazon States Language, interpreted on the offline world's clock.

Each execution is a process on :class:`distill_cli.offline.clock.Scheduler`: Wait states, retry intervals and
task-token waits advance the clock instead of sleeping. Implemented: Task (a Lambda function ARN, or
``arn:aws:states:::lambda:invoke`` with or without ``.waitForTaskToken``), Wait, Choice, Pass, Succeed, Fail and
an inline Map, with InputPath, Parameters, ResultSelector, ResultPath, OutputPath, Retry (with
MaxDelaySeconds and full jitter), Catch, TimeoutSeconds, HeartbeatSeconds and the 256 KiB payload limit.
Anything else in a definition is refused (DefinitionError), never guessed at.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from distill_cli.offline.asl import conditions, paths, retry
from distill_cli.offline.asl import errors as E
from distill_cli.offline.asl.definition import STATE_TYPES, check_definition, lambda_target
from distill_cli.offline.asl.errors import DefinitionError, StatesError
from distill_cli.offline.asl.execution import Execution, as_json, utc
from distill_cli.offline.clock import Scheduler, Signal, Task, Wait

# "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string."
# https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
PAYLOAD_LIMIT = 256 * 1024
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
Steps = Generator[Wait, Any, Any]


@dataclass(frozen=True)
class Invoked:
    """What a synchronous Lambda invocation gave: the function's result, or its error."""

    ok: bool
    result: Any = None
    error: str = ""
    cause: str = ""


class LambdaService(Protocol):
    def invoke(self, function: str, payload: Any) -> Invoked: ...


@dataclass
class TokenWait:
    """A task token, valid from the moment its task starts. ``signal`` fires once, with the answer
    (SendTaskSuccess / SendTaskFailure); a heartbeat only moves ``last_beat``."""

    execution: Execution
    last_beat: float = 0.0
    signal: Signal = field(default_factory=Signal)
    closed: str = ""  # "", "succeeded", "failed", "timed out"


class Interpreter:
    def __init__(self, scheduler: Scheduler, lambdas: LambdaService, *, seed: int = 7,
                 lambda_seconds: float = 0.1) -> None:  # fmt: skip
        self.scheduler = scheduler
        self.lambdas = lambdas
        self.random = random.Random(seed)  # full jitter, reproducibly
        self.lambda_seconds = lambda_seconds  # how long an invocation takes on the clock
        self.tokens: dict[str, TokenWait] = {}
        self.on_end: list[Callable[[Execution], None]] = []

    # --- executions ----------------------------------------------------------------------------------
    # CreateStateMachine refuses what the interpreter does not implement (asl/definition.py), before anything runs.
    check = staticmethod(check_definition)

    def start(self, execution: Execution, definition: Mapping[str, Any]) -> Task:
        task = self.scheduler.spawn(self._execute(execution, definition), name=execution.arn)

        def surface(result: tuple[bool, Any]) -> None:
            ok, value = result
            if not ok and isinstance(value, DefinitionError):  # met only while running: refuse loudly, to the driver
                raise value

        task.done.on_fire(surface)
        timeout = definition.get("TimeoutSeconds")
        if timeout:
            def time_out() -> None:
                if execution.running:
                    self.scheduler.interrupt(task, _TimedOut())
            self.scheduler.call_later(float(timeout), time_out)
        return task

    def _execute(self, ex: Execution, definition: Mapping[str, Any]) -> Steps:
        now = self.scheduler.now
        ex.add(now(), "ExecutionStarted", {"input": ex.input, "inputDetails": {"truncated": False},
                                          "roleArn": ex.role_arn})  # fmt: skip
        context = {
            "Execution": {"Id": ex.arn, "Input": json.loads(ex.input), "Name": ex.name, "RoleArn": ex.role_arn,
                          "StartTime": utc(ex.started).isoformat().replace("+00:00", "Z"), "RedriveCount": 0},
            "StateMachine": {"Id": ex.state_machine_arn, "Name": ex.state_machine_arn.rsplit(":", 1)[-1]},
        }  # fmt: skip
        try:
            output = yield from self._machine(definition, json.loads(ex.input), ex, context)
            ex.end(now(), "SUCCEEDED", output=output)
        except StatesError as failure:
            ex.end(now(), "FAILED", error=failure.error, cause=failure.cause)
        except _TimedOut:
            ex.end(now(), "TIMED_OUT", error=E.TIMEOUT, cause="The execution ran longer than its TimeoutSeconds.")
        except _Aborted as stop:
            ex.end(now(), "ABORTED", error=stop.error, cause=stop.cause)
        finally:
            for token in [t for t, w in self.tokens.items() if w.execution is ex and not w.closed]:
                self.tokens[token].closed = "execution ended"
            for listener in self.on_end:
                listener(ex)

    def stop(self, task: Task, error: str = "", cause: str = "") -> None:
        self.scheduler.interrupt(task, _Aborted(error, cause))

    # --- states --------------------------------------------------------------------------------------
    def _machine(self, machine: Mapping[str, Any], data: Any, ex: Execution, context: dict[str, Any]) -> Steps:
        if machine.get("QueryLanguage", "JSONPath") != "JSONPath":
            raise DefinitionError("only JSONPath state machines are interpreted offline")
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            entered = utc(self.scheduler.now()).isoformat().replace("+00:00", "Z")  # "2019-03-26T20:14:13.192Z"
            ctx = {**context, "State": {"Name": name, "EnteredTime": entered, "RetryCount": 0}}
            data, following = yield from self._state(name, state, data, ex, ctx)
            if following is None:
                return data
            name = following

    def _state(self, name: str, state: Mapping[str, Any], raw: Any, ex: Execution, ctx: dict[str, Any]) -> Steps:
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise DefinitionError(f"state {name!r}: type {kind} is not interpreted offline")
        self._event(ex, f"{kind}StateEntered", {"name": name, "input": as_json(raw),
                                                "inputDetails": {"truncated": False}})  # fmt: skip
        if kind == "Fail":
            error = paths.read(raw, state["ErrorPath"], ctx) if "ErrorPath" in state else state.get("Error", "")
            cause = paths.read(raw, state["CausePath"], ctx) if "CausePath" in state else state.get("Cause", "")
            raise StatesError(str(error), str(cause))
        effective = paths.select(raw, state.get("InputPath", "$"))
        following: str | None = state.get("Next")
        if kind == "Choice":
            following = next((rule["Next"] for rule in state["Choices"]
                              if conditions.holds(rule, effective, ctx)), state.get("Default"))  # fmt: skip
            if following is None:
                raise StatesError(E.NO_CHOICE, f"No Choice Rules matched and no Default in state '{name}'")
            output = paths.select(effective, state.get("OutputPath", "$"))
        elif kind == "Wait":
            yield self.scheduler.sleep(self._wait_seconds(name, state, effective, ctx))
            output = paths.select(effective, state.get("OutputPath", "$"))
        elif kind == "Succeed":
            output, following = paths.select(effective, state.get("OutputPath", "$")), None
        else:  # Pass, Task, Map: a result merged into the raw input
            caught = None
            try:
                if kind == "Pass":  # Parameters make the (virtual task's) input; Result, when given, its result
                    given = paths.render(state["Parameters"], effective, ctx) if "Parameters" in state else effective
                    result = state.get("Result", given)
                else:
                    result = yield from self._with_retries(name, state, effective, ex, ctx)
                if "ResultSelector" in state:
                    result = paths.render(state["ResultSelector"], result, ctx)
                merged = paths.write(raw, state.get("ResultPath", "$"), result)
            except StatesError as failure:
                caught = retry.catcher(state, failure)
                if caught is None:
                    raise
                following = caught["Next"]
                merged = paths.write(raw, caught.get("ResultPath", "$"), {"Error": failure.error,
                                                                          "Cause": failure.cause})  # fmt: skip
            output = paths.select(merged, state.get("OutputPath", "$")) if caught is None else merged
        if state.get("End"):
            following = None
        self._limit(output, name)
        self._event(ex, f"{kind}StateExited", {"name": name, "output": as_json(output),
                                               "outputDetails": {"truncated": False}})  # fmt: skip
        return output, following

    def _wait_seconds(self, name: str, state: Mapping[str, Any], data: Any, ctx: Any) -> float:
        if "Seconds" in state:
            return float(state["Seconds"])
        if "SecondsPath" in state:
            seconds = paths.read(data, state["SecondsPath"], ctx, field="SecondsPath")
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError(E.RUNTIME, f"Wait state '{name}': SecondsPath gave {seconds!r}, not a "
                                             "non-negative integer")  # fmt: skip
            return float(seconds)
        stamp = state.get("Timestamp") or paths.read(data, state.get("TimestampPath", "$.none"), ctx)
        until = conditions._timestamp(str(stamp))
        if until is None:
            raise StatesError(E.RUNTIME, f"Wait state '{name}': {stamp!r} is not an ISO-8601 timestamp")
        return max(0.0, until.timestamp() - self.scheduler.now())

    # --- retry (distill_cli/offline/asl/retry.py) -------------------------------------------------------------
    def _with_retries(self, name: str, state: Mapping[str, Any], data: Any, ex: Execution, ctx: dict[str, Any]
                      ) -> Steps:  # fmt: skip
        retriers = state.get("Retry", [])
        attempts = [0] * len(retriers)
        while True:
            try:
                if state["Type"] == "Map":
                    return (yield from self._map(name, state, data, ex, ctx))
                return (yield from self._task(name, state, data, ex, ctx))
            except StatesError as failure:
                delay = retry.retry_delay(retriers, attempts, failure, self.random)
                if delay is None:
                    raise
                ctx["State"]["RetryCount"] = sum(attempts)
                yield self.scheduler.sleep(delay)

    # --- tasks ---------------------------------------------------------------------------------------
    def _task(self, name: str, state: Mapping[str, Any], data: Any, ex: Execution, ctx: dict[str, Any]) -> Steps:
        resource = str(state["Resource"])
        token = uuid.uuid4().hex + uuid.uuid4().hex if resource.endswith(".waitForTaskToken") else None
        task_ctx = {**ctx, "Task": {"Token": token}} if token else ctx
        payload = paths.render(state["Parameters"], data, task_ctx) if "Parameters" in state else data
        self._limit(payload, name)
        timeout = float(state.get("TimeoutSeconds", 99_999_999))
        if lambda_target(resource) == "function":
            return (yield from self._direct_lambda(name, resource, payload, timeout, ex))
        if lambda_target(resource) == "integration":
            return (yield from self._lambda_integration(name, resource, payload, state, token, ex))
        raise DefinitionError(f"state {name!r}: resource {resource} is not interpreted offline")

    def _direct_lambda(self, name: str, function: str, payload: Any, timeout: float, ex: Execution) -> Steps:
        self._event(ex, "LambdaFunctionScheduled", {"resource": function, "input": as_json(payload),
                                                    "inputDetails": {"truncated": False},
                                                    "timeoutInSeconds": int(timeout)})  # fmt: skip
        self._event(ex, "LambdaFunctionStarted")
        invoked = self.lambdas.invoke(function, payload)
        yield self.scheduler.sleep(self.lambda_seconds)
        if not invoked.ok:
            self._event(ex, "LambdaFunctionFailed", {"error": invoked.error, "cause": invoked.cause})
            raise StatesError(invoked.error, invoked.cause)
        self._limit(invoked.result, function)
        self._event(ex, "LambdaFunctionSucceeded", {"output": as_json(invoked.result),
                                                    "outputDetails": {"truncated": False}})  # fmt: skip
        return invoked.result

    def _lambda_integration(self, name: str, resource: str, params: Any, state: Mapping[str, Any],
                            token: str | None, ex: Execution) -> Steps:  # fmt: skip
        short = resource.split(":states:::lambda:", 1)[1]
        details = {"resourceType": "lambda", "resource": short}
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        scheduled: dict[str, Any] = {**details, "region": resource.split(":")[3] or "us-east-1",
                                     "parameters": as_json(params)}  # fmt: skip
        if timeout:
            scheduled["timeoutInSeconds"] = int(timeout)
        if heartbeat:
            scheduled["heartbeatInSeconds"] = int(heartbeat)
        self._event(ex, "TaskScheduled", scheduled)
        self._event(ex, "TaskStarted", details)
        if not isinstance(params, dict) or "FunctionName" not in params:
            raise DefinitionError(f"state {name!r}: lambda:invoke needs Parameters.FunctionName")
        # The token is valid, and TimeoutSeconds / HeartbeatSeconds count, from the task's start: the function may
        # answer before its invocation returns ("The count begins after the task has been started").
        waiting: TokenWait | None = None
        if token is not None:
            waiting = self.tokens[token] = TokenWait(ex, last_beat=self.scheduler.now())
        try:
            invoked = self.lambdas.invoke(str(params["FunctionName"]), params.get("Payload", {}))
            yield self.scheduler.sleep(self.lambda_seconds)
            if not invoked.ok:
                self._event(ex, "TaskFailed", {**details, "error": invoked.error, "cause": invoked.cause})
                raise StatesError(invoked.error, invoked.cause)
            envelope = {"ExecutedVersion": "$LATEST", "Payload": invoked.result, "StatusCode": 200}
            if waiting is None:
                self._limit(envelope, name)
                self._event(ex, "TaskSucceeded", {**details, "output": as_json(envelope),
                                                  "outputDetails": {"truncated": False}})  # fmt: skip
                return envelope
            self._event(ex, "TaskSubmitted", {**details, "output": as_json(envelope),
                                              "outputDetails": {"truncated": False}})  # fmt: skip
            return (yield from self._await_token(waiting, details, timeout, heartbeat, ex))
        finally:
            if waiting is not None and not waiting.closed:
                waiting.closed = "cancelled"

    def _await_token(self, waiting: TokenWait, details: dict[str, str], timeout: float | None,
                     heartbeat: float | None, ex: Execution) -> Steps:  # fmt: skip
        deadline = waiting.last_beat + float(timeout or 99_999_999)  # last_beat starts as the task's start
        while True:
            beat_deadline = waiting.last_beat + float(heartbeat) if heartbeat else deadline
            fired, outcome = yield Wait(waiting.signal, max(0.0, min(deadline, beat_deadline) - self.scheduler.now()))
            if not fired:
                now = self.scheduler.now()
                if now < deadline and heartbeat and waiting.last_beat + float(heartbeat) > now:
                    continue  # a heartbeat came while waiting: wait on from it
                error = E.HEARTBEAT_TIMEOUT if beat_deadline < deadline else E.TIMEOUT
                waiting.closed = "timed out"
                self._event(ex, "TaskTimedOut", {**details, "error": error, "cause": ""})
                raise StatesError(error, "")
            kind, value = outcome
            waiting.closed = kind
            if kind == "succeeded":
                self._limit(value, "task token output")
                self._event(ex, "TaskSucceeded", {**details, "output": as_json(value),
                                                  "outputDetails": {"truncated": False}})  # fmt: skip
                return value
            error, cause = value
            self._event(ex, "TaskFailed", {**details, "error": error, "cause": cause})
            raise StatesError(error, cause)

    # --- map -----------------------------------------------------------------------------------------
    def _map(self, name: str, state: Mapping[str, Any], data: Any, ex: Execution, ctx: dict[str, Any]) -> Steps:
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if not processor or processor.get("ProcessorConfig", {}).get("Mode", "INLINE") != "INLINE":
            raise DefinitionError(f"state {name!r}: only an inline Map is interpreted offline")
        items = paths.read(data, state.get("ItemsPath", "$"), ctx, field="ItemsPath")
        if not isinstance(items, list):
            raise StatesError(E.RUNTIME, f"Map state '{name}': ItemsPath did not give an array")
        selector = state.get("ItemSelector") or state.get("Parameters")
        limit = int(state.get("MaxConcurrency", 0)) or len(items) or 1
        self._event(ex, "MapStateStarted", {"length": len(items)})
        results: list[Any] = [None] * len(items)
        waiting = list(enumerate(items))
        running: dict[int, Task] = {}
        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    index, item = waiting.pop(0)
                    item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
                    item_input = paths.render(selector, data, item_ctx) if selector else item
                    running[index] = self.scheduler.spawn(self._iteration(name, index, processor, item_input, ex,
                                                                          item_ctx), name=f"{name}[{index}]")  # fmt: skip
                any_done = Signal()

                def wake(_value: Any, signal: Signal = any_done) -> None:
                    signal.fire()

                for task in running.values():
                    task.done.on_fire(wake)
                yield Wait(any_done)
                for index, task in list(running.items()):
                    if task.finished:
                        ok, value = task.done.value
                        del running[index]
                        if not ok:
                            raise value
                        results[index] = value
        except Exception:  # (a GeneratorExit is not waited through)
            for task in running.values():
                self.scheduler.interrupt(task, _Aborted("", "the Map state failed"))
            for task in running.values():  # their MapIterationAborted events come before the Map's (and the
                if not task.finished:  # execution's) end, never after it
                    yield Wait(task.done)
            self._event(ex, "MapStateFailed")
            raise
        self._event(ex, "MapStateSucceeded")
        return results

    def _iteration(self, name: str, index: int, processor: Mapping[str, Any], item: Any, ex: Execution,
                   ctx: dict[str, Any]) -> Steps:  # fmt: skip
        self._event(ex, "MapIterationStarted", {"name": name, "index": index})
        try:
            output = yield from self._machine(processor, item, ex, ctx)
        except StatesError:
            self._event(ex, "MapIterationFailed", {"name": name, "index": index})
            raise
        except _Aborted:
            self._event(ex, "MapIterationAborted", {"name": name, "index": index})
            raise
        self._event(ex, "MapIterationSucceeded", {"name": name, "index": index})
        return output

    # --- plumbing ----------------------------------------------------------------------------------------
    def _event(self, ex: Execution, kind: str, details: dict[str, Any] | None = None) -> None:
        ex.add(self.scheduler.now(), kind, details)
        if ex.history_exhausted:
            raise StatesError(E.RUNTIME, "The execution reached the maximum number of events in its history "
                                         "(25,000).")  # fmt: skip

    @staticmethod
    def _limit(value: Any, where: str) -> None:
        if len(as_json(value).encode()) > PAYLOAD_LIMIT:
            raise StatesError(E.DATA_LIMIT, f"The state/task '{where}' returned a result with a size exceeding the "
                                            "maximum number of bytes service limit.")  # fmt: skip


class _Aborted(Exception):
    """StopExecution: thrown into the execution where it waits."""

    def __init__(self, error: str = "", cause: str = "") -> None:
        super().__init__(cause or error or "aborted")
        self.error, self.cause = error, cause


class _TimedOut(Exception):
    """The state machine's TimeoutSeconds passed: not a state's error, so no Retry or Catch sees it."""
