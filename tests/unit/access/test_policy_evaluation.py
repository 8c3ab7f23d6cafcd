"""Effect, explicit deny, Action/NotAction, Resource/NotResource and policy structure, rule by rule."""

from __future__ import annotations

from typing import Any

import pytest

from distill_cli.access import Request, evaluate

BUCKET = "arn:aws:s3:::data"


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = f"{BUCKET}/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = f"{BUCKET}/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(statements: list[dict[str, Any]], action: str, resource: str, **context: Any) -> bool:
    return evaluate([policy(*statements)], Request(action, resource, context)).allowed


def test_given_no_policy_when_evaluated_then_the_request_is_implicitly_denied() -> None:
    decision = evaluate([], Request("s3:ListBucket", BUCKET))
    assert (decision.allowed, decision.explicit_deny) == (False, False)
    assert decision.reason == f"no identity-based policy allows the s3:ListBucket action on {BUCKET}"


def test_given_a_deny_and_an_allow_when_evaluated_then_the_deny_wins() -> None:
    statements = [allow(Sid="Read"), deny(Sid="NoSecrets", resource=f"{BUCKET}/secret/*")]
    decision = evaluate([policy(*statements)], Request("s3:GetObject", f"{BUCKET}/secret/key"))
    assert (decision.allowed, decision.explicit_deny, decision.matched) == (False, True, ("NoSecrets",))
    assert decision.reason == "explicitly denied by statement NoSecrets in an identity-based policy"


def test_given_an_allow_in_one_policy_and_a_deny_in_another_when_evaluated_then_the_deny_wins() -> None:
    decision = evaluate([policy(allow()), policy(deny())], Request("s3:GetObject", f"{BUCKET}/k"))
    assert decision.explicit_deny and decision.matched == ("identity[1].Statement[0]",)


def test_given_an_allow_when_evaluated_then_the_decision_names_the_statement() -> None:
    decision = evaluate([policy(allow(Sid="Read"))], Request("s3:GetObject", f"{BUCKET}/k"))
    assert (decision.allowed, decision.matched, decision.reason) == (True, ("Read",), "allowed by statement Read")


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:getobject", "S3:GETOBJECT", True),  # action names are case-insensitive
        ("s3:Get*", "s3:GetObjectVersion", True),
        ("s3:*Object", "s3:PutObject", True),
        ("s3:?etObject", "s3:GetObject", True),
        ("s3:?etObject", "s3:GGetObject", False),
        ("*", "bedrock:InvokeModel", True),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:GetObject", "s3:GetObjectVersion", False),  # no implicit prefix match
        (["s3:PutObject", "s3:GetObject"], "s3:GetObject", True),
    ],
)
def test_given_an_action_pattern_when_matched_then_it_follows_the_wildcard_rules(
    pattern: Any, action: str, expected: bool
) -> None:
    assert allowed([allow(pattern, "*")], action, BUCKET) is expected


def test_given_not_action_when_evaluated_then_every_other_action_matches() -> None:
    statements = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/k")
    assert not allowed(statements, "IAM:PassRole", "arn:aws:iam::111122223333:role/R")


def test_given_a_deny_with_not_action_when_evaluated_then_only_the_listed_actions_escape_it() -> None:
    statements = [allow("*", "*"), {"Effect": "Deny", "NotAction": ["s3:GetObject"], "Resource": "*"}]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/k")
    assert not allowed(statements, "s3:PutObject", f"{BUCKET}/k")


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (f"{BUCKET}/*", f"{BUCKET}/a/b/c.json", True),  # "*" spans "/"
        (f"{BUCKET}/datasets/*", f"{BUCKET}/drop/x", False),
        (f"{BUCKET}/*", BUCKET, False),  # the bucket is not one of its objects
        ("arn:aws:s3:::DATA/*", f"{BUCKET}/k", False),  # ARNs are case-sensitive
        (f"{BUCKET}/report-?.json", f"{BUCKET}/report-1.json", True),
        (f"{BUCKET}/report-?.json", f"{BUCKET}/report-10.json", False),
        ("*", "arn:aws:anything:us-east-1:1:x", True),
        # A "*" ending a segment may expand beyond colons...
        ("arn:aws:bedrock:us-east-1:111122223333:custom-model/*",
         "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.nova-micro-v1:0:128k/abc", True),
        ("arn:aws:bedrock:*::foundation-model/amazon.nova-*",
         "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0", True),
        ("arn:aws:sqs:*", "arn:aws:sqs:us-east-1:111122223333:q", True),
        # ...one inside a segment does not.
        ("arn:aws:states:us-east-1:111122223333:execution:*-run:x",
         "arn:aws:states:us-east-1:111122223333:execution:SM:a-run:x", False),
        ("arn:aws:states:us-east-1:111122223333:execution:*-run:x",
         "arn:aws:states:us-east-1:111122223333:execution:a-run:x", True),
        ("arn:aws:bedrock:us-east-1:111122223333:custom-model/a?b",
         "arn:aws:bedrock:us-east-1:111122223333:custom-model/a:b", False),  # "?" does not match a colon
        ("arn:aws:s3:::data/*", "*", False),  # a resource-less action matches only Resource "*"
    ],
)  # fmt: skip
def test_given_a_resource_pattern_when_matched_then_it_follows_the_arn_wildcard_rules(
    pattern: str, resource: str, expected: bool
) -> None:
    assert allowed([allow("s3:GetObject", pattern)], "s3:GetObject", resource) is expected


