"""What of the Amazon States Language the offline interpreter implements: a definition using anything else is
refused (DefinitionError) before it runs, as CreateStateMachine validates a definition, never run in part."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill_cli.offline.asl.errors import DefinitionError

STATE_TYPES = ("Task", "Wait", "Choice", "Pass", "Succeed", "Fail", "Map")


def check_definition(machine: Mapping[str, Any], where: str = "the state machine") -> None:
    """Refuse a definition (or a Map's processor) that uses what the interpreter does not implement."""
    if machine.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise DefinitionError(f"{where}: only JSONPath state machines are interpreted offline")
    for name, state in dict(machine.get("States") or {}).items():
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            raise DefinitionError(f"state {name!r}: type {kind} is not interpreted offline")
        if state.get("QueryLanguage", "JSONPath") != "JSONPath":
            raise DefinitionError(f"state {name!r}: only JSONPath states are interpreted offline")
        if kind == "Task" and lambda_target(str(state.get("Resource"))) is None:
            raise DefinitionError(f"state {name!r}: resource {state.get('Resource')} is not interpreted offline")
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if not processor or processor.get("ProcessorConfig", {}).get("Mode", "INLINE") != "INLINE":
                raise DefinitionError(f"state {name!r}: only an inline Map is interpreted offline")
            check_definition(processor, f"the Map state {name!r}")


def lambda_target(resource: str) -> str | None:
    """'function' for a Lambda function's ARN, 'integration' for lambda:invoke[.waitForTaskToken], else None."""
    if resource.startswith("arn:aws:lambda:") or (":lambda:" in resource and ":function:" in resource):
        return "function"
    if resource.split(":states:::", 1)[-1] in ("lambda:invoke", "lambda:invoke.waitForTaskToken"):
        return "integration"
    return None
