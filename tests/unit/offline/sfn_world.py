"""A small Step Functions world for the interpreter tests: a virtual clock, a fake Lambda service with
behaviour, and :class:`SimulatedStepFunctions` on top, driven through its public API only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from distill_cli.offline.asl.interpreter import Invoked
from distill_cli.offline.clock import Scheduler
from distill_cli.offline.stepfunctions import SimulatedStepFunctions

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z: every test starts its clock here
REGION, ACCOUNT = "us-east-1", "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/machine-role"


def fn(name: str) -> str:
    """The ARN of a fake Lambda function."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


class LambdaError(Exception):
    """Raised by a fake handler to fail with exactly this error name and cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(cause or error)
        self.error, self.cause = error, cause


class FakeLambdas:
    """``invoke(function_arn, payload)`` runs the registered Python callable: its return value is the result,
    :class:`LambdaError` fails with that error, any other exception fails with its class name (as Lambda
    reports an unhandled Python exception: errorType is the class name)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], Any]] = {}
        self.calls: list[tuple[str, Any]] = []

    def add(self, name: str, handler: Callable[[Any], Any]) -> str:
        self.handlers[fn(name)] = handler
        return fn(name)

    def invoke(self, function: str, payload: Any) -> Invoked:
        self.calls.append((function, payload))
        handler = self.handlers[function]
        try:
            return Invoked(True, result=handler(payload))
        except LambdaError as failure:
            return Invoked(False, error=failure.error, cause=failure.cause)
        except Exception as failure:  # an unhandled exception in the function
            cause = json.dumps({"errorMessage": str(failure), "errorType": type(failure).__name__})
            return Invoked(False, error=type(failure).__name__, cause=cause)

    def payloads(self, name: str) -> list[Any]:
        return [payload for function, payload in self.calls if function == fn(name)]


class World:
    def __init__(self, *, real_time: bool = False) -> None:
        self.scheduler = Scheduler(start=START, real_time=real_time)
        self.lambdas = FakeLambdas()
        self.sfn = SimulatedStepFunctions(self.scheduler, self.lambdas, region=REGION, account=ACCOUNT)
        self._machines = 0

    # --- set-up ---------------------------------------------------------------------------------------
    def machine(self, definition: dict[str, Any], name: str = "") -> str:
        self._machines += 1
        answer = self.sfn.create_state_machine(name=name or f"machine-{self._machines}",
                                               definition=json.dumps(definition), roleArn=ROLE)  # fmt: skip
        return str(answer["stateMachineArn"])

    def start(self, machine: str, data: Any = None, *, name: str | None = None, text: str | None = None) -> str:
        params: dict[str, Any] = {"stateMachineArn": machine,
                                  "input": text if text is not None else json.dumps({} if data is None else data)}  # fmt: skip
        if name is not None:
            params["name"] = name
        return str(self.sfn.start_execution(**params)["executionArn"])

    # --- driving --------------------------------------------------------------------------------------
    def finish(self, execution: str, *, limit_seconds: float = 400 * 86_400) -> dict[str, Any]:
        self.scheduler.run_until(lambda: self.describe(execution)["status"] != "RUNNING", limit_seconds=limit_seconds)
        return self.describe(execution)

    def run(self, definition: dict[str, Any], data: Any = None) -> tuple[str, dict[str, Any]]:
        """Create a machine, run one execution to its end; (execution ARN, DescribeExecution)."""
        execution = self.start(self.machine(definition), data)
        return execution, self.finish(execution)

    def run_until(self, condition: Callable[[], bool], limit_seconds: float = 400 * 86_400) -> None:
        self.scheduler.run_until(condition, limit_seconds=limit_seconds)

    # --- reading ----------------------------------------------------------------------------------------
    def now(self) -> float:
        return self.scheduler.now()

    def describe(self, execution: str) -> dict[str, Any]:
        return self.sfn.describe_execution(executionArn=execution)

    def output(self, execution: str) -> Any:
        described = self.describe(execution)
        assert described["status"] == "SUCCEEDED", described
        return json.loads(described["output"])

    def history(self, execution: str) -> list[dict[str, Any]]:
        """Every event, paging as a client would."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"executionArn": execution, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**params)
            events.extend(page["events"])
            if "nextToken" not in page:
                return events
            params["nextToken"] = page["nextToken"]

    def events(self, execution: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.history(execution) if e["type"] == kind]

    def details(self, execution: str, kind: str) -> list[dict[str, Any]]:
        """The ``...EventDetails`` of every event of ``kind``."""
        return [detail for e in self.events(execution, kind) for key, detail in e.items() if key.endswith("EventDetails")]

    def token(self, execution: str) -> str:
        """The task token of the (only) Lambda invocation that received one in ``$$.Task.Token``."""
        tokens = [p["token"] for _, p in self.lambdas.calls if isinstance(p, dict) and "token" in p]
        assert tokens, "no function received a task token"
        return str(tokens[-1])


def seconds(stamp: datetime) -> float:
    return stamp.timestamp()


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def task(function: str, **extra: Any) -> dict[str, Any]:
    """A Task state calling ``function`` directly by ARN."""
    return {"Type": "Task", "Resource": function, **extra}


def single(state: dict[str, Any], name: str = "Only") -> dict[str, Any]:
    """A machine of one state (made an end state unless it says otherwise)."""
    if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state:
        state = {**state, "End": True}
    return {"StartAt": name, "States": {name: state}}
