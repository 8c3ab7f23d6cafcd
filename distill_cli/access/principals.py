"""Who makes a request, and how a resource-based policy's Principal/NotPrincipal element names it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


@dataclass(frozen=True)
class Principal:
    """The caller. ``arn`` is an IAM identity (``arn:aws:iam::ACCOUNT:role/path/Name``, a user, or the account
    root); ``session_name`` makes it an assumed-role session. ``service`` is a service principal
    (``bedrock.amazonaws.com``). Neither: an anonymous caller."""

    arn: str | None = None
    session_name: str | None = None
    service: str | None = None

    def __post_init__(self) -> None:
        if self.arn is not None and self.service is not None:
            raise ValueError("a principal is either an IAM identity (arn) or a service, not both")
        if self.arn is not None and not _IAM_ARN.match(self.arn):
            raise ValueError(f"not an IAM identity ARN: {self.arn!r}")
        if self.session_name is not None and ":role/" not in (self.arn or ""):
            raise ValueError("session_name needs the ARN of the role the session assumed")

    @classmethod
    def for_service(cls, service: str) -> Principal:
        return cls(service=service)

    @property
    def account(self) -> str | None:
        match = _IAM_ARN.match(self.arn or "")
        return match.group("account") if match else None

    @property
    def session_arn(self) -> str | None:
        """``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``: the role's path is not part of it."""
        match = _IAM_ARN.match(self.arn or "")
        if not match or self.session_name is None:
            return None
        name = match.group("resource").rsplit("/", 1)[-1]
        return f"arn:{match.group('partition')}:sts::{match.group('account')}:assumed-role/{name}/{self.session_name}"

    @property
    def display_arn(self) -> str:
        """The ARN AWS names in an access-denied message (a session for an assumed role)."""
        return self.session_arn or self.arn or self.service or "anonymous"

    def global_context(self) -> dict[str, str]:
        """Global condition keys AWS puts in every request from this principal.
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
        (aws:PrincipalArn is the role's ARN, not the session's, for assumed roles.)"""
        if self.service is not None:
            return {"aws:PrincipalServiceName": self.service, "aws:PrincipalIsAWSService": "true"}
        if self.arn is None:
            return {}
        return {
            "aws:PrincipalArn": self.arn,
            "aws:PrincipalAccount": self.account or "",
            "aws:PrincipalIsAWSService": "false",
        }


class Match(enum.Enum):
    NONE = "none"
    DIRECT = "direct"  # the statement names this very principal (or everyone)
    ACCOUNT = "account"  # the statement names the principal's account: it delegates to the account's IAM policies


def _values(value: Any, where: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(item, str) for item in values):
        raise ValueError(f"{where} must be a string or a non-empty list of strings, got {value!r}")
    return values


def _aws_value_match(value: str, principal: Principal) -> Match:
    if value == "*":
        return Match.DIRECT
    if "*" in value or "?" in value:
        # "You cannot use a wildcard to match part of a principal name or ARN."
        raise ValueError(f"a wildcard may not match part of a principal: {value!r}")
    if principal.arn is None:
        return Match.NONE
    account = principal.account
    root = f"arn:{principal.arn.split(':')[1]}:iam::{account}:root"
    # An account ID and the account root ARN both "delegate permissions to the account".
    if value in (account, root):
        return Match.DIRECT if principal.arn == root else Match.ACCOUNT
    if value in (principal.arn, principal.session_arn):
        return Match.DIRECT
    return Match.NONE


def match(element: Any, principal: Principal | None, where: str) -> Match:
    """How the Principal element ``element`` names ``principal``."""
    if element == "*":
        return Match.DIRECT  # everyone, anonymous included
    if not isinstance(element, Mapping) or not element:
        raise ValueError(f'{where}: Principal must be "*" or a mapping of principal types, got {element!r}')
    unknown = set(element) - _PRINCIPAL_TYPES
    if unknown:
        raise ValueError(f"{where}: unknown principal type(s) {sorted(unknown)}")
    caller = principal or Principal()
    best = Match.NONE
    for kind, raw in element.items():
        for value in _values(raw, f"{where}: Principal.{kind}"):
            if kind == "AWS":
                found = _aws_value_match(value, caller)
            elif kind == "Service":
                found = Match.DIRECT if caller.service is not None and value == caller.service else Match.NONE
            else:
                found = Match.NONE  # federated and canonical users are not modelled: they never match
            if found is Match.DIRECT:
                return found
            if found is Match.ACCOUNT:
                best = found
    return best


def excluded_by(element: Any, principal: Principal | None, where: str) -> bool:
    """True when NotPrincipal lists every identity the request carries, so the statement skips it. An assumed-role
    session is excluded only if its session ARN (or role ARN) and its account are both listed; a user only with
    its account too (docs: "you must also specify the account ARN" of the not-denied principal)."""
    if element == "*":
        return True
    caller = principal or Principal()
    if caller.service is not None:
        return match(element, caller, where) is Match.DIRECT
    if caller.arn is None:
        return False
    account_root = f"arn:{caller.arn.split(':')[1]}:iam::{caller.account}:root"
    account_listed = match(element, Principal(arn=account_root), where) is Match.DIRECT
    if caller.arn == account_root:
        return account_listed
    return account_listed and match(element, caller, where) is Match.DIRECT
