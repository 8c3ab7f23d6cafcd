"""Wildcard matching and policy variables, the way IAM reads Action, Resource and string/ARN condition values."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence

# A pattern after policy-variable substitution: (text, is_literal). Literal text never acts as a wildcard
# (it came from ${*}, ${?}, ${$} or from a request value).
Pattern = tuple[tuple[str, bool], ...]

Lookup = Callable[[str], "str | Sequence[str] | None"]

# Policy variables exist only in policies with "Version": "2012-10-17"; in older (or version-less) policies
# "${...}" is plain text.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
VARIABLES_VERSION = "2012-10-17"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}  # ${*} ${?} ${$}: the literal character
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'(.*)'\s*$")  # ${aws:username, 'default'}


def expand(value: str, lookup: Lookup, variables: bool) -> Pattern | None:
    """Substitute policy variables in ``value``. None when a variable has no single value in the request and no
    default: such a policy value matches nothing (docs: a variable with no value in the request context makes
    the element not match)."""
    if not variables or "${" not in value:
        return ((value, False),)
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(value):
        parts.append((value[position : match.start()], False))
        inner = match.group(1)
        if inner in _SPECIAL:
            parts.append((_SPECIAL[inner], True))
        else:
            default = _DEFAULT.match(inner)
            key, fallback = (default.group(1), default.group(2)) if default else (inner.strip(), None)
            found = lookup(key)
            if isinstance(found, str):
                parts.append((found, True))
            elif fallback is not None and found is None:
                parts.append((fallback, True))
            else:
                return None  # missing, or a multivalued key (they cannot be variables)
        position = match.end()
    parts.append((value[position:], False))
    return tuple(part for part in parts if part[0])


def text(pattern: Pattern) -> str:
    return "".join(chunk for chunk, _ in pattern)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: Pattern, resource: bool, ignore_case: bool) -> re.Pattern[str]:
    out: list[str] = []
    for chunk, literal in pattern:
        if literal:
            out.append(re.escape(chunk))
            continue
        for index, char in enumerate(chunk):
            if char == "*":
                # In a Resource ARN a wildcard stays inside its colon-separated segment, except that a "*"
                # ending a segment "can expand to match beyond the colon boundaries".
                # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
                ends_segment = index + 1 == len(chunk) or chunk[index + 1] == ":"
                out.append(".*" if not resource or ends_segment else "[^:]*")
            elif char == "?":
                out.append("[^:]" if resource else ".")
            else:
                out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob(pattern: Pattern, value: str, *, ignore_case: bool = False) -> bool:
    """``*`` is any run of characters, ``?`` any one character, everywhere in the string (Action and StringLike).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
    """
    return _compiled(pattern, False, ignore_case).fullmatch(value) is not None


def resource_glob(pattern: Pattern, value: str) -> bool:
    """Resource/NotResource: case-sensitive; wildcards inside ARN segments (see ``_compiled``)."""
    if text(pattern) == "*" and not any(literal for _, literal in pattern):
        return True
    return _compiled(pattern, True, False).fullmatch(value) is not None


def arn_like(pattern: Pattern, value: str) -> bool:
    """ArnEquals/ArnLike: "Each of the six colon-delimited components of the ARN is checked separately and each
    can include multi-character match wildcards (*) or single-character match wildcards (?)."
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    """
    wanted = _split_pattern(pattern)
    got = value.split(":", 5)
    if wanted is None or len(got) != 6:
        return False
    return all(glob(part, segment) for part, segment in zip(wanted, got, strict=True))


def _split_pattern(pattern: Pattern) -> list[Pattern] | None:
    """Split a pattern into the six ARN components; colons inside literal (substituted) text do not split."""
    segments: list[list[tuple[str, bool]]] = [[]]
    for chunk, literal in pattern:
        pieces = [chunk] if literal else chunk.split(":")
        for index, piece in enumerate(pieces):
            if index:
                if len(segments) == 6:  # the resource part keeps its colons
                    segments[-1].append((":", True))
                else:
                    segments.append([])
            if piece:
                segments[-1].append((piece, literal))
    if len(segments) != 6:
        return None
    return [tuple(segment) for segment in segments]


def lookup_in(context: Mapping[str, str | Sequence[str]]) -> Lookup:
    """Condition keys are case-insensitive: look them up by lower-cased name.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
    """
    lowered = {key.lower(): value for key, value in context.items()}

    def find(key: str) -> str | Sequence[str] | None:
        return lowered.get(key.lower())

    return find
