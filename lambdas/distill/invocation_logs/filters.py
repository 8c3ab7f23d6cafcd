"""``requestMetadataFilters``: parse exactly what Bedrock accepts, and decide which log records a filter selects.

The shape is botocore's bedrock model (2023-04-20, checked against botocore 1.44.8)::

    RequestMetadataFilters      union, exactly one of
        equals     RequestMetadataMap            {key: value}, exactly 1 entry ("min": 1, "max": 1)
        notEquals  RequestMetadataMap
        andAll     RequestMetadataFiltersList    1-16 RequestMetadataBaseFilters
        orAll      RequestMetadataFiltersList
    RequestMetadataBaseFilters  structure {equals?, notEquals?}   (NOT marked as a union in the model)
    RequestMetadataMapKeyString   1-256 chars, pattern [a-zA-Z0-9\\s._:/=+$@-]{1,256}
    RequestMetadataMapValueString 0-256 chars, pattern [a-zA-Z0-9\\s._:/=+$@-]{0,256}

So there is no nesting: an andAll/orAll item is a base filter, never another andAll/orAll.

Choices where neither the model nor the user guide says what Bedrock does (each is an assumption):

* A base filter with both ``equals`` and ``notEquals`` is allowed by the model's shape, but its meaning is not
  documented: we refuse it (write two items of andAll/orAll instead). An empty base filter is refused too.
* ``equals`` never matches a record without requestMetadata or without the key.
* ``notEquals`` DOES match a record without requestMetadata or without the key: "a missing key is not
  equal". The docs only say "Include results where the key does not equal the value".
* Comparisons are exact and case-sensitive (no trimming), as map look-ups are.

The patterns are unanchored in the model; AWS applies such patterns to the whole value, so we full-match.
Java's ``\\s`` (the service side) is ASCII whitespace, hence ``re.ASCII``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FILTER_PATH = "$.requestMetadataFilters"
MAX_LENGTH = 256
MAX_LIST = 16
UNION_MEMBERS = ("equals", "notEquals", "andAll", "orAll")
BASE_MEMBERS = ("equals", "notEquals")
# RequestMetadataMapKeyString / ...ValueString share one character class.
FILTER_CHARS = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]*", re.ASCII)


class FilterError(ValueError):
    """The filter is not one Bedrock accepts; ``path`` is the JSON path of the offending part."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Equals:
    key: str
    value: str

    def matches(self, metadata: Mapping[str, str] | None) -> bool:
        return metadata is not None and metadata.get(self.key) == self.value


@dataclass(frozen=True)
class NotEquals:
    key: str
    value: str

    def matches(self, metadata: Mapping[str, str] | None) -> bool:
        # A record without the key (or without requestMetadata) counts as "not equal": an assumption.
        return metadata is None or metadata.get(self.key) != self.value


BaseFilter = Equals | NotEquals


@dataclass(frozen=True)
class AndAll:
    filters: tuple[BaseFilter, ...]

    def matches(self, metadata: Mapping[str, str] | None) -> bool:
        return all(item.matches(metadata) for item in self.filters)


@dataclass(frozen=True)
class OrAll:
    filters: tuple[BaseFilter, ...]

    def matches(self, metadata: Mapping[str, str] | None) -> bool:
        return any(item.matches(metadata) for item in self.filters)


RequestMetadataFilter = Equals | NotEquals | AndAll | OrAll


def matches(selection: RequestMetadataFilter | None, metadata: Mapping[str, str] | None) -> bool:
    """Whether a record with this ``requestMetadata`` (None when the record has none) is selected.
    No filter selects every record."""
    return True if selection is None else selection.matches(metadata)


def parse_filter(value: Any, path: str = FILTER_PATH) -> RequestMetadataFilter:
    """The typed filter for a decoded JSON value, or FilterError naming the JSON path of the first problem."""
    member, inner = _one_member(value, path, UNION_MEMBERS, "a filter")
    where = f"{path}.{member}"
    if member in BASE_MEMBERS:
        return _pair(member, inner, where)
    if type(inner) is not list:
        raise FilterError(where, f"expected an array of 1 to {MAX_LIST} filters, got {_json_type(inner)}")
    if not 1 <= len(inner) <= MAX_LIST:
        raise FilterError(where, f"needs 1 to {MAX_LIST} filters, got {len(inner)}")
    items = []
    for index, item in enumerate(inner):
        item_path = f"{where}[{index}]"
        if isinstance(item, dict) and len(item) == 1 and next(iter(item)) in ("andAll", "orAll"):
            raise FilterError(
                item_path,
                f"{member} holds only base filters (equals or notEquals); andAll and orAll cannot be nested",
            )
        base, base_inner = _one_member(item, item_path, BASE_MEMBERS, "a base filter")
        items.append(_pair(base, base_inner, f"{item_path}.{base}"))
    return AndAll(tuple(items)) if member == "andAll" else OrAll(tuple(items))


