"""Properties of the evaluator over generated statements and requests."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from distill_cli.access import Request, evaluate

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "bedrock:InvokeModel", "kms:Decrypt"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "*", "s3:Get*", "bedrock:?nvokeModel", "KMS:decrypt"]
RESOURCES = ["arn:aws:s3:::data", "arn:aws:s3:::data/drop/a", "arn:aws:s3:::data/jobs/b",
             "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/p1", "*"]  # fmt: skip
RESOURCE_PATTERNS = [*RESOURCES, "arn:aws:s3:::data/*", "arn:aws:s3:::*", "arn:aws:bedrock:*:*:provisioned-model/*"]
CONDITIONS = [
    None,
    {"StringLike": {"s3:prefix": "drop/*"}},
    {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
    {"Null": {"aws:TagKeys": "true"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["created-by"]}},
    {"BoolIfExists": {"aws:SecureTransport": "true"}},
]
CONTEXTS = st.fixed_dictionaries(
    {},
    optional={
        "s3:prefix": st.sampled_from(["drop/", "jobs/", ""]),
        "aws:RequestedRegion": st.sampled_from(["us-east-1", "eu-west-1"]),
        "aws:TagKeys": st.lists(st.sampled_from(["created-by", "team"]), max_size=2),
        "aws:SecureTransport": st.sampled_from(["true", "false"]),
    },
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": effect or draw(st.sampled_from(["Allow", "Deny"])),
        draw(st.sampled_from(["Action", "NotAction"])): draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1,
                                                                      max_size=2)),
        draw(st.sampled_from(["Resource", "NotResource"])): draw(st.sampled_from(RESOURCE_PATTERNS)),
    }  # fmt: skip
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        statement["Condition"] = condition
    return statement


requests = st.builds(Request, st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), CONTEXTS)


def document(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": items}


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=4), statements(effect="Deny"), requests)
def test_given_any_policy_when_a_deny_statement_is_added_then_a_denied_request_never_becomes_allowed(
    existing: list[dict[str, Any]], extra_deny: dict[str, Any], request: Request
) -> None:
    before = evaluate([document(existing)], request)
    after = evaluate([document([*existing, extra_deny])], request)
    if not before.allowed:
        assert not after.allowed
    if before.explicit_deny:
        assert after.explicit_deny


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(effect="Deny"), max_size=3), requests)
def test_given_allow_everything_when_nothing_denies_then_any_request_is_allowed(
    denies: list[dict[str, Any]], request: Request
) -> None:
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    decision = evaluate([document([everything, *denies])], request)
    denied = bool(denies) and evaluate([document(denies)], request).explicit_deny
    assert (decision.allowed, decision.explicit_deny) == (not denied, denied)


@settings(max_examples=200, deadline=None)
@given(st.lists(statements(), min_size=1, max_size=4), requests)
def test_given_statements_when_split_across_policies_then_the_decision_is_the_same(
    items: list[dict[str, Any]], request: Request
) -> None:
    together = evaluate([document(items)], request)
    apart = evaluate([document([item]) for item in items], request)
    assert (together.allowed, together.explicit_deny) == (apart.allowed, apart.explicit_deny)
