"""The gate and the verdict, and what 1,000 requests cost."""

from __future__ import annotations

import json
import re

import pytest

from distill.evaluation import costs
from distill.evaluation.calls import Call
from distill.evaluation.config import ModelPrice
from distill.evaluation.verdict import BELOW_TEACHER, INCONCLUSIVE, decide, summarize, to_dict
from tests.unit.evaluation.evaluation_helpers import MODELS, NAMES, gate, scored, unscored

NOVA_PRO = ModelPrice(input_per_1k_tokens=0.0008, output_per_1k_tokens=0.0032)
NOVA_MICRO = ModelPrice(input_per_1k_tokens=0.000035, output_per_1k_tokens=0.00014)


def ten(student: list[int], teacher: int = 5, extra: list | None = None):
    rows = [scored(i, s, teacher) for i, s in enumerate(student)]
    return rows + (extra or [])


def verdict_of(rows, **gate_changes):
    g = gate(**gate_changes)
    evaluation = summarize(rows, NAMES, MODELS, {})
    return evaluation, decide(evaluation, g), g


def test_given_a_student_close_to_the_teacher_when_gated_then_it_passes() -> None:
    _, verdict, _ = verdict_of(ten([5, 5, 5, 5, 4, 5, 5, 5, 5, 4]))  # 48 / 50 = 0.96
    assert verdict.passed and verdict.error == ""
    assert verdict.cause.startswith("every gated metric's share of the teacher's score reaches 0.9: correctness 0.96")


def test_given_a_weak_student_when_gated_then_it_fails_with_the_numbers_in_the_cause() -> None:
    _, verdict, _ = verdict_of(ten([4, 3, 4, 3, 4, 3, 4, 3, 4, 3]))  # 35 / 50 = 0.70
    assert not verdict.passed and verdict.error == BELOW_TEACHER
    assert verdict.failing == NAMES
    assert re.match(
        r"StudentBelowTeacher: correctness 0\.70 of the teacher \(CI 0\.\d\d-0\.\d\d\) < 0\.9; ", str(verdict)
    )
    assert str(verdict).endswith("(10 scored prompts)")


def test_given_a_student_exactly_at_the_threshold_when_gated_then_it_passes_and_one_point_less_fails() -> None:
    assert verdict_of(ten([5, 5, 5, 5, 5, 4, 4, 4, 4, 4]))[1].passed  # 45 / 50 = 0.9 exactly
    below = verdict_of(ten([5, 5, 5, 5, 4, 4, 4, 4, 4, 4]))[1]  # 44 / 50 = 0.88
    assert not below.passed and "correctness 0.88 of the teacher" in below.cause
    # 0.7 = 7/10 exactly at a threshold whose float is not 0.7 exactly
    assert verdict_of(ten([4, 3, 4, 3, 4, 3, 4, 3, 4, 3]), min_quality_ratio=0.7)[1].passed


def test_given_a_ratio_just_below_the_threshold_when_failed_then_the_cause_does_not_round_it_up() -> None:
    rows = [scored(i, 5, 5) for i in range(899)] + [scored(899 + i, 4, 5) for i in range(101)]  # 4899/5000
    cause = verdict_of(rows, min_quality_ratio=0.98)[1].cause
    assert re.match(r"correctness 0\.9798 of the teacher \(CI 0\.\d{4}-0\.\d{4}\) < 0\.98; ", cause), cause


def test_given_the_gate_on_the_ci_lower_bound_when_few_prompts_then_a_point_pass_becomes_a_fail() -> None:
    rows = ten([5, 5, 5, 5, 4, 4, 5, 5, 4, 3])  # 45 / 50: passes on the estimate
    assert verdict_of(rows)[1].passed
    _, strict, _ = verdict_of(rows, on="ciLower")
    assert not strict.passed and strict.error == BELOW_TEACHER
    assert re.search(
        r"correctness CI lower bound 0\.\d+ < 0\.9 \(0\.90 of the teacher, CI 0\.\d\d-\d\.\d\d\)", strict.cause
    )


def test_given_an_ungated_metric_below_the_bar_when_gated_then_only_the_gated_metrics_count() -> None:
    rows = [scored(i, {"correctness": 5, "completeness": 2, "following_instructions": 5}, 5) for i in range(10)]
    _, verdict, _ = verdict_of(rows, metrics=("correctness", "following_instructions"))
    assert verdict.passed
    assert not verdict_of(rows)[1].passed


def test_given_only_unscored_prompts_when_gated_then_it_fails_as_inconclusive_and_says_why() -> None:
    rows = [unscored(i) for i in range(18)] + [
        unscored(18 + i, "student call failed: ModelTimeoutException") for i in range(2)
    ]
    _, verdict, _ = verdict_of(rows)
    assert not verdict.passed and verdict.error == INCONCLUSIVE
    assert verdict.cause == "no prompt could be scored: 20 unscored (judge reply malformed: 18, student call failed: 2)"


