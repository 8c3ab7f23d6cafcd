"""Choice rules: https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html

A comparison of the wrong type is false (``StringEquals`` on a number); a Variable that is not in the input is
a ``States.Runtime`` error except for ``IsPresent``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from distill_cli.offline.asl import paths
from distill_cli.offline.asl.errors import RUNTIME, DefinitionError, StatesError

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "String": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Timestamp": lambda v: isinstance(v, str) and _timestamp(v) is not None,
}
_COMPARISON = re.compile(r"(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|"
                         r"GreaterThanEquals|Matches)(Path)?")  # fmt: skip


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def holds(rule: Mapping[str, Any], document: Any, context: Any) -> bool:
    if "And" in rule:
        return all(holds(r, document, context) for r in rule["And"])
    if "Or" in rule:
        return any(holds(r, document, context) for r in rule["Or"])
    if "Not" in rule:
        return not holds(rule["Not"], document, context)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise DefinitionError(f"choice rule without Variable: {rule}")
    operators = [k for k in rule if k not in ("Variable", "Next")]
    if len(operators) != 1:
        raise DefinitionError(f"choice rule must have exactly one comparison: {rule}")
    (name,) = operators
    expected = rule[name]
    value = paths.lookup(document, variable, context)
    if name == "IsPresent":
        return paths.present(value) is bool(expected)
    if not paths.present(value):
        raise StatesError(RUNTIME, f"Invalid path '{variable}': The choice state's condition path references an "
                                   "invalid value.")  # fmt: skip
    if name == "IsNull":
        return (value is None) is bool(expected)
    if name.startswith("Is") and name[2:] in _TYPES:
        return _TYPES[name[2:]](value) is bool(expected)
    match = _COMPARISON.fullmatch(name)
    if match is None:
        raise DefinitionError(f"choice comparison {name} is not supported offline")
    kind, relation, via_path = match.groups()
    if via_path:
        expected = paths.read(document, expected, context, field=name)
    if not _TYPES[kind](value) or (relation != "Matches" and not _TYPES[kind](expected)):
        return False
    if relation == "Matches":
        # Only * is special (escaped as \*): translate to fnmatch with [] and ? made literal.
        pattern = re.escape(str(expected)).replace(r"\\\*", "\0").replace(r"\*", ".*").replace("\0", r"\*")
        return re.fullmatch(pattern, value, re.DOTALL) is not None
    if kind == "Timestamp":
        value, expected = _timestamp(value), _timestamp(expected)
    return _ORDER[relation](value, expected)