def test_given_not_resource_when_evaluated_then_every_other_resource_matches() -> None:
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/secret/*"}]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/public/k")
    assert not allowed(statements, "s3:GetObject", f"{BUCKET}/secret/k")


def test_given_a_policy_variable_when_evaluated_then_it_is_replaced_from_the_context() -> None:
    statements = [allow("s3:GetObject", BUCKET + "/home/${aws:PrincipalTag/team}/*")]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/home/ml/x", **{"aws:principaltag/team": "ml"})
    assert not allowed(statements, "s3:GetObject", f"{BUCKET}/home/ops/x", **{"aws:PrincipalTag/team": "ml"})
    assert not allowed(statements, "s3:GetObject", f"{BUCKET}/home/ml/x")  # no value: the pattern matches nothing


def test_given_special_variables_when_evaluated_then_they_are_literal_characters() -> None:
    statements = [allow("s3:GetObject", BUCKET + "/star${*}")]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/star*")
    assert not allowed(statements, "s3:GetObject", f"{BUCKET}/starlet")


def test_given_a_variable_with_a_default_when_the_key_is_missing_then_the_default_is_used() -> None:
    statements = [allow("s3:GetObject", BUCKET + "/${aws:PrincipalTag/team, 'shared'}/*")]
    assert allowed(statements, "s3:GetObject", f"{BUCKET}/shared/x")


def test_given_a_2008_policy_when_it_has_variables_then_they_are_plain_text() -> None:
    statements = [allow("s3:GetObject", BUCKET + "/${aws:username}")]
    request = Request("s3:GetObject", BUCKET + "/${aws:username}", {"aws:username": "bob"})
    assert evaluate([policy(*statements, version="2008-10-17")], request).allowed
    assert not evaluate([policy(*statements)], request).allowed


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Statement": [allow(Effect="allow")]}, "Effect must be"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action / NotAction"),
        ({"Statement": [allow(NotAction="s3:PutObject")]}, "exactly one of Action / NotAction"),
        ({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}, "exactly one of Resource / NotResource"),
        ({"Statement": [allow(Principal="*")]}, "identity-based policies cannot name a Principal"),
        ({"Statement": [allow(Actions="s3:GetObject")]}, "unknown statement element"),
        ({"Statement": [allow("GetObject")]}, "is not an action"),
        ({"Statement": [allow([])]}, "non-empty"),
        ({"Statement": []}, "Statement must be"),
        ({"Version": "2012-10-18", "Statement": [allow()]}, "unknown policy Version"),
        ({"Statement": [allow(Condition={"StringEqualz": {"aws:username": "bob"}})]}, "StringEqualz"),
        ({"Statement": [allow(Condition={"ForSomeValues:StringEquals": {"k": "v"}})]}, "ForSomeValues"),
        ({"Statement": [allow(Condition={"NullIfExists": {"k": "true"}})]}, "NullIfExists"),
        ({"Statement": [allow(Condition={"Bool": {"aws:SecureTransport": "yes"}})]}, "true"),
        ({"Statement": [allow(Condition={"NumericLessThan": {"s3:max-keys": "ten"}})]}, "not a number"),
        ({"Statement": [allow(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})]}, "ISO 8601"),
        ({"Statement": [allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}})]}, "CIDR"),
        ({"Statement": [allow(Condition={"StringEquals": {"k": {"nested": 1}}})]}, "condition values"),
    ],
)
def test_given_a_malformed_policy_when_evaluated_then_a_value_error_names_the_problem(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate([document], Request("s3:GetObject", f"{BUCKET}/k"))


def test_given_a_malformed_statement_that_does_not_apply_when_evaluated_then_it_is_still_refused() -> None:
    # A policy AWS would reject never takes part, even when its bad statement is about another action.
    document = policy(allow(), {"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"Nope": {}}})
    with pytest.raises(ValueError, match="Nope"):
        evaluate([document], Request("s3:GetObject", f"{BUCKET}/k"))


def test_given_a_policy_changed_in_place_after_a_decision_when_evaluated_again_then_the_change_counts() -> None:
    # The evaluator keeps each policy's checked statements between calls; the strictness tests and the fake IAM
    # edit policies in place, so a kept parse must never outlive the policy it came from.
    document = policy(allow(Sid="Read"))
    request = Request("s3:GetObject", f"{BUCKET}/key")
    assert evaluate([document], request).allowed
    document["Statement"][0]["Effect"] = "Deny"
    assert evaluate([document], request).explicit_deny
    document["Statement"].clear()
    with pytest.raises(ValueError, match="Statement must be a statement or a non-empty list"):
        evaluate([document], request)


def test_given_a_malformed_policy_when_evaluated_twice_then_both_calls_raise() -> None:
    document = policy(allow(action="GetObject"))
    for _ in range(2):
        with pytest.raises(ValueError, match="is not an action"):
            evaluate([document], Request("s3:GetObject", f"{BUCKET}/key"))