def to_api(selection: RequestMetadataFilter) -> dict[str, Any]:
    """The filter as CreateModelCustomizationJob takes it (``requestMetadataFilters``)."""
    if isinstance(selection, AndAll | OrAll):
        name = "andAll" if isinstance(selection, AndAll) else "orAll"
        return {name: [to_api(item) for item in selection.filters]}
    name = "equals" if isinstance(selection, Equals) else "notEquals"
    return {name: {selection.key: selection.value}}


def describe(selection: RequestMetadataFilter | None) -> str:
    """One line for people: ``use-case = 'support' AND priority != 'low'``."""
    if selection is None:
        return "every record (no filter)"
    if isinstance(selection, AndAll | OrAll):
        joiner = " AND " if isinstance(selection, AndAll) else " OR "
        return joiner.join(describe(item) for item in selection.filters)
    operator = "=" if isinstance(selection, Equals) else "!="
    return f"{selection.key} {operator} {selection.value!r}"


def filter_keys(selection: RequestMetadataFilter | None) -> tuple[str, ...]:
    """The metadata keys a filter looks at, in order, without repeats."""
    if selection is None:
        return ()
    if isinstance(selection, AndAll | OrAll):
        return tuple(dict.fromkeys(item.key for item in selection.filters))
    return (selection.key,)


def check_key(key: Any, path: str) -> str:
    if type(key) is not str:
        raise FilterError(path, f"a key must be a string, got {_json_type(key)}")
    if not 1 <= len(key) <= MAX_LENGTH:
        raise FilterError(path, f"a key has 1 to {MAX_LENGTH} characters, got {len(key)}")
    if not FILTER_CHARS.fullmatch(key):
        raise FilterError(path, f"key {_short(key)} has a character outside {FILTER_CHARS.pattern[:-1]}")
    return key


def check_value(value: Any, path: str) -> str:
    if type(value) is not str:
        raise FilterError(path, f"a value must be a string, got {_json_type(value)}")
    if len(value) > MAX_LENGTH:
        raise FilterError(path, f"a value has at most {MAX_LENGTH} characters, got {len(value)}")
    if not FILTER_CHARS.fullmatch(value):
        raise FilterError(path, f"value {_short(value)} has a character outside {FILTER_CHARS.pattern[:-1]}")
    return value


def _one_member(value: Any, path: str, members: tuple[str, ...], what: str) -> tuple[str, Any]:
    allowed = ", ".join(members)
    if type(value) is not dict:
        raise FilterError(path, f"{what} is an object with exactly one of {allowed}; got {_json_type(value)}")
    unknown = [key for key in value if key not in members]
    if unknown:
        raise FilterError(f"{path}.{unknown[0]}", f"not part of {what} (allowed: {allowed})")
    present = [key for key in members if key in value]
    if len(present) != 1:
        found = " and ".join(present) if present else "none"
        hint = " (combine conditions with andAll or orAll)" if len(present) > 1 else ""
        raise FilterError(path, f"{what} needs exactly one of {allowed}; got {found}{hint}")
    member = present[0]
    if value[member] is None:
        raise FilterError(f"{path}.{member}", "is null")
    return member, value[member]


def _pair(member: str, inner: Any, path: str) -> BaseFilter:
    if type(inner) is not dict:
        raise FilterError(path, f"expected an object {{key: value}}, got {_json_type(inner)}")
    if len(inner) != 1:
        hint = "; to test several keys use andAll or orAll" if len(inner) > 1 else ""
        raise FilterError(path, f"needs exactly one key-value pair, got {len(inner)}{hint}")
    ((key, value),) = inner.items()
    check_key(key, path)
    check_value(value, _child(path, key))
    return Equals(key, value) if member == "equals" else NotEquals(key, value)


def _child(path: str, key: str) -> str:
    """``path.key``, or ``path['key']`` when the key is not a plain name (JSONPath's bracket notation)."""
    return f"{path}.{key}" if _PLAIN_NAME.fullmatch(key) else f"{path}[{key!r}]"


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")
