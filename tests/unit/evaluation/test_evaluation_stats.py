"""The numbers: means, ratios, wins, a seeded percentile bootstrap, nearest-rank latency percentiles."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distill.evaluation.stats import (
    SEED,
    latency,
    metric_stats,
    nearest_rank,
    percentile_interval,
)
from tests.unit.evaluation.evaluation_helpers import scored, unscored

ONE = ("correctness",)
STUDENT = [5, 4, 3, 5, 2, 4, 4, 3, 5, 1]
TEACHER = [5, 5, 4, 4, 3, 5, 4, 4, 5, 3]


def results(student: list[int], teacher: list[int]):
    return [scored(i, s, t, metrics=ONE) for i, (s, t) in enumerate(zip(student, teacher, strict=True))]


def test_given_known_scores_when_summarized_then_means_ratio_and_outcomes_are_the_hand_computed_ones() -> None:
    m = metric_stats(results(STUDENT, TEACHER), ONE)[0]
    assert (m.scored, m.student_sum, m.teacher_sum) == (10, 36, 42)
    assert m.student_mean == pytest.approx(3.6) and m.teacher_mean == pytest.approx(4.2)
    assert m.ratio == pytest.approx(36 / 42)  # 0.857: the ratio of the means, not the mean of the ratios
    assert (m.wins, m.ties, m.losses) == (1, 3, 6)
    assert m.student_histogram == (1, 1, 2, 3, 3) and m.teacher_histogram == (0, 0, 2, 4, 4)


def test_given_a_fixed_seed_when_bootstrapped_then_the_interval_is_the_known_one() -> None:
    m = metric_stats(results(STUDENT, TEACHER), ONE)[0]
    # 2,000 resamples with seed SEED: the 51st smallest and the 51st largest resampled ratio.
    assert (m.ci_low, m.ci_high) == (27 / 37, 43 / 44)
    # The same procedure written out independently.
    rng = random.Random(SEED)
    ratios = []
    for _ in range(2000):
        picks = rng.choices(range(10), k=10)
        ratios.append(sum(STUDENT[i] for i in picks) / sum(TEACHER[i] for i in picks))
    ratios.sort()
    assert (ratios[50], ratios[1949]) == (m.ci_low, m.ci_high)


def test_given_results_in_another_order_when_summarized_then_the_numbers_are_the_same() -> None:
    ordered = results(STUDENT, TEACHER)
    assert metric_stats(ordered[::-1], ONE) == metric_stats(ordered, ONE)


def test_given_2000_estimates_when_the_95_percent_interval_is_taken_then_50_are_cut_at_each_end() -> None:
    assert percentile_interval([float(v) for v in range(2000)]) == (50.0, 1949.0)
    assert percentile_interval([3.0]) == (3.0, 3.0)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 95, 50),
        ([15, 20, 35, 40, 50], 100, 50),
        (list(range(1, 101)), 95, 95),
        (list(range(100, 0, -1)), 50, 50),
        ([7], 95, 7),
    ],
)
def test_given_values_when_a_nearest_rank_percentile_is_taken_then_it_is_the_value_at_rank_ceil(
    values, percent, expected
):
    assert nearest_rank(values, percent) == expected


def test_given_calls_when_latency_is_summarized_then_failed_and_unmeasured_calls_are_left_out() -> None:
    rows = [scored(i, 4, 4, metrics=ONE, latency=(100 * (i + 1), 1000 * (i + 1))) for i in range(20)]
    rows.append(unscored(20))  # answered, judged badly: its latencies still count
    lat = latency(rows)
    assert (lat.student_p50, lat.student_p95, lat.student_calls) == (1000, 1900, 21)
    assert (lat.teacher_p50, lat.teacher_p95) == (10_000, 19_000)
    assert latency([]).student_p50 is None


def test_given_only_unscored_prompts_when_summarized_then_no_metric_has_data() -> None:
    m = metric_stats([unscored(0), unscored(1)], ONE)[0]
    assert (m.scored, m.wins, m.ties, m.losses, m.ratio) == (0, 0, 0, 0, 0.0)


SCORE = st.integers(1, 5)
PAIRS = st.lists(st.tuples(SCORE, SCORE), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(scores=st.lists(SCORE, min_size=1, max_size=40))
def test_given_identical_scores_when_summarized_then_the_ratio_and_its_interval_are_exactly_one(scores) -> None:
    m = metric_stats(results(scores, scores), ONE, resamples=200)[0]
    assert m.ratio == 1.0 and (m.ci_low, m.ci_high) == (1.0, 1.0)
    assert m.wins == m.losses == 0 and m.ties == len(scores)


@settings(max_examples=150, deadline=None)
@given(pairs=PAIRS, seed=st.integers(0, 2**32 - 1))
def test_given_any_scores_when_bootstrapped_then_the_interval_contains_the_point_estimate(pairs, seed) -> None:
    student, teacher = [p[0] for p in pairs], [p[1] for p in pairs]
    m = metric_stats(results(student, teacher), ONE, resamples=400, seed=seed)[0]
    assert m.ci_low <= m.ratio <= m.ci_high


@settings(max_examples=150, deadline=None)
@given(pairs=PAIRS, at=st.integers(0, 39), data=st.data())
def test_given_any_scores_when_the_student_wins_a_prompt_it_did_not_then_its_mean_never_drops(pairs, at, data) -> None:
    at %= len(pairs)
    student, teacher = [p[0] for p in pairs], [p[1] for p in pairs]
    if student[at] > teacher[at] or teacher[at] == 5:
        return  # already a win, or cannot be won
    before = metric_stats(results(student, teacher), ONE, resamples=10)[0]
    student[at] = data.draw(st.integers(teacher[at] + 1, 5))  # raise the student's score to a win
    after = metric_stats(results(student, teacher), ONE, resamples=10)[0]
    assert after.student_mean >= before.student_mean and after.ratio >= before.ratio
    assert after.wins == before.wins + 1 and after.losses <= before.losses
