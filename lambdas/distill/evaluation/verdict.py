"""The gate: is the student good enough to be promoted? And the verdict, small enough for the execution state.

The gate passes when, for every gated metric, the student's share of the teacher's score reaches
``minQualityRatio`` (0.9 by default; reaching it exactly passes). By default it looks at the **point estimate**
(the ratio of the means, compared exactly as ``sum(student) >= ratio * sum(teacher)``); with
``gateOn: "ciLower"`` it looks at the lower bound of the 95% bootstrap interval instead, which asks for
statistical evidence and so for more prompts (see the README). It fails as ``EvaluationInconclusive`` when no
prompt, or fewer than half of them, could be scored: unscored prompts count for nobody, so too many of them make
any verdict meaningless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from distill.evaluation import costs
from distill.evaluation.config import EvaluationRequest, GateOn, ModelPrice
from distill.evaluation.results import PromptResult
from distill.evaluation.stats import RESAMPLES, SEED, Latency, MetricStats, latency, metric_stats

BELOW_TEACHER = "StudentBelowTeacher"
INCONCLUSIVE = "EvaluationInconclusive"
MIN_SCORED_SHARE = 0.5
_CI_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Gate:
    metrics: tuple[str, ...]
    min_quality_ratio: float = 0.9
    on: GateOn = "estimate"
    min_scored_share: float = MIN_SCORED_SHARE

    @classmethod
    def from_request(cls, request: EvaluationRequest) -> Gate:
        return cls(request.gated_metrics, request.min_quality_ratio, request.gate_on)


@dataclass(frozen=True)
class Models:
    """The ids the price table is searched for (the student's base model id prices an on-demand deployment)."""

    student: str
    teacher: str
    judge: str


@dataclass(frozen=True)
class Evaluation:
    prompts: int
    scored: int
    unscored: dict[str, int]  # kind of failure -> prompts
    metrics: list[MetricStats]
    latency: Latency
    usage: dict[str, costs.Usage]  # student, teacher, judge
    per_1k_requests: dict[str, float | str]  # student, teacher
    spent: dict[str, float | str]  # student, teacher, judge, total: what the evaluation itself cost
    judge_calls: int


def unscored_kind(reason: str) -> str:
    """'judge reply malformed (not-json): ...' -> 'judge reply malformed'."""
    return reason.split(":", 1)[0].split(" (", 1)[0].strip() or "unscored"


def summarize(
    results: Sequence[PromptResult],
    metrics: Sequence[str],
    models: Models,
    prices: Mapping[str, ModelPrice],
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Evaluation:
    usage = {
        "student": costs.usage(r.student for r in results),
        "teacher": costs.usage(r.teacher for r in results),
        "judge": costs.usage(r.judge for r in results if r.judge_attempts),
    }
    ids = {"student": models.student, "teacher": models.teacher, "judge": models.judge}
    price = {who: costs.find_price(prices, model) for who, model in ids.items()}
    spent: dict[str, float | str] = {who: costs.total(usage[who], price[who]) for who in usage}
    known = [v for v in spent.values() if not isinstance(v, str)]
    spent["total"] = sum(known) if len(known) == len(usage) else costs.UNKNOWN
    return Evaluation(
        prompts=len(results),
        scored=sum(1 for r in results if r.scored),
        unscored=dict(sorted(Counter(unscored_kind(r.unscored) for r in results if not r.scored).items())),
        metrics=metric_stats(results, metrics, resamples, seed),
        latency=latency(results),
        usage=usage,
        per_1k_requests={who: costs.per_1k_requests(usage[who], price[who]) for who in ("student", "teacher")},
        spent=spent,
        judge_calls=sum(r.judge_attempts for r in results),
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    error: str  # "" when passed
    cause: str  # one line: why it passed or failed, with the numbers
    failing: tuple[str, ...]  # gated metrics below the bar

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.error else self.cause


def _shown(value: float, threshold: float) -> str:
    """Two decimals, or as many as it takes not to print a failing value as equal to the threshold."""
    for decimals in range(2, 7):
        text = f"{value:.{decimals}f}"
        if float(text) < threshold:
            return text
    return f"{value:.6f}"


def _reaches(stats: MetricStats, gate: Gate) -> bool:
    if gate.on == "ciLower":
        return stats.ci_low >= gate.min_quality_ratio - _CI_TOLERANCE
    return Fraction(stats.student_sum) >= Fraction(repr(gate.min_quality_ratio)) * stats.teacher_sum


def _why(stats: MetricStats, gate: Gate) -> str:
    bar = f"{gate.min_quality_ratio:g}"
    compared = stats.ci_low if gate.on == "ciLower" else stats.ratio
    shown = _shown(compared, gate.min_quality_ratio)
    places = len(shown.partition(".")[2])  # the interval with as many decimals as the compared value
    ci = f"CI {stats.ci_low:.{places}f}-{stats.ci_high:.{places}f}"
    if gate.on == "ciLower":
        return f"{stats.name} CI lower bound {shown} < {bar} ({stats.ratio:.{places}f} of the teacher, {ci})"
    return f"{stats.name} {shown} of the teacher ({ci}) < {bar}"


def decide(evaluation: Evaluation, gate: Gate) -> Verdict:
    unscored = evaluation.prompts - evaluation.scored
    detail = ", ".join(f"{kind}: {n}" for kind, n in evaluation.unscored.items())
    if evaluation.prompts == 0:
        return Verdict(False, INCONCLUSIVE, "no evaluation prompts", ())
    if evaluation.scored == 0:
        return Verdict(False, INCONCLUSIVE, f"no prompt could be scored: {unscored} unscored ({detail})", ())
    if evaluation.scored < gate.min_scored_share * evaluation.prompts:
        return Verdict(
            False,
            INCONCLUSIVE,
            f"only {evaluation.scored} of {evaluation.prompts} prompts could be scored, fewer than "
            f"{gate.min_scored_share:.0%} ({detail})",
            (),
        )
    by_name = {m.name: m for m in evaluation.metrics}
    missing = [name for name in gate.metrics if name not in by_name]
    if missing:
        raise ValueError(f"gated metrics were not scored: {', '.join(missing)}")
    failing = [by_name[name] for name in gate.metrics if not _reaches(by_name[name], gate)]
    tail = f"{evaluation.scored} scored prompts" + (f", {unscored} unscored" if unscored else "")
    if failing:
        cause = "; ".join(_why(m, gate) for m in failing) + f" ({tail})"
        return Verdict(False, BELOW_TEACHER, cause, tuple(m.name for m in failing))
    shares = ", ".join(f"{by_name[n].name} {by_name[n].ratio:.2f}" for n in gate.metrics)
    what = "CI lower bound" if gate.on == "ciLower" else "share of the teacher's score"
    cause = f"every gated metric's {what} reaches {gate.min_quality_ratio:g}: {shares} ({tail})"
    return Verdict(True, "", cause, ())


def _r(value: float | str | None) -> float | str | None:
    return round(value, 4) if isinstance(value, float) else value


def to_dict(evaluation: Evaluation, verdict: Verdict, gate: Gate) -> dict[str, Any]:
    """The verdict for the execution state and the run summary: JSON-ready, a few KB at most."""
    lat = evaluation.latency
    return {
        "passed": verdict.passed,
        "error": verdict.error or None,
        "cause": verdict.cause,
        "gate": {"minQualityRatio": gate.min_quality_ratio, "on": gate.on, "metrics": list(gate.metrics)},
        "prompts": evaluation.prompts,
        "scored": evaluation.scored,
        "unscored": dict(evaluation.unscored),
        "metrics": {
            m.name: {
                "studentMean": _r(m.student_mean),
                "teacherMean": _r(m.teacher_mean),
                "ratio": _r(m.ratio),
                "ci": [_r(m.ci_low), _r(m.ci_high)],
                "wins": m.wins,
                "ties": m.ties,
                "losses": m.losses,
                "gated": m.name in gate.metrics,
                "failing": m.name in verdict.failing,
            }
            for m in evaluation.metrics
        },
        "latencyMs": {
            "student": {"p50": _r(lat.student_p50), "p95": _r(lat.student_p95), "calls": lat.student_calls},
            "teacher": {"p50": _r(lat.teacher_p50), "p95": _r(lat.teacher_p95), "calls": lat.teacher_calls},
        },
        "costPer1kRequestsUsd": {who: _r(v) for who, v in evaluation.per_1k_requests.items()},
        "evaluationCostUsd": {who: _r(v) for who, v in evaluation.spent.items()},
        "judgeCalls": evaluation.judge_calls,
    }
