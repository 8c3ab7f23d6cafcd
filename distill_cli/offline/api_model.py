"""Requests checked against the real API models, as strictly as the services check them.

botocore's client-side validation checks types and required members but not ``pattern``, ``max`` or ``enum``;
the services do, and answer ``ValidationException`` ("1 validation error detected: Value '...' at 'jobName'
failed to satisfy constraint: Member must satisfy regular expression pattern: ..."). The simulated services
call :func:`check_request` so a name Bedrock would refuse is refused offline too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

# Java regex classes Python's re lacks (only those the models we check use).
_JAVA_CLASSES = {r"\p{ASCII}": r"[\x00-\x7F]"}


@cache
def service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@cache
def _pattern(text: str) -> re.Pattern[str] | None:
    for java, python in _JAVA_CLASSES.items():
        text = text.replace(java, python)
    try:
        return re.compile(text, re.DOTALL)
    except re.error:
        return None  # a Java-only construct: the member is not checked offline


def client_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)  # fmt: skip


def check_request(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Raise what botocore raises for a malformed request (ParamValidationError), then what the service
    answers for a constraint it breaks (ValidationException naming the member)."""
    from botocore.validate import validate_parameters

    shape = service_model(service).operation_model(operation).input_shape
    validate_parameters(dict(params), shape)
    problems: list[str] = []
    _constraints(params, shape, "", problems)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
        raise client_error("ValidationException", count + "; ".join(problems), operation)


def _constraints(value: Any, shape: Any, where: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _constraints(value[name], member, f"{where}.{name}" if where else name, problems)
        return
    if kind == "list" and isinstance(value, list):
        _length(value, meta, where, problems, "length")
        for index, item in enumerate(value):
            _constraints(item, shape.member, f"{where}.{index + 1}.member", problems)
        return
    if kind == "map" and isinstance(value, Mapping):
        _length(value, meta, where, problems, "length")
        for key, item in value.items():
            _constraints(key, shape.key, f"{where}.{key}.key", problems)
            _constraints(item, shape.value, f"{where}.{key}.value", problems)
        return
    if kind == "string" and isinstance(value, str):
        _length(value, meta, where, problems, "length")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy "
                            f"regular expression pattern: {meta['pattern']}")  # fmt: skip
        if shape.enum and value not in shape.enum:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy enum "
                            f"value set: [{', '.join(shape.enum)}]")  # fmt: skip
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        if "min" in meta and value < meta["min"]:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                            f"greater than or equal to {meta['min']}")  # fmt: skip
        if "max" in meta and value > meta["max"]:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                            f"less than or equal to {meta['max']}")  # fmt: skip


def _length(value: Any, meta: Mapping[str, Any], where: str, problems: list[str], what: str) -> None:
    size = len(value)
    shown = value if isinstance(value, str) and len(value) <= 100 else f"<{size} items>"
    if "min" in meta and size < meta["min"]:
        problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must have {what} "
                        f"greater than or equal to {meta['min']}")  # fmt: skip
    if "max" in meta and size > meta["max"]:
        problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must have {what} "
                        f"less than or equal to {meta['max']}")  # fmt: skip
