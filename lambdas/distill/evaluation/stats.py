"""The numbers of an evaluation, over the scored prompts only (an unscored prompt counts for nobody).

Per metric: the student's and the teacher's mean score, the student's share of the teacher's score (the ratio of
the means, ``sum(student) / sum(teacher)``), wins, ties and losses of the student per prompt, and a 95%
confidence interval of the ratio by the **percentile bootstrap**: the scored prompts are resampled with
replacement (pairs kept together, one resample shared by all metrics) ``resamples`` times (2,000) with Python's
Mersenne Twister seeded with ``seed``; the ratio of each resample is computed and the interval runs from the
51st smallest to the 51st largest of the 2,000 (for ``confidence`` c: ``round((1 - c) / 2 * resamples)`` values
cut off each side). The same results and seed always give the same interval.

Latency percentiles use the **nearest-rank** method: the p-th percentile of n sorted values is the value at
rank ``ceil(p / 100 * n)`` (1-based), always one of the measured latencies. They cover every prompt whose call
succeeded and reported its latency, scored or not.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from distill.evaluation.results import PromptResult

RESAMPLES = 2000
SEED = 20251112
CONFIDENCE = 0.95


@dataclass(frozen=True)
class MetricStats:
    name: str
    scored: int
    student_sum: int
    teacher_sum: int
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int
    student_histogram: tuple[int, int, int, int, int]  # prompts scored 1..5
    teacher_histogram: tuple[int, int, int, int, int]

    @property
    def student_mean(self) -> float:
        return self.student_sum / self.scored if self.scored else 0.0

    @property
    def teacher_mean(self) -> float:
        return self.teacher_sum / self.scored if self.scored else 0.0

    @property
    def ratio(self) -> float:
        return self.student_sum / self.teacher_sum if self.teacher_sum else 0.0


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile (1-100) by the nearest-rank method; None without values."""
    if not 1 <= percent <= 100:
        raise ValueError("percent must be from 1 to 100")
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil(percent / 100 * n) in integers
    return ordered[rank - 1]


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> tuple[tuple[int, ...], ...]:
    """The bootstrap resamples of ``n`` items: ``resamples`` tuples of ``n`` indices drawn with replacement (drawn
    once per evaluation by metric_stats, which every metric shares)."""
    rng = random.Random(seed)
    population = range(n)
    return tuple(tuple(rng.choices(population, k=n)) for _ in range(resamples))


def percentile_interval(estimates: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The percentile-bootstrap interval of ``estimates``: ``cut = round((1 - confidence) / 2 * len)`` values
    are dropped at each end (50 of 2,000 for 95%)."""
    if not estimates:
        raise ValueError("no estimates")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    ordered = sorted(estimates)
    cut = min(round((1.0 - confidence) / 2.0 * len(ordered)), (len(ordered) - 1) // 2)
    return ordered[cut], ordered[len(ordered) - 1 - cut]


def bootstrap_ratio(
    student: Sequence[int], teacher: Sequence[int], resamples: Sequence[Sequence[int]], confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``sum(student) / sum(teacher)`` over the given resamples."""
    if len(student) != len(teacher) or not student:
        raise ValueError("need the same, non-zero number of student and teacher scores")
    ratios = []
    pick_student, pick_teacher = student.__getitem__, teacher.__getitem__
    for indices in resamples:
        s = sum(map(pick_student, indices))
        t = sum(map(pick_teacher, indices))
        ratios.append(s / t if t else 0.0)
    return percentile_interval(ratios, confidence)


def _histogram(scores: Sequence[int]) -> tuple[int, int, int, int, int]:
    counts = [0, 0, 0, 0, 0]
    for score in scores:
        counts[score - 1] += 1
    return (counts[0], counts[1], counts[2], counts[3], counts[4])


def metric_stats(
    results: Sequence[PromptResult],
    metrics: Sequence[str],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> list[MetricStats]:
    """Per metric, over the scored prompts (in ``index`` order, so the input order does not matter)."""
    scored = sorted((r for r in results if r.scores is not None), key=lambda r: r.index)
    draws = resample_indices(len(scored), resamples, seed) if scored else []
    out = []
    for name in metrics:
        student = [r.scores[name].student for r in scored if r.scores is not None]
        teacher = [r.scores[name].teacher for r in scored if r.scores is not None]
        low, high = bootstrap_ratio(student, teacher, draws, confidence) if scored else (0.0, 0.0)
        out.append(
            MetricStats(
                name=name,
                scored=len(scored),
                student_sum=sum(student),
                teacher_sum=sum(teacher),
                ci_low=low,
                ci_high=high,
                wins=sum(1 for s, t in zip(student, teacher, strict=True) if s > t),
                ties=sum(1 for s, t in zip(student, teacher, strict=True) if s == t),
                losses=sum(1 for s, t in zip(student, teacher, strict=True) if s < t),
                student_histogram=_histogram(student),
                teacher_histogram=_histogram(teacher),
            )
        )
    return out


@dataclass(frozen=True)
class Latency:
    """Milliseconds (Bedrock's ``metrics.latencyMs``); None when no call reported one."""

    student_p50: float | None
    student_p95: float | None
    teacher_p50: float | None
    teacher_p95: float | None
    student_calls: int
    teacher_calls: int


def latency(results: Sequence[PromptResult]) -> Latency:
    student = [r.student.latency_ms for r in results if r.student.ok and r.student.latency_ms is not None]
    teacher = [r.teacher.latency_ms for r in results if r.teacher.ok and r.teacher.latency_ms is not None]
    return Latency(
        student_p50=nearest_rank(student, 50),
        student_p95=nearest_rank(student, 95),
        teacher_p50=nearest_rank(teacher, 50),
        teacher_p95=nearest_rank(teacher, 95),
        student_calls=len(student),
        teacher_calls=len(teacher),
    )
