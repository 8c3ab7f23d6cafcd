"""Strictness, tested: every statement of every role is needed, and removing it makes the offline world fail,
naming the permission.

How: run each scenario once in a healthy world and keep every grant the authorizer made (with the statements
that allowed it). A statement is *needed* by a scenario when re-deciding one of that scenario's grants without
the statement denies it. Then, in that scenario's world, the statement is removed for real, the scenario runs
again, and what goes wrong must name one of the statement's actions.

That rerun is skipped where its outcome is certain: when the grant the statement is needed for is an API call
(the authorizer records every refused call with AWS's message, naming the action: world.denials) or a function's
logs and traces (world.telemetry_lost, naming the action), a run without the statement is refused that call at
the latest, and the evidence names it. So is a function's start when its environment is under a customer key
(the runner records the refused invocation, KMSAccessDeniedException naming kms:Decrypt). What only a rerun shows
-- a refusal that surfaces some other way (a service that may not assume a role or invoke a function, a deploy
CloudFormation refuses) -- is rerun for real.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from distill_cli.access import Principal, Requirement
from distill_cli.offline import service_roles
from distill_cli.offline.authorizer import Grant
from distill_cli.offline.resources import Deployment, RoleDef
from distill_cli.offline.world import OfflinePipeline


@dataclass(frozen=True)
class StatementRef:
    """One statement of one role: ``policy`` -1 is the trust policy."""

    role_arn: str
    policy: int
    index: int
    statement: Mapping[str, Any]
    evident: str = ""  # how a run without it is sure to name it (module notes); "" when only a rerun shows it

    @property
    def actions(self) -> list[str]:
        action = self.statement.get("Action", [])
        return [action] if isinstance(action, str) else list(action)

    @property
    def label(self) -> str:
        role = self.role_arn.rsplit("/", 1)[-1].split("-")[1]
        where = "trust" if self.policy < 0 else f"policy {self.policy}"
        return f"{role} {where} #{self.index} {self.statement.get('Sid') or ''} {self.actions}"


def statements(deployment: Deployment) -> list[StatementRef]:
    found = []
    for role in deployment.roles.values():
        for number, policy in itertools.chain([(-1, role.trust)], enumerate(role.policies)):
            body = policy["Statement"]
            for index, statement in enumerate(body if isinstance(body, list) else [body]):
                found.append(StatementRef(role.arn, number, index, statement))
    return found


def _without_statement(role: RoleDef, ref: StatementRef) -> RoleDef:
    def cut(policy: Mapping[str, Any]) -> dict[str, Any]:
        body = list(policy["Statement"])
        del body[ref.index]
        # A policy keeps at least one statement: one that allows nothing.
        nothing: dict[str, Any] = {"Effect": "Deny", "Action": "none:None"}
        nothing.update({"Principal": "*"} if ref.policy < 0 else {"Resource": "*"})
        return {**policy, "Statement": body or [nothing]}

    if ref.policy < 0:
        return replace(role, trust=cut(role.trust))
    policies = list(role.policies)
    policies[ref.policy] = cut(policies[ref.policy])
    return replace(role, policies=tuple(policies))


@contextlib.contextmanager
def without(deployment: Deployment, ref: StatementRef) -> Iterator[None]:
    saved = deployment.roles[ref.role_arn]
    deployment.roles[ref.role_arn] = _without_statement(saved, ref)
    try:
        yield
    finally:
        deployment.roles[ref.role_arn] = saved


def needed(world: OfflinePipeline, grants: list[Grant], ref: StatementRef) -> bool:
    """Whether one of ``grants`` (made in ``world``) is denied once ``ref`` is gone."""
    return bool(denied_without(world, grants, ref))


# Grants whose refusal the world records, naming the action: refused API calls (Authorizer.check: denials), a
# function's or the state machine's telemetry (service_roles: telemetry_lost), and a function's start
# (service_roles.environment_key_problem: the invocation the runner records fails naming kms:Decrypt).
_RECORDED_TELEMETRY = ("to write its logs", "to send its traces", "to send the executions' traces")
_RECORDED_START = "to decrypt its environment"
_REFUSED_START = "Lambda.KMSAccessDeniedException"


def _recorded(grant: Grant, ref: StatementRef) -> str:
    if grant.requirement.action not in ref.actions:
        return ""  # allowed through a wildcard: the message would not spell the statement's action
    if grant.service not in ("(service)", "(trust)"):
        return f"a refused {grant.service} {grant.operation} call is recorded"
    if grant.operation == _RECORDED_START:
        return "a refused start is recorded"
    return "lost telemetry is recorded" if grant.operation in _RECORDED_TELEMETRY else ""


def denied_without(world: OfflinePipeline, grants: list[Grant], ref: StatementRef) -> list[Grant]:
    """The ``grants`` (made in ``world``) that are denied once ``ref`` is gone."""
    mine = [g for g in grants if g.principal == ref.role_arn]
    denied = []
    with without(world.deployment, ref):
        for grant in mine:
            if grant.service == "(trust)":
                if world.authorizer.trust_problem(ref.role_arn, grant.operation, _trust_context(world, grant)):
                    denied.append(grant)
                continue
            principal = Principal(arn=ref.role_arn, session_name="strictness")
            if not world.authorizer.decide(principal, grant.requirement).allowed:
                denied.append(grant)
    return denied


def _trust_context(world: OfflinePipeline, grant: Grant) -> dict[str, str]:
    if grant.operation == "states.amazonaws.com":
        return {"aws:SourceAccount": world.authorizer.where.account, "aws:SourceArn": world.machine.arn}
    if grant.operation == "bedrock.amazonaws.com":
        job = next(iter(world.bedrock.jobs), "")
        return {"aws:SourceAccount": world.authorizer.where.account, "aws:SourceArn": job}
    return {}


@dataclass
class Evidence:
    """What went wrong in one run of a scenario (empty when it went as a healthy run goes)."""

    problems: list[str] = field(default_factory=list)

    def names_any(self, actions: list[str]) -> bool:
        text = "\n".join(self.problems)
        return any(a in text for a in actions)


Scenario = Callable[[OfflinePipeline, int], list[str]]


def evidence(world: OfflinePipeline, scenario: Scenario, attempt: int) -> Evidence:
    """Run ``scenario`` once more in ``world``; collect what went wrong, by whatever means it showed."""
    denials, telemetry, invocations = len(world.denials), len(world.telemetry_lost), len(world.runner.invocations)
    found = Evidence()
    try:
        found.problems += scenario(world, attempt)
    except Exception as error:
        found.problems.append(f"{type(error).__name__}: {error}")
    found.problems += [d.message for d in world.denials[denials:]]
    found.problems += world.telemetry_lost[telemetry:]
    found.problems += [f"{i.error_type}: {i.error_message}" for i in world.runner.invocations[invocations:]
                       if i.error_type == _REFUSED_START]  # fmt: skip
    return found


def deploy_evidence(world: OfflinePipeline) -> Evidence:
    """What CloudFormation would refuse with the world's roles as they are now."""
    assert world.machine is not None
    try:
        service_roles.check_deployable(world.authorizer, world.deployment.functions.values(), world.machine)
    except service_roles.DeployRefused as refused:
        return Evidence([str(refused)])
    return Evidence()


