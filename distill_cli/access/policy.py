"""An IAM policy evaluator for requests within one account: identity-based policies, an optional resource-based
policy (bucket, key, trust policy), explicit deny first. No boto3.

Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
Within one account: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
Not modelled: SCPs/RCPs, permissions boundaries, session policies, grants, cross-account requests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from distill_cli.access import conditions, principals, wildcards
from distill_cli.access.principals import Match, Principal

Context = Mapping[str, "str | Sequence[str]"]
Kind = Literal["identity", "resource"]

_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_POLICY_KEYS = frozenset({"Version", "Id", "Statement"})
_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})


@dataclass(frozen=True)
class Request:
    """One authorization: an action on one resource ARN ("*" for actions without resource types)."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)
    principal: Principal | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    matched: tuple[str, ...]  # the statements (Sid, or where they are) that allowed, or that denied
    reason: str
    # Which kind of policy the decision hinges on, for AWS's message ("no identity-based policy allows ...").
    policy_type: Literal["identity-based", "resource-based"] = "identity-based"


@dataclass
class _Outcome:
    denies: list[str] = field(default_factory=list)
    allows: list[str] = field(default_factory=list)  # allows this principal directly
    delegations: list[str] = field(default_factory=list)  # allows the principal's account (resource policies)


def _strings(value: Any, where: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(item, str) and item for item in values):
        raise ValueError(f"{where} must be a non-empty string or list of non-empty strings, got {value!r}")
    return values


def _statements(policy: Any, where: str) -> tuple[list[Mapping[str, Any]], bool]:
    if not isinstance(policy, Mapping):
        raise ValueError(f"{where}: a policy must be a mapping, got {type(policy).__name__}")
    unknown = set(policy) - _POLICY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown policy element(s) {sorted(unknown)}")
    version = policy.get("Version", "2008-10-17")  # no Version means the 2008 language, without variables
    if version not in _VERSIONS:
        raise ValueError(f"{where}: unknown policy Version {version!r}")
    raw = policy.get("Statement")
    statements = [raw] if isinstance(raw, Mapping) else raw
    if not isinstance(statements, list) or not statements:
        raise ValueError(f"{where}: Statement must be a statement or a non-empty list of them")
    return statements, version == wildcards.VARIABLES_VERSION


def _exactly_one(statement: Mapping[str, Any], names: tuple[str, str], where: str, required: bool) -> str | None:
    present = [name for name in names if name in statement]
    if len(present) > 1 or (required and not present):
        raise ValueError(f"{where}: a statement needs exactly one of {' / '.join(names)}")
    return present[0] if present else None


def _action_matches(patterns: list[str], action: str) -> bool:
    # Action names are case-insensitive; * and ? are wildcards.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    return any(wildcards.glob(((pattern, False),), action, ignore_case=True) for pattern in patterns)


def _resource_matches(patterns: list[str], resource: str, lookup: wildcards.Lookup, variables: bool) -> bool:
    # Case-sensitive ARNs; wildcards per segment (see wildcards.resource_glob).
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    for pattern in patterns:
        expanded = wildcards.expand(pattern, lookup, variables)
        if expanded is not None and wildcards.resource_glob(expanded, resource):
            return True
    return False


def _check_action_names(patterns: list[str], where: str) -> None:
    for pattern in patterns:
        if pattern != "*" and (pattern.count(":") != 1 or not all(pattern.split(":"))):
            raise ValueError(f"{where}: {pattern!r} is not an action (service:Action)")


@dataclass(frozen=True)
class _Statement:
    """One statement, checked once: what matching it against a request needs."""

    where: str
    name: str
    deny: bool
    actions: list[str]
    not_action: bool
    resources: list[str] | None
    not_resource: bool
    principal_key: str | None
    principal: Any
    conditions: Any


