"""What a run's evaluation will do, resolved once at "Check run settings" and kept in ``$.run.evaluation``.

The evaluation compares the served student with its teacher on held-out prompts (distill.evaluation). It runs
when the student is served: a run that serves nothing has nothing to call, so it is skipped (and says why);
``evaluation.promoteTo`` without a serving choice serves the student on demand (billed per token) for it.
"""

from __future__ import annotations

from typing import Any

from distill.errors import InvalidRunInput
from distill.evaluation.config import EvaluationRequest, parse_evaluation
from distill.locations import S3Location
from distill.settings import PipelineSettings, Strict

FIELD = "$.evaluation"
PROMPTS = "evaluation/prompts.jsonl"  # under the run's reports/
RESULTS = "evaluation/"  # batch-0000.jsonl, ... under the run's reports/
VERDICT = "verdict.json"
REPORT = "report.html"


class EvaluationPlan(Strict, frozen=True):
    request: EvaluationRequest
    judge_model_id: str
    prompts_uri: str  # the evaluation prompts, written by "Prepare the evaluation"
    results_prefix: str  # each batch's answers and scores
    holdout_uri: str | None  # the records "Prepare dataset" kept out of training (None: a separate file)
    dataset_uri: str | None  # evaluation.dataset resolved (None: the hold-out)

    @property
    def promote_to(self) -> str | None:
        return self.request.promote_to


def wants_evaluation(raw: Any) -> EvaluationRequest | None:
    """The ``evaluation`` field read as the API defines it (False: off; absent/True: defaults)."""
    try:
        return parse_evaluation(raw)
    except ValueError as error:
        text = str(error)
        where = f"{FIELD}{text.split('at `$', 1)[1].split('`', 1)[0]}" if "at `$" in text else FIELD
        raise InvalidRunInput(f"execution input: {text.split(' - at `', 1)[0]} - at `{where}`") from None


def resolve_evaluation(request: EvaluationRequest, *, settings: PipelineSettings, student: str, teacher: str,
                       reports_uri: str, holdout_uri: str, dataset: S3Location | None) -> EvaluationPlan:  # fmt: skip
    judge = request.judge_model_id or teacher
    if judge not in settings.teacher_models:
        raise InvalidRunInput(
            f"execution input: evaluation.judgeModelId {judge!r} is not allowed here; the judge is one of the "
            f"allowed teachers ({', '.join(settings.teacher_models)}) - at `{FIELD}.judgeModelId`"
        )
    if judge == student:
        raise InvalidRunInput(f"execution input: the judge must not be the student - at `{FIELD}.judgeModelId`")
    reports = S3Location.parse(reports_uri)
    return EvaluationPlan(
        request=request, judge_model_id=judge, prompts_uri=reports.child(PROMPTS).uri,
        results_prefix=reports.child(RESULTS).uri, holdout_uri=None if dataset else holdout_uri,
        dataset_uri=dataset.uri if dataset else None,
    )  # fmt: skip
