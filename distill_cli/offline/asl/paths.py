"""JSONPath (the subset the Amazon States Language uses), payload templates and intrinsic functions.

Reference paths: ``$``, ``$.a.b``, ``$['a b']``, ``$.a[0]``; ``$$`` addresses the context object. A path that
is not there is a ``States.Runtime`` error, as in AWS (input/output processing:
https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from distill_cli.offline.asl.errors import INTRINSIC, RESULT_PATH, RUNTIME, DefinitionError, StatesError

_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\[\*\]")
_MISSING = object()


def parse(path: str) -> list[str | int]:
    """The steps of a reference path (``$`` or ``$$`` first)."""
    body = path[2:] if path.startswith("$$") else path[1:] if path.startswith("$") else None
    if body is None:
        raise DefinitionError(f"not a JSONPath: {path!r}")
    steps: list[str | int] = []
    position = 0
    while position < len(body):
        match = _STEP.match(body, position)
        if match is None or match.group(0) == "[*]":
            raise DefinitionError(f"JSONPath {path!r}: only names and indexes are supported offline")
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else name if name is not None else quoted.replace("\\'", "'"))
        position = match.end()
    return steps


def lookup(document: Any, path: str, context: Any = None) -> Any:
    """The value at ``path``, or the module's ``_MISSING`` marker (see :func:`present`)."""
    current = context if path.startswith("$$") else document
    for step in parse(path):
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return _MISSING
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return _MISSING
            current = current[step]
    return current


def present(value: Any) -> bool:
    return value is not _MISSING


def read(document: Any, path: str, context: Any = None, *, field: str = "") -> Any:
    value = lookup(document, path, context)
    if value is _MISSING:
        where = f" specified for the field '{field}'" if field else ""
        raise StatesError(
            RUNTIME, f"The JSONPath '{path}'{where} could not be found in the input '{_compact(document)}'"
        )
    return value


def write(document: Any, path: str | None, value: Any) -> Any:
    """ResultPath: ``None`` (JSON null) discards the result, ``$`` replaces the input, else merges into a copy."""
    if path is None:
        return document
    steps = parse(path)
    if path.startswith("$$"):
        raise DefinitionError("ResultPath cannot address the context object")
    if not steps:
        return value
    root = json.loads(json.dumps(document))
    current = root
    for step in steps[:-1]:
        if not isinstance(current, dict) or isinstance(step, int):
            raise StatesError(RESULT_PATH, f"Unable to apply ResultPath '{path}' to the input")
        current = current.setdefault(step, {})
    last = steps[-1]
    if not isinstance(current, dict) or isinstance(last, int):
        raise StatesError(RESULT_PATH, f"Unable to apply ResultPath '{path}' to the input")
    current[last] = value
    return root


def select(document: Any, path: str | None) -> Any:
    """InputPath / OutputPath: ``None`` gives ``{}``."""
    if path is None:
        return {}
    return read(document, path)


