"""Condition operators, one table per rule of the IAM docs' condition pages."""

from __future__ import annotations

from typing import Any

import pytest

from distill_cli.access import Request, evaluate

MISSING = object()


def holds(operator: str, key: str, values: Any, context_value: Any = MISSING) -> bool:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {key: values}}}
    context = {} if context_value is MISSING else {key: context_value}
    return evaluate(
        [{"Version": "2012-10-17", "Statement": [statement]}], Request("s3:GetObject", "*", context)
    ).allowed


@pytest.mark.parametrize(
    ("operator", "wanted", "value", "expected"),
    [
        ("StringEquals", "drop/", "drop/", True),
        ("StringEquals", "drop/", "Drop/", False),  # values are case-sensitive
        ("StringEquals", ["a", "b"], "b", True),  # several values: OR
        ("StringNotEquals", "a", "b", True),
        ("StringNotEquals", ["a", "b"], "b", False),  # negated, several values: NOR
        ("StringNotEquals", ["a", "b"], "c", True),
        ("StringEqualsIgnoreCase", "Drop/", "dROP/", True),
        ("StringNotEqualsIgnoreCase", "Drop/", "dROP/", False),
        ("StringLike", "drop/*", "drop/a/b.jsonl", True),
        ("StringLike", "drop/*", "jobs/x", False),
        ("StringLike", "run-?", "run-1", True),
        ("StringLike", "run-?", "run-10", False),
        ("StringLike", "a*", "A", False),
        ("StringNotLike", ["drop/*", "datasets/*"], "jobs/x", True),
        ("StringNotLike", ["drop/*", "datasets/*"], "datasets/x", False),
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "11", True),
        ("NumericGreaterThanEquals", "10", "9", False),
        ("NumericLessThan", "10", "many", False),  # a request value that is no number matches nothing
        ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", "1767225601", True),  # epoch seconds
        ("DateEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", True),
        ("DateNotEquals", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", True),
        ("DateLessThanEquals", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", True),
        ("DateGreaterThanEquals", "2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z", False),
        ("Bool", "true", "true", True),
        ("Bool", True, "true", True),  # JSON booleans in the policy
        ("Bool", "false", "true", False),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJz", False),
        ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
        ("IpAddress", "203.0.113.0/24", "198.51.100.1", False),
        ("NotIpAddress", "203.0.113.0/24", "198.51.100.1", True),
        ("ArnEquals", "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/*",
         "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/a:b/c", True),
        ("ArnLike", "arn:aws:bedrock:*:111122223333:*", "arn:aws:bedrock:us-west-2:111122223333:x/y", True),
        ("ArnLike", "arn:aws:bedrock:*:111122223333:*", "arn:aws:bedrock:us-west-2:444455556666:x/y", False),
        ("ArnLike", "arn:aws:*", "arn:aws:s3:::data", False),  # each of the six components on its own
        ("ArnLike", "arn:aws:s3:::*", "not-an-arn", False),
        ("ArnNotLike", "arn:aws:s3:::data*", "arn:aws:s3:::logs", True),
        ("ArnNotEquals", "arn:aws:s3:::data", "arn:aws:s3:::data", False),
    ],
)  # fmt: skip
def test_given_an_operator_when_the_key_is_present_then_it_compares_as_documented(
    operator: str, wanted: Any, value: str, expected: bool
) -> None:
    assert holds(operator, "test:key", wanted, value) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),  # a missing key makes a positive operator false
        ("StringLike", False),
        ("NumericLessThan", False),
        ("ArnLike", False),
        ("Bool", False),
        ("StringNotEquals", True),  # ... and a negated one true
        ("StringNotLike", True),
        ("StringNotEqualsIgnoreCase", True),
        ("ArnNotLike", True),
        ("ArnNotEquals", True),
        ("NumericNotEquals", True),
        ("DateNotEquals", True),
        ("NotIpAddress", True),
        ("StringEqualsIfExists", True),  # IfExists: absent means true
        ("ArnLikeIfExists", True),
        ("BoolIfExists", True),
        ("ForAllValues:StringEquals", True),  # the empty set
        ("ForAllValues:StringNotLike", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAnyValue:StringNotEquals", False),
        ("ForAnyValue:StringEqualsIfExists", False),  # IfExists applies inside the set
    ],
)
def test_given_a_missing_key_when_an_operator_tests_it_then_the_documented_default_applies(
    operator: str, expected: bool
) -> None:
    wanted = "2026-01-01T00:00:00Z" if operator.startswith("Date") else "10" if "Numeric" in operator else "x"
    wanted = "10.0.0.0/8" if "Ip" in operator else "true" if "Bool" in operator else wanted
    wanted = "arn:aws:s3:::x" if "Arn" in operator else wanted
    assert holds(operator, "test:key", wanted) is expected


