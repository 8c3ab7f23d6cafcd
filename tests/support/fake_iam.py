"""iam:SimulatePrincipalPolicy for moto, which does not implement it (moto 5.2.5: NotImplementedError).

A fake with behaviour, not a mock: it answers with the project's own IAM evaluator (distill_cli.access.evaluate)
over the policies moto's IAM holds for the role (inline and attached), for every action on every resource the
request names, with the request's ContextEntries as the request context. It hooks a real botocore client, so
botocore validates each request against the API model before the fake sees it, and the fake validates its answer
against the output shape (as botocore's Stubber does). Every other IAM call goes to moto.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from distill_cli.access import Principal, Request, evaluate

OPERATION = "SimulatePrincipalPolicy"


def _document(value: Any) -> Any:
    """A policy document as IAM returns it (boto3 decodes the URL-encoded JSON). moto keeps the inline policies of
    a role that CloudFormation created as the Python repr of the document: read that too."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(unquote(value))
    except ValueError:
        return ast.literal_eval(value)


class PolicySimulator:
    """Attach to a (moto-backed) IAM client: ``PolicySimulator(client)``. ``page_size`` pages the results with
    Marker/IsTruncated; ``organization_denies`` are actions an SCP of the organization denies."""

    def __init__(self, client: Any, *, page_size: int = 100, organization_denies: Iterable[str] = ()) -> None:
        self.client = client
        self.page_size = page_size
        self.organization_denies = {action.lower() for action in organization_denies}
        self.requests: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None
        self._policies: dict[str, list[Any]] = {}
        events = client.meta.events
        events.register(f"before-parameter-build.iam.{OPERATION}", self._capture)
        events.register(f"before-call.iam.{OPERATION}", self._answer)

    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        self._pending = dict(params)

    def policies(self, role_arn: str) -> list[Any]:
        """The role's inline and attached policies, read from IAM once per simulator (one doctor run: nothing
        changes the roles meanwhile)."""
        if role_arn not in self._policies:
            self._policies[role_arn] = self._read_policies(role_arn)
        return self._policies[role_arn]

    def _read_policies(self, role_arn: str) -> list[Any]:
        name = role_arn.rsplit("/", 1)[-1]
        found = [_document(self.client.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
                 for policy in self.client.list_role_policies(RoleName=name)["PolicyNames"]]  # fmt: skip
        for attached in self.client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            version = self.client.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            found.append(_document(self.client.get_policy_version(PolicyArn=attached["PolicyArn"],
                                                                  VersionId=version)["PolicyVersion"]["Document"]))  # fmt: skip
        return found

    def _answer(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params, self._pending = self._pending or {}, None
        self.requests.append(params)
        role = params["PolicySourceArn"]
        policies = self.policies(role)
        context = _context(params.get("ContextEntries", []))
        results = [self._result(policies, role, action, resource, context)
                   for action in params["ActionNames"] for resource in params.get("ResourceArns") or ["*"]]  # fmt: skip
        start = int(params.get("Marker") or 0)
        page = results[start : start + self.page_size]
        response: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": start + self.page_size < len(results)}
        if response["IsTruncated"]:
            response["Marker"] = str(start + self.page_size)
        report = ParamValidator().validate(response, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"the fake's {OPERATION} answer does not fit the API: {report.generate_report()}")
        return AWSResponse(None, 200, {}, None), response  # type: ignore[arg-type]

    def _result(self, policies: list[Any], role: str, action: str, resource: str,
                context: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
        decision = evaluate(policies, Request(action, resource, context, Principal(arn=role)))
        by_organization = action.lower() not in self.organization_denies
        verdict = ("allowed" if decision.allowed and by_organization
                   else "explicitDeny" if decision.explicit_deny or not by_organization else "implicitDeny")  # fmt: skip
        return {
            "EvalActionName": action, "EvalResourceName": resource, "EvalDecision": verdict,
            "MatchedStatements": [{"SourcePolicyId": m, "SourcePolicyType": "role"} for m in decision.matched],
            "MissingContextValues": [],
            "OrganizationsDecisionDetail": {"AllowedByOrganizations": by_organization},
        }  # fmt: skip


def _context(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """ContextEntries -> a request context: list types as tuples, every other type as its one string."""
    context: dict[str, Any] = {}
    for entry in entries:
        values = [str(v) for v in entry.get("ContextKeyValues", [])]
        context[entry["ContextKeyName"]] = tuple(values) if entry.get("ContextKeyType", "").endswith("List") else (
            values[0] if values else "")
    return context
