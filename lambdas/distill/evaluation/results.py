"""What one evaluated prompt gives: both answers, the judge's scores (or why there are none), usage.

A batch writes its results to S3 as JSONL (:func:`encode`); the verdict and the report read them all back
(:func:`decode`). The Map state only ever carries :func:`batch_counts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from distill.evaluation.calls import Call
from distill.evaluation.config import Metric
from distill.evaluation.judge import MetricScore, build, judge
from distill.evaluation.prompts import EvalPrompt


class PromptResult(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True, rename="camel"):
    index: int
    prompt: str
    student: Call
    teacher: Call
    scores: dict[str, MetricScore] | None = None  # None: unscored
    unscored: str = ""  # why it is unscored
    judge: Call = Call()  # the judge's calls together, without text
    judge_attempts: int = 0
    student_is_a: bool = True

    @property
    def scored(self) -> bool:
        return self.scores is not None

    def margin(self) -> int:
        """Sum over metrics of (teacher score - student score): how badly the student lost this prompt."""
        return sum(s.teacher - s.student for s in (self.scores or {}).values())


def evaluate(
    item: EvalPrompt,
    student: Call,
    teacher: Call,
    ask_judge: Callable[[str, str], Call],
    metrics: Sequence[Metric],
    attempts: int = 3,
) -> PromptResult:
    """Judge one prompt's two answers (already fetched by the caller). A failed answer leaves it unscored."""
    failed = [
        f"{who} call failed: {call.error}" for who, call in (("student", student), ("teacher", teacher)) if call.error
    ]
    if failed:
        return PromptResult(
            index=item.index, prompt=item.prompt, student=student, teacher=teacher, unscored="; ".join(failed)
        )
    rubric = build(item.prompt, student.text, teacher.text, metrics, item.system)
    outcome = judge(ask_judge, rubric, attempts)
    return PromptResult(
        index=item.index,
        prompt=item.prompt,
        student=student,
        teacher=teacher,
        scores=outcome.judgment.scores if outcome.judgment else None,
        unscored=outcome.problem if outcome.judgment is None else "",
        judge=outcome.usage,
        judge_attempts=outcome.attempts,
        student_is_a=rubric.student_is_a,
    )


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(PromptResult)


def encode(results: Iterable[PromptResult]) -> bytes:
    return b"".join(_ENCODER.encode(r) + b"\n" for r in results)


def decode(data: bytes) -> list[PromptResult]:
    return [_DECODER.decode(line) for line in data.split(b"\n") if line.strip()]


def batch_counts(batch: int, results: Sequence[PromptResult], results_uri: str) -> dict[str, Any]:
    """What a batch returns to the Map state (under 1 KB whatever the prompts)."""
    return {
        "batch": batch,
        "prompts": len(results),
        "scored": sum(1 for r in results if r.scored),
        "unscored": sum(1 for r in results if not r.scored),
        "resultsUri": results_uri,
    }
