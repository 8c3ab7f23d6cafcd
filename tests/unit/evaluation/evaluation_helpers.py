"""Small evaluation results built by hand, and a fake judge that answers from a script."""

from __future__ import annotations

import json
from collections.abc import Sequence

from distill.evaluation.calls import Call
from distill.evaluation.config import BUILTIN_METRICS, Metric
from distill.evaluation.judge import MetricScore
from distill.evaluation.results import PromptResult
from distill.evaluation.verdict import Gate, Models

BUILTINS = tuple(Metric(name, text) for name, text in BUILTIN_METRICS.items())
NAMES = tuple(BUILTIN_METRICS)
MODELS = Models(student="amazon.nova-micro-v1:0:128k", teacher="amazon.nova-pro-v1:0", judge="amazon.nova-pro-v1:0")


def scored(
    index: int,
    student: int | dict[str, int],
    teacher: int | dict[str, int],
    metrics: Sequence[str] = NAMES,
    latency: tuple[int, int] = (500, 2000),
    tokens: tuple[int, int, int, int] = (100, 50, 100, 200),
    prompt: str | None = None,
) -> PromptResult:
    """A scored prompt: the same student/teacher score on every metric, or a score per metric."""

    def score(value: int | dict[str, int], name: str) -> int:
        return value if isinstance(value, int) else value[name]

    return PromptResult(
        index=index,
        prompt=prompt if prompt is not None else f"prompt {index}",
        student=Call(
            text=f"student answer {index}", latency_ms=latency[0], input_tokens=tokens[0], output_tokens=tokens[1]
        ),
        teacher=Call(
            text=f"teacher answer {index}", latency_ms=latency[1], input_tokens=tokens[2], output_tokens=tokens[3]
        ),
        scores={
            name: MetricScore(student=score(student, name), teacher=score(teacher, name), reason=f"reason {index}")
            for name in metrics
        },
        judge=Call(latency_ms=1000, input_tokens=1500, output_tokens=150),
        judge_attempts=1,
    )


def unscored(
    index: int, why: str = "judge reply malformed (not-json): the reply contains no JSON object"
) -> PromptResult:
    return PromptResult(
        index=index,
        prompt=f"prompt {index}",
        student=Call(text="s", latency_ms=400, input_tokens=100, output_tokens=40),
        teacher=Call(text="t", latency_ms=1800, input_tokens=100, output_tokens=200),
        unscored=why,
        judge=Call(latency_ms=3000, input_tokens=4500, output_tokens=30),
        judge_attempts=3,
    )


def gate(**changes: object) -> Gate:
    values: dict[str, object] = {"metrics": NAMES, "min_quality_ratio": 0.9, "on": "estimate"}
    values.update(changes)
    return Gate(**values)  # type: ignore[arg-type]


def judge_reply(scores: dict[str, tuple[int, int]], reason: str = "fine") -> str:
    """The JSON a well-behaved judge writes: {metric: (A, B)}."""
    return json.dumps({"scores": {m: {"A": a, "B": b, "reason": reason} for m, (a, b) in scores.items()}})


class ScriptedJudge:
    """Answers ``ask(system, user)`` with the next scripted reply and records what it was asked."""

    def __init__(self, *replies: str | Call) -> None:
        self.replies = list(replies)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, system: str, user: str) -> Call:
        self.asked.append((system, user))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return (
            reply if isinstance(reply, Call) else Call(text=reply, latency_ms=900, input_tokens=1200, output_tokens=90)
        )
