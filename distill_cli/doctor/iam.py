"""The run plan against the deployed roles: iam:SimulatePrincipalPolicy for every permission each role needs, with
the request context THE table gives; and whether each role's service (Lambda, Step Functions, Bedrock) may assume
it (iam:GetRole, the trust policy read with the project's own evaluator).

The simulator evaluates the role's identity-based policies, its permissions boundary and the organization's SCPs;
it does not evaluate KMS key policies for roles ("Simulation of resource-based policies isn't supported for IAM
roles", SimulatePrincipalPolicy API reference), so a KMS permission the role's own policies do not give is a
warning: the key policy may still give it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from distill_cli.access import Principal, Request, evaluate_resource_policy
from distill_cli.deployed import aws_error
from distill_cli.doctor.plan import BEDROCK_ROLE, STATE_MACHINE_ROLE, Need, RunPlan
from distill_cli.doctor.report import Check, could_not_check, fail, ok, warn

_BOOLEAN_KEYS = {"aws:securetransport", "aws:viaawsservice", "aws:principalisawsservice", "aws:multifactorauthpresent"}
_NUMERIC_KEYS = {"s3:max-keys"}
# Context keys left out of a fix's wording: every request has them, or they only name the sample run.
_QUIET_KEYS = {"aws:requestedregion", "aws:securetransport", "aws:viaawsservice", "aws:tagkeys", "s3:max-keys"}
_QUIET_PREFIXES = ("aws:requesttag/distill:", "aws:resourcetag/distill:")
SIMULATE_FIX = "give the person running doctor iam:SimulatePrincipalPolicy on the pipeline's roles"
REDEPLOY = "redeploy the pipeline (cdk deploy)"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why not (empty when allowed)
    kind: str = "implicitDeny"  # implicitDeny | explicitDeny | organizations | boundary | error


def context_entries(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A requirement's context as SimulatePrincipalPolicy ContextEntries (types per the API's ContextKeyType)."""
    entries = []
    for key, value in sorted(context.items()):
        if isinstance(value, (tuple, list)):
            kind, values = "stringList", [str(v) for v in value]
        else:
            lowered = key.lower()
            kind = "boolean" if lowered in _BOOLEAN_KEYS else "numeric" if lowered in _NUMERIC_KEYS else "string"
            values = [str(value)]
        entries.append({"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind})
    return entries


def _decision(result: Mapping[str, Any], decision: str, matched: Sequence[Mapping[str, Any]]) -> Decision:
    if decision == "allowed":
        return Decision(True, "")
    if result.get("OrganizationsDecisionDetail", {}).get("AllowedByOrganizations") is False:
        return Decision(False, "a service control policy (SCP) of the organization denies it", "organizations")
    if result.get("PermissionsBoundaryDecisionDetail", {}).get("AllowedByPermissionsBoundary") is False:
        return Decision(False, "the role's permissions boundary does not allow it", "boundary")
    if decision == "explicitDeny":
        policies = sorted({str(m.get("SourcePolicyId", "?")) for m in matched}) or ["a policy"]
        return Decision(False, f"explicitly denied by {', '.join(policies)}", "explicitDeny")
    missing = result.get("MissingContextValues") or []
    extra = f" (the policy asks for context the simulation lacked: {', '.join(missing)})" if missing else ""
    return Decision(False, "no statement of the role's policies allows it" + extra)


def parse_results(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Decision]:
    """(action lower-cased, resource) -> decision, from EvaluationResults (per-resource results when given)."""
    found: dict[tuple[str, str], Decision] = {}
    for result in results:
        action = str(result["EvalActionName"]).lower()
        specific = result.get("ResourceSpecificResults") or []
        for item in specific:
            found[(action, str(item["EvalResourceName"]))] = _decision(
                {**result, **item}, str(item["EvalResourceDecision"]), item.get("MatchedStatements") or [])
        if not specific:
            found[(action, str(result.get("EvalResourceName") or "*"))] = _decision(
                result, str(result["EvalDecision"]), result.get("MatchedStatements") or [])
    return found


def simulate(client: Any, role_arn: str, needs: Sequence[Need]) -> list[Decision]:
    """One decision per need. One call per (action, context), with every resource that pair is needed on."""
    groups: dict[tuple[str, str], list[int]] = {}
    for index, need in enumerate(needs):
        r = need.requirement
        groups.setdefault((r.action, repr(sorted(r.context.items()))), []).append(index)
    decisions: dict[int, Decision] = {}
    for indexes in groups.values():
        first = needs[indexes[0]].requirement
        resources = list(dict.fromkeys(needs[i].requirement.resource for i in indexes))
        params: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": [first.action],
                                  "ContextEntries": context_entries(first.context)}  # fmt: skip
        if resources != ["*"]:
            params["ResourceArns"] = resources
        results: list[Mapping[str, Any]] = []
        while True:
            page = client.simulate_principal_policy(**params)
            results.extend(page.get("EvaluationResults", []))
            if not page.get("IsTruncated"):
                break
            params["Marker"] = page["Marker"]
        parsed = parse_results(results)
        for i in indexes:
            r = needs[i].requirement
            decisions[i] = parsed.get((r.action.lower(), r.resource)) or Decision(
                False, f"the simulation returned no result for {r.action} on {r.resource}", "error")
    return [decisions[i] for i in range(len(needs))]


def conditions_text(context: Mapping[str, Any]) -> str:
    shown = [f"{key} {'/'.join(value) if isinstance(value, (tuple, list)) else value}"
             for key, value in sorted(context.items())
             if key.lower() not in _QUIET_KEYS and not key.lower().startswith(_QUIET_PREFIXES)]  # fmt: skip
    return f" with {', '.join(shown)}" if shown else ""


def _denied_row(label: str, role_arn: str, need: Need, decision: Decision) -> Check:
    r, name = need.requirement, role_arn.rsplit("/", 1)[-1]
    what = f"{r.action} on {r.resource}{conditions_text(r.context)}"
    detail = f"denies {what} ({need.why}): {decision.reason}"
    if r.action.lower().startswith("kms:") and decision.kind == "implicitDeny":
        return warn(label, f"the role's own policies do not give {what} ({need.why})",
                    f"make sure the key policy of {r.resource} lets role {name} use {r.action} (key policies "
                    "are not simulated for roles)")  # fmt: skip
    fixes = {
        "organizations": f"ask your AWS Organizations administrator to let role {name} use {r.action}",
        "boundary": f"widen the permissions boundary of role {name} to allow {what}",
        "explicitDeny": f"remove the Deny that matches {what} from role {name}",
        "error": SIMULATE_FIX,
    }
    return fail(label, detail, fixes.get(decision.kind, f"add {what} to role {name}: {REDEPLOY}"))


def role_checks(client: Any, label: str, role_arn: str, needs: Sequence[Need]) -> list[Check]:
    """One ok row when the role allows everything; else a row per permission it does not allow."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not needs:
        return [ok(label, "makes no AWS call of its own")]
    try:
        decisions = simulate(client, role_arn, needs)
    except (ClientError, BotoCoreError) as error:
        return [could_not_check(label, f"role {role_arn}", aws_error(error), SIMULATE_FIX)]
    rows = [_denied_row(label, role_arn, need, d) for need, d in zip(needs, decisions, strict=True) if not d.allowed]
    if rows:
        return rows
    per_service = Counter(n.requirement.action.split(":", 1)[0] for n in needs)
    shown = ", ".join(f"{service} {count}" for service, count in sorted(per_service.items()))
    return [ok(label, f"allows the {len(needs)} permission(s) a run needs ({shown})")]


def _label(role: str) -> str:
    return {BEDROCK_ROLE: "Bedrock service role", STATE_MACHINE_ROLE: "state machine"}.get(role, role)


def trust_check(client: Any, plan: RunPlan, role: str, role_arn: str) -> Check | None:
    """Whether the service that uses the role may assume it (its trust policy, with the context the service's
    AssumeRole carries: the confused-deputy keys for Bedrock and Step Functions). None when it may."""
    from botocore.exceptions import BotoCoreError, ClientError

    label = f"trust: {_label(role)}"
    try:
        document = client.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]["AssumeRolePolicyDocument"]
    except (ClientError, BotoCoreError) as error:
        return could_not_check(label, f"the trust policy of {role_arn}", aws_error(error),
                               "give the person running doctor iam:GetRole on the pipeline's roles")  # fmt: skip
    if isinstance(document, str):
        document = json.loads(unquote(document))
    service, context = plan.trust(role)
    decision = evaluate_resource_policy(document, Request("sts:AssumeRole", role_arn, context,
                                                          Principal.for_service(service)))  # fmt: skip
    if decision.allowed:
        return None
    keys = f" with {', '.join(f'{k} {v}' for k, v in sorted(context.items()))}" if context else ""
    return fail(label, f"{service} may not assume {role_arn}{keys} ({decision.reason})",
                f"let {service} assume the role in its trust policy: {REDEPLOY}")


def check_roles(client: Any, plan: RunPlan, roles: Mapping[str, str]) -> list[Check]:
    """``roles``: role key (handler module, BEDROCK_ROLE, STATE_MACHINE_ROLE) -> role ARN. A role the plan needs
    that is not deployed fails; then each role's permissions, then every role's trust."""
    rows: list[Check] = []
    for role in plan.modules:
        label = f"role: {_label(role)}"
        role_arn = roles.get(role)
        if role_arn is None:
            rows.append(fail(label, f"no function of the stack runs handlers.{role}.handler",
                             f"{REDEPLOY} with this version of the project"))  # fmt: skip
            continue
        rows += role_checks(client, label, role_arn, plan.needs(role))
    trusted = [role for role in plan.modules if role in roles]
    problems = [row for role in trusted if (row := trust_check(client, plan, role, roles[role]))]
    if not problems:
        services = sorted({plan.trust(role)[0] for role in trusted})
        problems.append(ok("trust", f"each of the {len(trusted)} roles may be assumed by its service "
                                    f"({', '.join(services)})"))  # fmt: skip
    return rows + problems
