"""The pure parts of doctor's IAM check: ContextEntries, reading SimulatePrincipalPolicy results, grouping the
calls, and the rows (what fails, what only warns, and the fix each gives)."""

from __future__ import annotations

from typing import Any

import pytest

from distill_cli.access import Requirement
from distill_cli.doctor import iam
from distill_cli.doctor.plan import Need

ROLE = "arn:aws:iam::123456789012:role/path/DistillPipeline-PrepareRole"
BUCKET = "arn:aws:s3:::bkt"


def need(action: str, resource: str, **context: Any) -> Need:
    return Need(Requirement(action, resource, {"aws:SecureTransport": "true", **context}), "s3 ListObjectsV2")


def test_given_a_context_when_turned_into_entries_then_each_key_gets_the_apis_type() -> None:
    entries = iam.context_entries({"aws:SecureTransport": "true", "s3:max-keys": "1", "s3:prefix": "incoming/x",
                                   "aws:TagKeys": ("created-by", "distill:run-id")})  # fmt: skip

    assert entries == [
        {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
        {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": ["created-by", "distill:run-id"],
         "ContextKeyType": "stringList"},
        {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["1"], "ContextKeyType": "numeric"},
        {"ContextKeyName": "s3:prefix", "ContextKeyValues": ["incoming/x"], "ContextKeyType": "string"},
    ]  # fmt: skip


@pytest.mark.parametrize(("result", "kind", "words"), [
    ({"EvalDecision": "allowed"}, None, ""),
    ({"EvalDecision": "implicitDeny"}, "implicitDeny", "no statement of the role's policies allows it"),
    ({"EvalDecision": "implicitDeny", "MissingContextValues": ["s3:prefix"]}, "implicitDeny", "lacked: s3:prefix"),
    ({"EvalDecision": "explicitDeny", "MatchedStatements": [{"SourcePolicyId": "DenyAll"}]}, "explicitDeny",
     "explicitly denied by DenyAll"),
    ({"EvalDecision": "explicitDeny", "OrganizationsDecisionDetail": {"AllowedByOrganizations": False}},
     "organizations", "service control policy"),
    ({"EvalDecision": "implicitDeny", "PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": False}},
     "boundary", "permissions boundary"),
])  # fmt: skip
def test_given_an_evaluation_result_when_parsed_then_the_decision_says_who_decided(result, kind, words) -> None:
    parsed = iam.parse_results([{"EvalActionName": "S3:ListBucket", "EvalResourceName": BUCKET, **result}])

    decision = parsed[("s3:listbucket", BUCKET)]
    assert decision.allowed is (kind is None)
    if kind:
        assert decision.kind == kind and words in decision.reason


def test_given_resource_specific_results_when_parsed_then_each_resource_has_its_own_decision() -> None:
    parsed = iam.parse_results([{"EvalActionName": "s3:GetObject", "EvalDecision": "implicitDeny",
                                 "ResourceSpecificResults": [
                                     {"EvalResourceName": f"{BUCKET}/a", "EvalResourceDecision": "allowed"},
                                     {"EvalResourceName": f"{BUCKET}/b", "EvalResourceDecision": "implicitDeny"}]}])  # fmt: skip

    assert parsed[("s3:getobject", f"{BUCKET}/a")].allowed
    assert not parsed[("s3:getobject", f"{BUCKET}/b")].allowed


