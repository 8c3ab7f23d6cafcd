"""Resource-based policies: Principal/NotPrincipal, trust policies, KMS key policies, same-account combination."""

from __future__ import annotations

from typing import Any

import pytest

from distill_cli.access import Principal, Request, evaluate, evaluate_resource_policy

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service/StartJob"
ROLE = Principal(arn=ROLE_ARN, session_name="start-job")
OTHER = Principal(arn="arn:aws:iam::444455556666:role/Intruder", session_name="x")
BEDROCK = Principal.for_service("bedrock.amazonaws.com")
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"


def resource_policy(principal: Any, effect: str = "Allow", key: str = "Principal", **extra: Any) -> dict[str, Any]:
    statement = {"Sid": "S", "Effect": effect, key: principal, "Action": "kms:Decrypt", "Resource": "*", **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


IAM_ALLOWS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY}]}


def decrypt(principal: Principal | None) -> Request:
    return Request("kms:Decrypt", KEY, principal=principal)


@pytest.mark.parametrize(
    ("element", "principal", "expected"),
    [
        ("*", ROLE, True),
        ("*", None, True),  # everyone, anonymous included
        ({"AWS": "*"}, ROLE, True),
        ({"AWS": ROLE_ARN}, ROLE, True),  # a role ARN names its sessions
        ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/StartJob/start-job"}, ROLE, True),  # the session, no path
        ({"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/StartJob/other"}, ROLE, False),
        ({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/Other", ROLE_ARN]}, ROLE, True),
        ({"AWS": ACCOUNT}, ROLE, False),  # the account only delegates to IAM policies
        ({"AWS": ROOT}, ROLE, False),
        ({"AWS": ROOT}, Principal(arn=ROOT), True),
        ({"AWS": ROLE_ARN}, OTHER, False),
        ({"Service": "bedrock.amazonaws.com"}, BEDROCK, True),
        ({"Service": ["lambda.amazonaws.com", "bedrock.amazonaws.com"]}, BEDROCK, True),
        ({"Service": "lambda.amazonaws.com"}, BEDROCK, False),
        ({"Service": "bedrock.amazonaws.com"}, ROLE, False),
        ({"AWS": ROLE_ARN}, BEDROCK, False),
        ({"Federated": "cognito-identity.amazonaws.com"}, ROLE, False),
    ],
)
def test_given_a_principal_element_when_a_resource_policy_alone_is_evaluated_then_it_grants_only_named_principals(
    element: Any, principal: Principal | None, expected: bool
) -> None:
    assert evaluate_resource_policy(resource_policy(element), decrypt(principal)).allowed is expected


def test_given_a_deny_naming_the_account_when_evaluated_then_it_denies_every_principal_in_it() -> None:
    policy = resource_policy({"AWS": ACCOUNT}, effect="Deny")
    decision = evaluate([IAM_ALLOWS], decrypt(ROLE), policy)
    assert decision.explicit_deny and decision.reason == "explicitly denied by statement S in a resource-based policy"


@pytest.mark.parametrize(
    ("element", "principal", "denied"),
    [
        ({"AWS": [ROLE_ARN, ROOT]}, ROLE, False),  # the role and its account are both listed: excluded
        ({"AWS": [ROLE_ARN]}, ROLE, True),  # the account is not: the session is still denied
        ({"AWS": [ROOT]}, ROLE, True),
        ({"AWS": [ROLE_ARN, ROOT]}, OTHER, True),
        ({"Service": "bedrock.amazonaws.com"}, BEDROCK, False),
        ("*", ROLE, False),
    ],
)
def test_given_not_principal_with_deny_when_evaluated_then_everyone_not_listed_is_denied(
    element: Any, principal: Principal, denied: bool
) -> None:
    policy = resource_policy(element, effect="Deny", key="NotPrincipal")
    assert evaluate_resource_policy(policy, decrypt(principal)).explicit_deny is denied


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}, "wildcard may not match part of a principal"),
        ({"Role": ROLE_ARN}, "unknown principal type"),
        ({"AWS": []}, "non-empty list"),
        ("everyone", "Principal must be"),
    ],
)
def test_given_a_malformed_principal_when_evaluated_then_a_value_error_names_it(element: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_resource_policy(resource_policy(element), decrypt(ROLE))


def test_given_a_resource_policy_without_principal_when_evaluated_then_it_is_refused() -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}
    with pytest.raises(ValueError, match="Principal / NotPrincipal"):
        evaluate_resource_policy(policy, decrypt(ROLE))