def _parse(policy: Any, kind: Kind, label: str) -> tuple[list[_Statement], bool]:
    statements, variables = _statements(policy, label)
    parsed: list[_Statement] = []
    for index, statement in enumerate(statements):
        where = f"{label}.Statement[{index}]"
        if not isinstance(statement, Mapping):
            raise ValueError(f"{where}: a statement must be a mapping")
        unknown = set(statement) - _STATEMENT_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown statement element(s) {sorted(unknown)}")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise ValueError(f'{where}: Effect must be "Allow" or "Deny", got {effect!r}')
        sid = statement.get("Sid")
        action_key = _exactly_one(statement, ("Action", "NotAction"), where, required=True)
        # Trust policies name no Resource: the statement is about the resource the policy is attached to.
        resource_key = _exactly_one(statement, ("Resource", "NotResource"), where, required=kind == "identity")
        principal_key = _exactly_one(statement, ("Principal", "NotPrincipal"), where, required=kind == "resource")
        if kind == "identity" and principal_key:
            raise ValueError(f"{where}: identity-based policies cannot name a {principal_key}")
        assert action_key is not None
        actions = _strings(statement[action_key], f"{where}.{action_key}")
        _check_action_names(actions, f"{where}.{action_key}")
        resources = _strings(statement[resource_key], f"{where}.{resource_key}") if resource_key else None
        parsed.append(_Statement(
            where=where, name=sid if isinstance(sid, str) and sid else where, deny=effect == "Deny",
            actions=actions, not_action=action_key == "NotAction", resources=resources,
            not_resource=resource_key == "NotResource", principal_key=principal_key,
            principal=statement[principal_key] if principal_key else None,
            conditions=conditions.parse_block(statement.get("Condition"), where)))  # fmt: skip
    return parsed, variables


# Checked policies by the policy object's id, each with a copy of what was checked: a policy changed in place (or
# a new one at a reused id) differs from its copy and is checked again, so a cached parse is never stale.
_PARSED: dict[tuple[int, Kind, str], tuple[Any, tuple[list[_Statement], bool]]] = {}
_PARSED_LIMIT = 4096


def _parsed(policy: Any, kind: Kind, label: str) -> tuple[list[_Statement], bool]:
    key = (id(policy), kind, label)
    cached = _PARSED.get(key)
    if cached is not None and cached[0] == policy:
        return cached[1]
    parsed = _parse(policy, kind, label)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[key] = (copy.deepcopy(policy), parsed)
    return parsed


def _scan(policy: Any, kind: Kind, request: Request, lookup: wildcards.Lookup, label: str, out: _Outcome) -> None:
    statements, variables = _parsed(policy, kind, label)
    for statement in statements:
        if _action_matches(statement.actions, request.action) == statement.not_action:
            continue
        if statement.resources is not None:
            hit = _resource_matches(statement.resources, request.resource, lookup, variables)
            if hit == statement.not_resource:
                continue
        reach = Match.DIRECT
        if statement.principal_key == "Principal":
            reach = principals.match(statement.principal, request.principal, statement.where)
        elif statement.principal_key == "NotPrincipal":
            excluded = principals.excluded_by(statement.principal, request.principal, statement.where)
            reach = Match.NONE if excluded else Match.DIRECT
        if reach is Match.NONE or not conditions.condition_matches(statement.conditions, lookup, variables):
            continue
        if statement.deny:
            out.denies.append(statement.name)  # a Deny naming the account applies to every principal in it
        elif reach is Match.DIRECT:
            out.allows.append(statement.name)
        else:
            out.delegations.append(statement.name)


def _lookup(request: Request) -> wildcards.Lookup:
    context: dict[str, str | Sequence[str]] = {}
    if request.principal is not None:
        context.update(request.principal.global_context())
    context.update(request.context)  # what the caller states wins over what we derive
    return wildcards.lookup_in(context)


def _on(request: Request) -> str:
    return "" if request.resource == "*" else f" on {request.resource}"