class Simulator:
    """Allows everything but ``denied`` (action, resource) pairs; pages its answers two results at a time."""

    def __init__(self, denied: set[tuple[str, str]] = frozenset()) -> None:  # type: ignore[assignment]
        self.denied = denied
        self.calls: list[dict[str, Any]] = []

    def simulate_principal_policy(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        results = [{"EvalActionName": a, "EvalResourceName": r,
                    "EvalDecision": "implicitDeny" if (a, r) in self.denied else "allowed"}
                   for a in params["ActionNames"] for r in params.get("ResourceArns", ["*"])]  # fmt: skip
        start = int(params.get("Marker", 0))
        more = start + 2 < len(results)
        return {"EvaluationResults": results[start : start + 2], "IsTruncated": more,
                **({"Marker": str(start + 2)} if more else {})}  # fmt: skip


def test_given_needs_when_simulated_then_one_call_per_action_and_context_with_all_its_resources_paged() -> None:
    needs = [need("s3:GetObject", f"{BUCKET}/{k}") for k in "abc"]
    needs += [need("s3:ListBucket", BUCKET, **{"s3:prefix": "incoming/"}), need("s3:ListBucket", BUCKET, **{
        "s3:prefix": "datasets/"}), need("bedrock:ListProvisionedModelThroughputs", "*")]  # fmt: skip
    fake = Simulator(denied={("s3:GetObject", f"{BUCKET}/c")})

    decisions = iam.simulate(fake, ROLE, needs)

    assert [d.allowed for d in decisions] == [True, True, False, True, True, True]
    first_calls = [c for c in fake.calls if "Marker" not in c]
    assert [c["ActionNames"] for c in first_calls] == [["s3:GetObject"], ["s3:ListBucket"], ["s3:ListBucket"],
                                                       ["bedrock:ListProvisionedModelThroughputs"]]  # fmt: skip
    assert first_calls[0]["ResourceArns"] == [f"{BUCKET}/a", f"{BUCKET}/b", f"{BUCKET}/c"]
    assert "ResourceArns" not in first_calls[3]  # "*" is the API's default
    assert any(c.get("Marker") == "2" for c in fake.calls)


def test_given_a_result_the_simulator_left_out_when_simulated_then_that_need_is_not_taken_as_allowed() -> None:
    class Silent(Simulator):
        def simulate_principal_policy(self, **params: Any) -> dict[str, Any]:
            return {"EvaluationResults": []}

    (decision,) = iam.simulate(Silent(), ROLE, [need("s3:GetObject", f"{BUCKET}/a")])

    assert not decision.allowed and decision.kind == "error"


def test_given_a_denied_s3_need_when_reported_then_a_fail_row_names_action_resource_condition_and_fix() -> None:
    fake = Simulator(denied={("s3:ListBucket", BUCKET)})
    wanted = need("s3:ListBucket", BUCKET, **{"s3:prefix": "incoming/x.jsonl", "s3:max-keys": "1",
                                              "aws:RequestedRegion": "us-east-1"})  # fmt: skip

    (row,) = iam.role_checks(fake, "role: prepare_dataset", ROLE, [wanted])

    assert row.status == "FAIL"
    assert row.detail.startswith(f"denies s3:ListBucket on {BUCKET} with s3:prefix incoming/x.jsonl (s3 ListObjectsV2)")
    assert row.fix == (f"add s3:ListBucket on {BUCKET} with s3:prefix incoming/x.jsonl to role "
                       "DistillPipeline-PrepareRole: redeploy the pipeline (cdk deploy)")  # fmt: skip


def test_given_a_kms_need_the_roles_policies_do_not_give_when_reported_then_it_is_a_warning_about_the_key_policy():
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    fake = Simulator(denied={("kms:GenerateDataKey", key)})

    rows = iam.role_checks(fake, "role: finish_run", ROLE, [need("kms:GenerateDataKey", key), need("sns:Publish", "t")])

    (row,) = rows
    assert row.status == "warn" and "key policy of " + key in row.fix


def test_given_every_need_allowed_when_reported_then_one_ok_row_lists_the_actions() -> None:
    rows = iam.role_checks(Simulator(), "role: check_job", ROLE, [need("bedrock:GetModelCustomizationJob", "j")])

    assert [(r.status, r.detail) for r in rows] == [
        ("ok", "allows the 1 permission(s) a run needs (bedrock 1)")]


def test_given_the_simulation_is_refused_when_reported_then_the_row_fails_saying_what_the_operator_needs() -> None:
    from botocore.exceptions import ClientError

    class Refusing(Simulator):
        def simulate_principal_policy(self, **params: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not you"}}, "SimulatePrincipalPolicy")

    (row,) = iam.role_checks(Refusing(), "role: check_job", ROLE, [need("bedrock:GetModelCustomizationJob", "j")])

    assert row.status == "FAIL" and "AccessDenied: not you" in row.detail
    assert row.fix == iam.SIMULATE_FIX