def test_given_same_account_when_either_policy_allows_then_the_request_is_allowed() -> None:
    bucket_policy = resource_policy({"AWS": ROLE_ARN})
    assert evaluate([], decrypt(ROLE), bucket_policy).allowed  # the resource policy alone
    assert evaluate([IAM_ALLOWS], decrypt(ROLE), resource_policy({"AWS": ACCOUNT})).allowed  # IAM alone
    assert not evaluate([], decrypt(ROLE), resource_policy({"AWS": ACCOUNT})).allowed  # delegation grants nothing


def test_given_a_kms_key_policy_when_it_does_not_enable_iam_then_identity_policies_do_not_count() -> None:
    key_policy = resource_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/Admin"})
    decision = evaluate([IAM_ALLOWS], decrypt(ROLE), key_policy, kms_key_policy=True)
    assert not decision.allowed
    assert decision.reason == f"no resource-based policy allows the kms:Decrypt action on {KEY}"
    assert decision.policy_type == "resource-based"


def test_given_a_kms_key_policy_that_enables_iam_when_iam_allows_then_the_request_is_allowed() -> None:
    key_policy = resource_policy({"AWS": ROOT}, Action="kms:*")
    assert evaluate([IAM_ALLOWS], decrypt(ROLE), key_policy, kms_key_policy=True).allowed
    refused = evaluate([], decrypt(ROLE), key_policy, kms_key_policy=True)
    assert not refused.allowed and refused.reason.startswith("no identity-based policy allows the kms:Decrypt")


def test_given_a_kms_key_policy_naming_the_role_when_evaluated_then_it_allows_without_iam() -> None:
    assert evaluate([], decrypt(ROLE), resource_policy({"AWS": ROLE_ARN}), kms_key_policy=True).allowed


def test_given_kms_key_policy_mode_without_a_key_policy_when_evaluated_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="key policy"):
        evaluate([IAM_ALLOWS], decrypt(ROLE), kms_key_policy=True)


def test_given_the_project_trust_policy_when_bedrock_assumes_the_role_then_only_this_accounts_jobs_may() -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                          "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-customization-job/*"}},
        }],
    }  # fmt: skip
    job = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:model-customization-job/amazon.nova-micro-v1:0/j1"

    def assume(principal: Principal, **context: str) -> bool:
        return evaluate_resource_policy(trust, Request("sts:AssumeRole", "*", context, principal)).allowed

    assert assume(BEDROCK, **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": job})
    assert not assume(BEDROCK, **{"aws:SourceAccount": "444455556666", "aws:SourceArn": job})
    assert not assume(BEDROCK, **{"aws:SourceAccount": ACCOUNT})  # no source ARN: the ArnLike fails
    assert not assume(ROLE, **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": job})


def test_given_a_principal_when_evaluated_then_aws_puts_its_global_keys_in_the_context() -> None:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalArn": ROLE_ARN}}}  # fmt: skip
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert evaluate([document], Request("s3:GetObject", "*", principal=ROLE)).allowed
    assert not evaluate([document], Request("s3:GetObject", "*", principal=OTHER)).allowed
    assert ROLE.display_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/StartJob/start-job"


@pytest.mark.parametrize(
    "kwargs",
    [{"arn": ROLE_ARN, "service": "bedrock.amazonaws.com"}, {"arn": "role/x"}, {"arn": ROOT, "session_name": "s"}],
)
def test_given_an_impossible_principal_when_built_then_it_is_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Principal(**kwargs)