def _evaluate(identity_policies: Iterable[Any], request: Request, resource_policy: Any, key_policy: bool) -> Decision:
    lookup = _lookup(request)
    identity, resource = _Outcome(), _Outcome()
    for number, policy in enumerate(identity_policies):
        _scan(policy, "identity", request, lookup, f"identity[{number}]", identity)
    if resource_policy is not None:
        _scan(resource_policy, "resource", request, lookup, "resource", resource)

    # An explicit deny in any policy overrides any allow.
    if identity.denies:
        label = identity.denies[0]
        return Decision(False, True, tuple(identity.denies + resource.denies),
                        f"explicitly denied by statement {label} in an identity-based policy")  # fmt: skip
    if resource.denies:
        return Decision(False, True, tuple(resource.denies),
                        f"explicitly denied by statement {resource.denies[0]} in a resource-based policy",
                        "resource-based")  # fmt: skip
    action = request.action
    if key_policy:
        # "Unless the key policy explicitly allows it, you cannot use IAM policies to allow access to a KMS key."
        # https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
        if resource.allows:
            return Decision(
                True, False, tuple(resource.allows), f"allowed by key policy statement {resource.allows[0]}"
            )
        if resource.delegations and identity.allows:
            matched = tuple(resource.delegations + identity.allows)
            return Decision(True, False, matched, f"allowed by statement {identity.allows[0]}; the key policy "
                                                  f"enables IAM policies ({resource.delegations[0]})")  # fmt: skip
        if not resource.delegations:
            return Decision(False, False, (), f"no resource-based policy allows the {action} action{_on(request)}",
                            "resource-based")  # fmt: skip
        return Decision(False, False, (), f"no identity-based policy allows the {action} action{_on(request)}")
    # Same account: "If either the identity-based policy or the resource-based policy within the same account
    # allows the request and the other doesn't, the request is still allowed." A resource policy that names only
    # the account delegates to IAM policies and grants nothing by itself.
    if identity.allows or resource.allows:
        matched = tuple(identity.allows + resource.allows)
        return Decision(True, False, matched, f"allowed by statement {matched[0]}")
    return Decision(False, False, (), f"no identity-based policy allows the {action} action{_on(request)}")


def evaluate(
    identity_policies: Iterable[Any],
    request: Request,
    resource_policy: Any = None,
    *,
    kms_key_policy: bool = False,
) -> Decision:
    """Decide ``request`` for a principal whose identity-based policies are ``identity_policies`` against a resource
    whose resource-based policy is ``resource_policy``, both in the same account.

    ``kms_key_policy=True`` says the resource policy is a KMS key policy, which is authoritative: the key policy
    must allow the principal itself, or allow the account (which "enables IAM policies") and an identity-based
    policy must then allow the request too. Raises ValueError for a malformed policy or statement."""
    if kms_key_policy and resource_policy is None:
        raise ValueError("a KMS key always has a key policy: pass it as resource_policy")
    return _evaluate(list(identity_policies), request, resource_policy, kms_key_policy)


def evaluate_resource_policy(policy: Any, request: Request) -> Decision:
    """A resource-based policy on its own (a trust policy for a service principal, a key policy for a service):
    allowed only if it allows the principal itself and nothing in it denies. A statement that names only the
    principal's account allows nothing here: it defers to identity-based policies, of which there are none."""
    lookup = _lookup(request)
    outcome = _Outcome()
    _scan(policy, "resource", request, lookup, "resource", outcome)
    if outcome.denies:
        return Decision(False, True, tuple(outcome.denies),
                        f"explicitly denied by statement {outcome.denies[0]} in a resource-based policy",
                        "resource-based")  # fmt: skip
    if outcome.allows:
        return Decision(True, False, tuple(outcome.allows), f"allowed by statement {outcome.allows[0]}",
                        "resource-based")  # fmt: skip
    return Decision(False, False, (), f"no resource-based policy allows the {request.action} action{_on(request)}",
                    "resource-based")  # fmt: skip
