"""Choice rules: https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-choice-state.html"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.offline.sfn_world import World

BRANCHES = ("A", "B", "Other")


def choose(world: World, choices: list[dict[str, Any]], data: Any, *, default: bool = True) -> dict[str, Any]:
    """Run a Choice state over ``data``; the execution's description (its output names the branch taken)."""
    choice: dict[str, Any] = {"Type": "Choice", "Choices": choices}
    if default:
        choice["Default"] = "Other"
    states = {"Decide": choice, **{b: {"Type": "Pass", "Result": b, "End": True} for b in BRANCHES}}
    _, described = world.run({"StartAt": "Decide", "States": states}, data)
    return described


def branch(described: dict[str, Any]) -> str:
    assert described["status"] == "SUCCEEDED", described
    return str(described["output"]).strip('"')


def test_given_two_rules_that_both_match_when_chosen_then_the_first_listed_wins(world: World) -> None:
    # "Step Functions examines each of the Choice Rules in the order listed in the Choices field. Then it
    # transitions to the state specified in the Next field of the first Choice Rule in which the variable matches".
    rules = [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "B"},
             {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "A"}]  # fmt: skip

    assert branch(choose(world, rules, {"n": 50})) == "B"
    assert branch(choose(world, rules, {"n": 5})) == "A"
    assert branch(choose(world, rules, {"n": 0})) == "Other"


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"n": 5, "s": "go"}, "A"), ({"n": 5, "s": "stop"}, "B"), ({"n": 50, "s": "stop"}, "Other"),
     ({"n": 50, "s": "go"}, "Other")],
)
def test_given_and_or_not_when_combined_then_they_compose_as_boolean_logic(
    world: World, data: dict[str, Any], expected: str
) -> None:
    rules = [
        {"And": [{"Variable": "$.n", "NumericLessThan": 10}, {"Not": {"Variable": "$.s", "StringEquals": "stop"}}],
         "Next": "A"},
        {"Or": [{"Variable": "$.s", "StringEquals": "nothing"},
                {"And": [{"Variable": "$.s", "StringEquals": "stop"}, {"Variable": "$.n", "NumericEquals": 5}]}],
         "Next": "B"},
    ]  # fmt: skip

    assert branch(choose(world, rules, data)) == expected


@pytest.mark.parametrize(
    ("rule", "value"),
    [({"StringEquals": "5"}, 5), ({"NumericEquals": 1}, True), ({"NumericEquals": 5}, "5"),
     ({"BooleanEquals": True}, 1), ({"StringLessThan": "z"}, 3), ({"NumericGreaterThan": 0}, None)],
    ids=["string-vs-number", "numeric-vs-boolean", "numeric-vs-string", "boolean-vs-number", "string-order-vs-number",
         "numeric-vs-null"],
)
def test_given_a_comparison_of_the_wrong_type_when_evaluated_then_it_is_false_not_an_error(
    world: World, rule: dict[str, Any], value: Any
) -> None:
    # "Step Functions doesn't attempt to match a numeric field to a string value" (choice-state doc).
    described = choose(world, [{"Variable": "$.v", **rule, "Next": "A"}], {"v": value})

    assert branch(described) == "Other"


def test_given_is_present_when_the_field_is_missing_then_it_tests_without_failing(world: World) -> None:
    rules = [{"And": [{"Variable": "$.maybe", "IsPresent": True}, {"Variable": "$.maybe", "StringEquals": "x"}],
              "Next": "A"},
             {"Variable": "$.maybe", "IsPresent": False, "Next": "B"}]  # fmt: skip

    assert branch(choose(world, rules, {})) == "B"
    assert branch(choose(world, rules, {"maybe": "x"})) == "A"
    assert branch(choose(world, rules, {"maybe": None})) == "Other"  # present, and null


def test_given_a_variable_that_is_not_in_the_input_when_compared_then_the_execution_fails_with_states_runtime(
    world: World,
) -> None:
    # "If the state input doesn't contain the $.type field, the execution fails" -- even with a Default.
    described = choose(world, [{"Variable": "$.type", "StringEquals": "Buy", "Next": "A"}], {"other": 1})

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "$.type" in described["cause"]


def test_given_no_rule_matches_and_no_default_when_chosen_then_it_fails_with_no_choice_matched(world: World) -> None:
    described = choose(world, [{"Variable": "$.n", "NumericEquals": 1, "Next": "A"}], {"n": 2}, default=False)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.NoChoiceMatched"


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [("log-*.txt", "log-2024.txt", True), ("log-*.txt", "log-.txt", True), ("log-*.txt", "log-1.csv", False),
     ("a\\*b", "a*b", True), ("a\\*b", "axb", False), ("[x]?", "[x]?", True), ("[x]?", "x1", False),
     ("a?c", "abc", False), ("a.c", "abc", False)],
)
def test_given_string_matches_when_evaluated_then_only_star_is_a_wildcard(
    world: World, pattern: str, value: str, matches: bool
) -> None:
    # "No characters other than '*' have any special meaning during matching"; "\\*" is a literal star.
    described = choose(world, [{"Variable": "$.v", "StringMatches": pattern, "Next": "A"}], {"v": value})

    assert branch(described) == ("A" if matches else "Other")


def test_given_path_comparisons_and_timestamps_when_evaluated_then_values_are_compared_from_the_input(
    world: World,
) -> None:
    rules = [{"Variable": "$.now", "TimestampGreaterThanPath": "$.deadline", "Next": "A"},
             {"Variable": "$.count", "NumericEqualsPath": "$.limit", "Next": "B"}]  # fmt: skip

    assert branch(choose(world, rules, {"now": "2024-01-02T00:00:00Z", "deadline": "2024-01-01T23:59:59Z",
                                        "count": 1, "limit": 2})) == "A"  # fmt: skip
    assert branch(choose(world, rules, {"now": "2024-01-01T00:00:00Z", "deadline": "2024-01-01T23:59:59Z",
                                        "count": 2, "limit": 2})) == "B"  # fmt: skip