def test_given_an_if_exists_operator_when_the_key_is_present_then_it_compares_normally() -> None:
    assert holds("StringEqualsIfExists", "test:key", "a", "a")
    assert not holds("StringEqualsIfExists", "test:key", "a", "b")


@pytest.mark.parametrize(
    ("wanted", "value", "expected"),
    [("true", MISSING, True), ("true", "x", False), ("false", "x", True), ("false", MISSING, False),
     ("false", [], False), ("true", [], True)],  # an empty set is no value
)  # fmt: skip
def test_given_null_when_evaluated_then_it_tests_whether_the_key_is_absent(
    wanted: str, value: Any, expected: bool
) -> None:
    assert holds("Null", "test:key", wanted, value) is expected


@pytest.mark.parametrize(
    ("operator", "wanted", "values", "expected"),
    [
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
        ("ForAllValues:StringLike", ["created-*"], ["created-by", "created-at"], True),
        ("ForAllValues:StringNotLike", ["key1*"], ["key2:audit"], True),  # the docs' table
        ("ForAllValues:StringNotLike", ["key1*"], ["key1:legal"], False),
        ("ForAllValues:StringNotLike", ["key1*"], ["key1:hr", "key2:x"], False),
        ("ForAnyValue:StringEquals", ["a"], ["b", "a"], True),
        ("ForAnyValue:StringEquals", ["a"], ["b", "c"], False),
        ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "c"], True),
        ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
        ("ForAllValues:StringEquals", ["a"], "a", True),  # a single value is a set of one
        ("StringEquals", ["a"], ["a"], True),  # so is a list of one
        ("StringEquals", ["a", "b"], ["a", "b"], False),  # a multivalued key needs a set operator
        ("StringNotEquals", ["c"], ["a", "b"], False),
    ],
)
def test_given_a_multivalued_key_when_a_set_operator_tests_it_then_it_follows_the_set_rules(
    operator: str, wanted: list[str], values: Any, expected: bool
) -> None:
    assert holds(operator, "aws:TagKeys", wanted, values) is expected


def test_given_keys_in_other_case_when_evaluated_then_condition_keys_match_case_insensitively() -> None:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*",
                 "Condition": {"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "ml"}}}  # fmt: skip
    request = Request("s3:GetObject", "*", {"aws:PrincipalTag/team": "ml"})
    assert evaluate([{"Version": "2012-10-17", "Statement": [statement]}], request).allowed


def test_given_several_keys_and_operators_when_evaluated_then_all_must_hold() -> None:
    statement = {
        "Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1", "aws:PrincipalAccount": "111122223333"},
                      "Bool": {"aws:SecureTransport": "true"}},
    }  # fmt: skip
    context = {
        "aws:RequestedRegion": "us-east-1",
        "aws:PrincipalAccount": "111122223333",
        "aws:SecureTransport": "true",
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert evaluate([document], Request("s3:GetObject", "*", context)).allowed
    for key in context:
        partial = {k: v for k, v in context.items() if k != key}
        assert not evaluate([document], Request("s3:GetObject", "*", partial)).allowed, key


def test_given_a_variable_in_a_condition_value_when_evaluated_then_it_is_replaced() -> None:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*",
                 "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}}  # fmt: skip
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert evaluate(
        [document], Request("s3:ListBucket", "*", {"s3:prefix": "home/bob/x", "aws:username": "bob"})
    ).allowed
    assert not evaluate(
        [document], Request("s3:ListBucket", "*", {"s3:prefix": "home/eve/x", "aws:username": "bob"})
    ).allowed
