"""The Condition element: operators, ...IfExists, ForAnyValue:/ForAllValues:, Null, missing keys.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distill_cli.access import wildcards
from distill_cli.access.wildcards import Lookup

Compare = Callable[[str, str, Lookup, bool], bool]  # (request value, policy value, lookup, variables) -> match


def _string_equals(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    pattern = wildcards.expand(wanted, lookup, variables)
    return pattern is not None and value == wildcards.text(pattern)


def _string_equals_ignore_case(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    pattern = wildcards.expand(wanted, lookup, variables)
    return pattern is not None and value.casefold() == wildcards.text(pattern).casefold()


def _string_like(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    pattern = wildcards.expand(wanted, lookup, variables)
    return pattern is not None and wildcards.glob(pattern, value)


def _arn_like(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    pattern = wildcards.expand(wanted, lookup, variables)
    return pattern is not None and wildcards.arn_like(pattern, value)


def _number(text: str, where: str | None) -> float | None:
    try:
        return float(text)
    except ValueError:
        if where is not None:
            raise ValueError(f"{where}: {text!r} is not a number") from None
        return None


def _date(text: str, where: str | None) -> datetime | None:
    # Dates are ISO 8601 or epoch seconds (the Date operators' documented formats).
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text), tz=UTC)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        if where is not None:
            raise ValueError(f"{where}: {text!r} is not an ISO 8601 date or epoch time") from None
        return None


def _ordered(parse: Callable[[str, str | None], Any], test: Callable[[Any, Any], bool]) -> Compare:
    def compare(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
        got, limit = parse(value, None), parse(wanted, "condition value")
        return got is not None and test(got, limit)

    return compare


def _bool(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    return value.lower() == wanted.lower()


def _binary(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(wanted, validate=True)
    except binascii.Error:
        return False


def _ip(value: str, wanted: str, lookup: Lookup, variables: bool) -> bool:
    try:
        network = ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        raise ValueError(f"IpAddress needs an address or CIDR block, got {wanted!r}") from None
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


def _check_number(wanted: str) -> None:
    _number(wanted, "condition value")


def _check_date(wanted: str) -> None:
    _date(wanted, "condition value")


def _check_bool(wanted: str) -> None:
    if wanted.lower() not in ("true", "false"):
        raise ValueError(f'Bool and Null need "true" or "false", got {wanted!r}')


def _check_ip(wanted: str) -> None:
    _ip("0.0.0.0", wanted, lambda key: None, False)


def _check_nothing(wanted: str) -> None:
    return None


@dataclass(frozen=True)
class _Base:
    compare: Compare
    negated: bool  # a "Not" operator: several values are a NOR, a missing key makes it true
    check: Callable[[str], None] = _check_nothing  # rejects a malformed policy value up front


# Every operator the docs define. Their names are matched exactly as documented.
_BASE: Mapping[str, _Base] = {
    "StringEquals": _Base(_string_equals, False),
    "StringNotEquals": _Base(_string_equals, True),
    "StringEqualsIgnoreCase": _Base(_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": _Base(_string_equals_ignore_case, True),
    "StringLike": _Base(_string_like, False),
    "StringNotLike": _Base(_string_like, True),
    "NumericEquals": _Base(_ordered(_number, lambda a, b: a == b), False, _check_number),
    "NumericNotEquals": _Base(_ordered(_number, lambda a, b: a == b), True, _check_number),
    "NumericLessThan": _Base(_ordered(_number, lambda a, b: a < b), False, _check_number),
    "NumericLessThanEquals": _Base(_ordered(_number, lambda a, b: a <= b), False, _check_number),
    "NumericGreaterThan": _Base(_ordered(_number, lambda a, b: a > b), False, _check_number),
    "NumericGreaterThanEquals": _Base(_ordered(_number, lambda a, b: a >= b), False, _check_number),
    "DateEquals": _Base(_ordered(_date, lambda a, b: a == b), False, _check_date),
    "DateNotEquals": _Base(_ordered(_date, lambda a, b: a == b), True, _check_date),
    "DateLessThan": _Base(_ordered(_date, lambda a, b: a < b), False, _check_date),
    "DateLessThanEquals": _Base(_ordered(_date, lambda a, b: a <= b), False, _check_date),
    "DateGreaterThan": _Base(_ordered(_date, lambda a, b: a > b), False, _check_date),
    "DateGreaterThanEquals": _Base(_ordered(_date, lambda a, b: a >= b), False, _check_date),
    "Bool": _Base(_bool, False, _check_bool),
    "BinaryEquals": _Base(_binary, False),
    "IpAddress": _Base(_ip, False, _check_ip),
    "NotIpAddress": _Base(_ip, True, _check_ip),
    "ArnEquals": _Base(_arn_like, False),  # ArnEquals and ArnLike behave the same (the docs' table)
    "ArnLike": _Base(_arn_like, False),
    "ArnNotEquals": _Base(_arn_like, True),
    "ArnNotLike": _Base(_arn_like, True),
}
_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")


@dataclass(frozen=True)
class Operator:
    name: str
    base: _Base | None  # None for Null
    qualifier: str | None
    if_exists: bool


def parse_operator(name: str) -> Operator:
    """Split ``ForAllValues:StringLikeIfExists`` into its parts; an unknown operator is a ValueError."""
    qualifier = next((q for q in _QUALIFIERS if name.startswith(q)), None)
    rest = name[len(qualifier) :] if qualifier else name
    if rest == "Null":
        if qualifier:
            raise ValueError(f"unknown condition operator {name!r}: Null takes no set qualifier")
        return Operator(name, None, None, False)
    if_exists = rest.endswith("IfExists")
    base = _BASE.get(rest[: -len("IfExists")] if if_exists else rest)
    if base is None:
        raise ValueError(f"unknown condition operator {name!r}")
    return Operator(name, base, qualifier.rstrip(":") if qualifier else None, if_exists)


def _policy_values(raw: Any, where: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise ValueError(f"{where}: condition values must be strings, numbers or booleans, got {item!r}")
    return out


def _request_values(found: str | Sequence[str] | None) -> list[str] | None:
    if found is None:
        return None
    values = [found] if isinstance(found, str) else list(found)
    return values or None  # an empty set is no value at all


def _one(value: str, operator: Operator, wanted: list[str], lookup: Lookup, variables: bool) -> bool:
    assert operator.base is not None
    hit = any(operator.base.compare(value, item, lookup, variables) for item in wanted)
    # "If a single negated matching condition operator includes multiple values for a context key, those values
    # are evaluated using a logical NOR."
    return not hit if operator.base.negated else hit


def key_matches(operator: Operator, key: str, raw: Any, lookup: Lookup, variables: bool) -> bool:
    """One condition key under one operator."""
    wanted = _policy_values(raw, f"{operator.name} {key}")
    values = _request_values(lookup(key))
    if operator.base is None:  # Null: "true" means the key is absent (or null), "false" that it is present
        return any(item.lower() == ("false" if values else "true") for item in wanted)
    if operator.qualifier == "ForAllValues":
        # "If there's no context key in the request, it also returns true" (the empty set).
        return values is None or all(_one(v, operator, wanted, lookup, variables) for v in values)
    if operator.qualifier == "ForAnyValue":
        # A missing key is an empty set: nothing in it matches, and IfExists does not change that (it applies to
        # each value inside the set). Observed on AWS: https://repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w
        return values is not None and any(_one(v, operator, wanted, lookup, variables) for v in values)
    if values is None:
        # "If the key that you specify in a policy condition is not present in the request context, the values do
        # not match and the condition is false. If the policy condition requires that the key is not matched,
        # such as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."
        # ...IfExists: "If the policy key is present in the request context, process the key as specified in
        # the policy. If it is not present, evaluate the condition element as true."
        return operator.if_exists or operator.base.negated
    if len(values) > 1:
        # "Multivalued context keys require a condition set operator." What AWS does without one is not
        # documented; we follow github.com/cloud-copilot/iam-simulate (built from tests against AWS): no match,
        # negated operator or not.
        return False
    return _one(values[0], operator, wanted, lookup, variables)


def parse_block(block: Any, where: str) -> list[tuple[Operator, str, Any]]:
    """Check a whole Condition block up front (a malformed one is a ValueError, never a skipped statement) and
    flatten it to (operator, key, values)."""
    if block is None:
        return []
    if not isinstance(block, Mapping) or not block:
        raise ValueError(f"{where}: Condition must be a non-empty mapping of operators, got {block!r}")
    parsed: list[tuple[Operator, str, Any]] = []
    for name, keys in block.items():
        operator = parse_operator(name)
        if not isinstance(keys, Mapping) or not keys:
            raise ValueError(f"{where}: {name} must map condition keys to values, got {keys!r}")
        for key, raw in keys.items():
            check = _check_bool if operator.base is None else operator.base.check
            for item in _policy_values(raw, f"{where}: {name} {key}"):
                check(item)
            parsed.append((operator, key, raw))
    return parsed


def condition_matches(parsed: list[tuple[Operator, str, Any]], lookup: Lookup, variables: bool) -> bool:
    """Every operator and every key in the block must hold (AND); the values of one key are an OR."""
    return all(key_matches(operator, key, raw, lookup, variables) for operator, key, raw in parsed)


__all__ = ["Operator", "condition_matches", "key_matches", "parse_block", "parse_operator"]
