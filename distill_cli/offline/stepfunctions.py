"""A Step Functions client for the offline world: the synthesized state machine runs in the ASL interpreter on
the world's clock; the API answers as AWS does (shapes, errors, idempotent StartExecution, paging).

API reference: https://docs.aws.amazon.com/step-functions/latest/apireference/
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from distill_cli.offline.asl.execution import TERMINAL, Execution, utc
from distill_cli.offline.asl.interpreter import PAYLOAD_LIMIT, Interpreter, LambdaService
from distill_cli.offline.clock import Scheduler, Task
from distill_cli.offline.simulated import SimulatedService

# Execution names: "must be 1-80 characters long ... must not contain: white space, brackets < > { } [ ],
# wildcard characters ? *, special characters \" # % \\ ^ | ~ ` $ & , ; : /, control characters
# (U+0000-001F, U+007F-009F)." (StartExecution, name).
_FORBIDDEN = set('<>{}[]?*"#%\\^|~`$&,;:/')


def name_problem(name: str) -> str:
    """Why Step Functions refuses ``name`` as an execution name ('' when it accepts it)."""
    if not 1 <= len(name) <= 80:
        return "must be 1-80 characters"
    for char in name:
        if char.isspace() or char in _FORBIDDEN or unicodedata.category(char) == "Cc":
            return f"contains {char!r}"
    return ""


@dataclass
class StateMachine:
    arn: str
    name: str
    definition: dict[str, Any]
    role_arn: str
    created: float


class SimulatedStepFunctions(SimulatedService):
    service = "stepfunctions"

    def __init__(self, scheduler: Scheduler, lambdas: LambdaService, *, region: str, account: str) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.region, self.account = region, account
        self.interpreter = Interpreter(scheduler, lambdas)
        self.machines: dict[str, StateMachine] = {}
        self.executions: dict[str, Execution] = {}
        self._tasks: dict[str, Task] = {}

    # --- state machines ------------------------------------------------------------------------------
    def create_state_machine(self, **params: Any) -> dict[str, Any]:
        self._enter("CreateStateMachine", params)
        definition = json.loads(params["definition"])
        Interpreter.check(definition)  # DefinitionError: offline cannot run it, so it is refused, never guessed at
        arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{params['name']}"
        self.machines[arn] = StateMachine(arn, params["name"], definition, params["roleArn"], self.scheduler.now())
        return {"stateMachineArn": arn, "creationDate": utc(self.scheduler.now())}

    def describe_state_machine(self, **params: Any) -> dict[str, Any]:
        self._enter("DescribeStateMachine", params)
        machine = self._machine(params["stateMachineArn"], "DescribeStateMachine")
        return {"stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE", "type": "STANDARD",
                "definition": json.dumps(machine.definition), "roleArn": machine.role_arn,
                "creationDate": utc(machine.created)}  # fmt: skip

    def _machine(self, arn: str, operation: str) -> StateMachine:
        if arn not in self.machines:
            raise self._error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'", operation)
        return self.machines[arn]

    # --- executions ----------------------------------------------------------------------------------
    def start_execution(self, **params: Any) -> dict[str, Any]:
        self._enter("StartExecution", params)
        machine = self._machine(params["stateMachineArn"], "StartExecution")
        name = params.get("name") or f"{int(self.scheduler.now())}-{len(self.executions):06d}"
        if problem := name_problem(name):
            raise self._error("InvalidName", f"Invalid Name: '{name}' ({problem})", "StartExecution")
        text = params.get("input", "{}")
        try:
            json.loads(text)
        except ValueError as error:
            raise self._error("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{error}'",
                              "StartExecution") from None  # fmt: skip
        if len(text.encode()) > PAYLOAD_LIMIT:
            raise self._error("ValidationException", "1 validation error detected: Value at 'input' failed to "
                              "satisfy constraint: Member must have length less than or equal to 262144",
                              "StartExecution")  # fmt: skip
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{machine.name}:{name}"
        with self._lock:
            existing = self.executions.get(arn)
            if existing is not None:
                # "If StartExecution is called with the same name and input as a running execution, the call
                # succeeds and returns the same response as the original request. If the execution is closed or
                # if the input is different, it returns a 400 ExecutionAlreadyExists error."
                if existing.running and existing.input == text:
                    return {"executionArn": arn, "startDate": existing.describe()["startDate"]}
                raise self._error("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'", "StartExecution")
            execution = Execution(arn, name, machine.arn, text, machine.role_arn, self.scheduler.now())
            self.executions[arn] = execution
            self._tasks[arn] = self.interpreter.start(execution, machine.definition)
        return {"executionArn": arn, "startDate": execution.describe()["startDate"]}

    def _execution(self, arn: str, operation: str) -> Execution:
        if arn not in self.executions:
            raise self._error("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'", operation)
        return self.executions[arn]

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        self._enter("DescribeExecution", params)
        return self._execution(params["executionArn"], "DescribeExecution").describe()

    def stop_execution(self, **params: Any) -> dict[str, Any]:
        self._enter("StopExecution", params)
        execution = self._execution(params["executionArn"], "StopExecution")
        if execution.running:
            self.interpreter.stop(self._tasks[execution.arn], params.get("error", ""), params.get("cause", ""))
            if not self.scheduler.driving:  # called by a person or a test: the stop takes effect now
                self.scheduler.run_until(lambda: not execution.running)
        return {"stopDate": execution.describe().get("stopDate")}

    def get_execution_history(self, **params: Any) -> dict[str, Any]:
        self._enter("GetExecutionHistory", params)
        events = list(self._execution(params["executionArn"], "GetExecutionHistory").events)
        if params.get("reverseOrder"):
            events.reverse()
        if params.get("includeExecutionData") is False:
            events = [_without_data(e) for e in events]
        return _page(events, params, "events", default_size=100)

    def list_executions(self, **params: Any) -> dict[str, Any]:
        self._enter("ListExecutions", params)
        machine = self._machine(params["stateMachineArn"], "ListExecutions")
        wanted = params.get("statusFilter")
        found = [e for e in self.executions.values() if e.state_machine_arn == machine.arn
                 and (wanted is None or e.status == wanted)]  # fmt: skip
        found.sort(key=lambda e: e.started, reverse=True)
        items = [{k: v for k, v in e.describe().items() if k in _LIST_FIELDS} for e in found]
        return _page(items, params, "executions", default_size=100)

    # --- task tokens ---------------------------------------------------------------------------------
    def send_task_success(self, **params: Any) -> dict[str, Any]:
        self._enter("SendTaskSuccess", params)
        try:
            output = json.loads(params["output"])
        except ValueError as error:
            raise self._error("InvalidOutput", f"Invalid Output: '{error}'", "SendTaskSuccess") from None
        self._resolve(params["taskToken"], ("succeeded", output), "SendTaskSuccess")
        return {}

    def send_task_failure(self, **params: Any) -> dict[str, Any]:
        self._enter("SendTaskFailure", params)
        outcome = ("failed", (params.get("error", ""), params.get("cause", "")))
        self._resolve(params["taskToken"], outcome, "SendTaskFailure")
        return {}

    def send_task_heartbeat(self, **params: Any) -> dict[str, Any]:
        self._enter("SendTaskHeartbeat", params)
        self._resolve(params["taskToken"], ("heartbeat", None), "SendTaskHeartbeat")
        return {}

    def _resolve(self, token: str, outcome: tuple[str, Any], operation: str) -> None:
        waiting = self.interpreter.tokens.get(token)
        if waiting is None:
            raise self._error("InvalidToken", "Invalid Token: the token was not issued by this service", operation)
        if waiting.closed or waiting.signal.fired:
            # "TaskTimedOut: The task token has either expired or the task associated with the token has
            # already been closed." (An answer already given closes the task, even before the execution sees it.)
            raise self._error("TaskTimedOut", f"Task Timed Out: the task is closed ({waiting.closed or 'answered'})",
                              operation)  # fmt: skip
        if outcome[0] == "heartbeat":  # "This action resets the Heartbeat clock"
            waiting.last_beat = self.scheduler.now()
            return
        waiting.signal.fire(outcome)

    # --- for the offline world ---------------------------------------------------------------------------
    def running(self) -> list[Execution]:
        return [e for e in self.executions.values() if e.status not in TERMINAL]


_LIST_FIELDS = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")


def _without_data(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            out[key] = {k: v for k, v in details.items() if k not in ("input", "output", "parameters")}
    return out


def _page(items: list[Any], params: dict[str, Any], key: str, *, default_size: int) -> dict[str, Any]:
    start = int(params.get("nextToken") or 0)
    size = int(params.get("maxResults") or default_size)
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page