def key(ref: StatementRef) -> Any:
    return (ref.role_arn, ref.policy, ref.index, json.dumps(ref.statement, sort_keys=True))


def plan(open_world: Callable[..., Any], scenarios: Mapping[str, tuple[dict[str, Any], Scenario]],
         wanted: Callable[[StatementRef], bool] = lambda ref: True) -> dict[str, list[StatementRef]]:  # fmt: skip
    """scenario -> the (wanted) statements it is the first to need; fails naming any statement none needs.
    ``open_world(**options)`` opens a world (a context manager) with the same bucket name every time, so a
    statement reads the same in each."""
    assigned: dict[str, list[StatementRef]] = {name: [] for name in scenarios}
    claimed: set[Any] = set()
    every: list[StatementRef] = []
    for name, (options, scenario) in scenarios.items():
        with open_world(**options) as world:
            healthy = evidence(world, scenario, 0)
            assert not healthy.problems, f"{name} is not healthy: {healthy.problems}"
            grants = list(world.authorizer.grants)
            every = [ref for ref in statements(world.deployment) if wanted(ref)]
            for ref in every:
                if key(ref) in claimed:
                    continue
                denied = denied_without(world, grants, ref)
                if denied:
                    claimed.add(key(ref))
                    # The first refusal (grants are in time order) is where a run without it goes wrong.
                    assigned[name].append(replace(ref, evident=_recorded(denied[0], ref)))
    unneeded = [ref.label for ref in every if key(ref) not in claimed]
    assert not unneeded, "statements no scenario needs (grant less, or add the scenario that needs them):\n" + \
        "\n".join(unneeded)  # fmt: skip
    return assigned


def ablate(world: OfflinePipeline, scenario: Scenario, refs: list[StatementRef], *, every: bool = False) -> list[str]:
    """Remove each statement in turn and run the scenario again: what did not fail naming the permission. Only the
    statements whose refusal only a rerun shows, unless ``every`` (module notes)."""
    silent = []
    for attempt, ref in enumerate((r for r in refs if every or not r.evident), start=1):
        with without(world.deployment, ref):
            found = deploy_evidence(world)
            if not found.problems:
                found = evidence(world, scenario, attempt)
        if not found.names_any(ref.actions):
            silent.append(f"{ref.label}: {found.problems or 'nothing went wrong'}")
    return silent


__all__ = ["Evidence", "Requirement", "Scenario", "StatementRef", "ablate", "denied_without", "deploy_evidence",
           "evidence", "key", "needed", "plan", "statements", "without"]  # fmt: skip