def render(template: Any, document: Any, context: Any) -> Any:
    """A Parameters / ResultSelector / ItemSelector template: keys ending in ``.$`` take a path or an
    intrinsic function; everything else is copied."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise DefinitionError(f"field {key!r} must be a string path or intrinsic")
                out[key[:-2]] = evaluate(value, document, context, field=key)
            else:
                out[key] = render(value, document, context)
        return out
    if isinstance(template, list):
        return [render(item, document, context) for item in template]
    return template


def evaluate(expression: str, document: Any, context: Any, *, field: str = "") -> Any:
    if expression.startswith("$"):
        return read(document, expression, context, field=field)
    if expression.startswith("States."):
        value, rest = _call(expression, 0, document, context)
        if expression[rest:].strip():
            raise DefinitionError(f"trailing text after intrinsic in {expression!r}")
        return value
    raise DefinitionError(f"field {field!r}: {expression!r} is neither a path nor an intrinsic function")


# --- intrinsic functions -------------------------------------------------------------------------------
# https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html
def _format(template: str, *args: Any) -> str:
    # An escaped brace is unescaped in the template only: an interpolated value is inserted as it is.
    parts = [part.replace("\\{", "{").replace("\\}", "}") for part in re.split(r"(?<!\\)\{\}", template)]
    if len(parts) - 1 != len(args):
        raise StatesError(INTRINSIC, f"States.Format: {len(parts) - 1} placeholders, {len(args)} arguments")
    text = parts[0]
    for arg, part in zip(args, parts[1:], strict=True):
        text += (arg if isinstance(arg, str) else json.dumps(arg, separators=(",", ":"))) + part
    return text


def _string_to_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise StatesError(INTRINSIC, f"States.StringToJson: {error}") from None


def _array_partition(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda value: json.dumps(value, separators=(",", ":")),
    "States.Array": lambda *items: list(items),
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": lambda items, value: value in items,
    "States.ArrayRange": lambda start, end, step: list(range(int(start), int(end) + 1, int(step))),
    "States.ArrayGetItem": lambda items, index: items[int(index)],
    "States.ArrayLength": len,
    "States.ArrayUnique": lambda items: [v for i, v in enumerate(items) if v not in items[:i]],
    "States.Base64Encode": lambda text: base64.b64encode(text.encode()).decode(),
    "States.Base64Decode": lambda text: base64.b64decode(text).decode(),
    "States.Hash": lambda value, algorithm: hashlib.new(algorithm.replace("-", "").lower(), value.encode()).hexdigest(),
    "States.JsonMerge": lambda left, right, deep=False: {**left, **right},
    "States.MathAdd": lambda a, b: a + b,
    "States.StringSplit": lambda text, separators: [p for p in re.split("|".join(map(re.escape, separators)), text) if p],
    "States.UUID": lambda: str(uuid.uuid4()),
}
_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_PATH = re.compile(r"\$\$?(?:\.[^.,()\[\]\s]+|\[\d+\])*")


def _call(text: str, position: int, document: Any, context: Any) -> tuple[Any, int]:
    match = _NAME.match(text, position)
    if match is None or text[match.end() : match.end() + 1] != "(":
        raise DefinitionError(f"bad intrinsic function call in {text!r}")
    name = match.group(0)
    if name not in _FUNCTIONS:
        raise DefinitionError(f"intrinsic function {name} is not supported offline")
    args: list[Any] = []
    position = match.end() + 1
    while True:
        position = _skip_spaces(text, position)
        if text[position : position + 1] == ")":
            position += 1
            break
        value, position = _argument(text, position, document, context)
        args.append(value)
        position = _skip_spaces(text, position)
        if text[position : position + 1] == ",":
            position += 1
    try:
        return _FUNCTIONS[name](*args), position
    except StatesError:
        raise
    except Exception as error:
        raise StatesError(INTRINSIC, f"{name}: {error}") from None


def _argument(text: str, position: int, document: Any, context: Any) -> tuple[Any, int]:
    char = text[position : position + 1]
    if char == "'":
        out, position = [], position + 1
        while text[position] != "'":
            if text[position] == "\\":
                out.append(text[position + 1] if text[position + 1] in "'\\" else text[position : position + 2])
                position += 2
            else:
                out.append(text[position])
                position += 1
        return "".join(out), position + 1
    if char == "$":
        match = _PATH.match(text, position)
        assert match is not None
        return read(document, match.group(0), context), match.end()
    if text.startswith("States.", position):
        return _call(text, position, document, context)
    if text.startswith("null", position):
        return None, position + 4
    if text.startswith("true", position):
        return True, position + 4
    if text.startswith("false", position):
        return False, position + 5
    number = _NUMBER.match(text, position)
    if number:
        literal = number.group(0)
        return (float(literal) if "." in literal else int(literal)), number.end()
    raise DefinitionError(f"bad intrinsic argument at {text[position:]!r}")


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position


def _compact(document: Any) -> str:
    text = json.dumps(document, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."