def test_given_fewer_than_half_scored_when_gated_then_it_fails_as_inconclusive_even_if_the_scored_are_perfect() -> None:
    _, verdict, _ = verdict_of(ten([5, 5, 5, 5], extra=[unscored(10 + i) for i in range(6)]))
    assert verdict.error == INCONCLUSIVE and "only 4 of 10 prompts could be scored" in verdict.cause


def test_given_no_prompts_when_gated_then_it_fails_as_inconclusive() -> None:
    assert verdict_of([])[1].error == INCONCLUSIVE


def test_given_unscored_prompts_when_gated_then_they_count_for_nobody() -> None:
    good = ten([5, 5, 5, 5, 4, 5, 5, 5, 5, 4])
    with_bad = good + [unscored(10 + i) for i in range(3)]
    a, b = verdict_of(good)[0], verdict_of(with_bad)[0]
    assert a.metrics == b.metrics and b.unscored == {"judge reply malformed": 3}
    assert verdict_of(with_bad)[1].cause.endswith("(10 scored prompts, 3 unscored)")


def test_given_the_most_metrics_when_the_verdict_is_serialized_then_it_is_json_and_well_under_8_kib() -> None:
    custom = tuple(f"custom_metric_with_a_long_name_number_{i}" for i in range(8))
    metrics = NAMES + custom
    rows = [scored(i, 3, 5, metrics=metrics) for i in range(400)]
    rows += [
        unscored(400 + i, f"judge reply malformed ({k}): x") for i, k in enumerate(["not-json", "wrong-type"] * 20)
    ]
    rows += [unscored(500, "teacher call failed: ValidationException: " + "x" * 2000)]
    g = gate(metrics=metrics)
    evaluation = summarize(rows, metrics, MODELS, {"amazon.nova-pro-v1:0": NOVA_PRO}, resamples=200)
    verdict = decide(evaluation, g)
    data = json.dumps(to_dict(evaluation, verdict, g))
    assert len(data.encode()) < 4096, len(data)
    assert json.loads(data)["metrics"]["correctness"]["failing"] is True


def test_given_prices_when_costed_then_1000_requests_cost_mean_tokens_times_the_price_per_1k() -> None:
    measured = costs.usage([Call(input_tokens=900, output_tokens=400), Call(input_tokens=1100, output_tokens=600)])
    assert (measured.mean_input, measured.mean_output) == (1000, 500)
    assert costs.per_1k_requests(measured, NOVA_PRO) == pytest.approx(1000 * 0.0008 + 500 * 0.0032)  # $2.40
    assert costs.total(measured, NOVA_PRO) == pytest.approx((2000 * 0.0008 + 1000 * 0.0032) / 1000)


def test_given_no_price_or_no_token_counts_when_costed_then_the_cost_is_unknown_never_zero() -> None:
    measured = costs.usage([Call(input_tokens=10, output_tokens=10)])
    assert costs.per_1k_requests(measured, None) == "unknown" and costs.total(measured, None) == "unknown"
    assert costs.per_1k_requests(costs.usage([Call(latency_ms=5)]), NOVA_PRO) == "unknown"
    free = ModelPrice(input_per_1k_tokens=0, output_per_1k_tokens=0)
    assert costs.per_1k_requests(measured, free) == 0.0  # priced as free is not unknown


@pytest.mark.parametrize(
    ("model", "found"),
    [
        ("amazon.nova-micro-v1:0:128k", NOVA_MICRO),
        ("us.amazon.nova-pro-v1:0", NOVA_PRO),
        ("amazon.nova-pro-v1:0", NOVA_PRO),
        ("arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc", None),
    ],
)
def test_given_a_model_id_when_its_price_is_looked_up_then_profile_and_context_variants_match(model, found) -> None:
    prices = {"amazon.nova-pro-v1:0": NOVA_PRO, "amazon.nova-micro-v1:0": NOVA_MICRO}
    assert costs.find_price(prices, model) == found


def test_given_prices_for_some_models_when_summarized_then_known_costs_are_numbers_and_the_total_unknown() -> None:
    rows = ten([5] * 10)
    evaluation = summarize(rows, NAMES, MODELS, {"amazon.nova-pro-v1:0": NOVA_PRO})
    assert evaluation.per_1k_requests["student"] == "unknown"
    assert evaluation.per_1k_requests["teacher"] == pytest.approx(100 * 0.0008 + 200 * 0.0032)
    assert evaluation.spent["judge"] == pytest.approx(10 * (1500 * 0.0008 + 150 * 0.0032) / 1000)
    assert evaluation.spent["total"] == "unknown"
    priced = summarize(rows, NAMES, MODELS, {"amazon.nova-pro-v1:0": NOVA_PRO, "amazon.nova-micro-v1:0": NOVA_MICRO})
    assert isinstance(priced.spent["total"], float) and priced.spent["total"] > 0
