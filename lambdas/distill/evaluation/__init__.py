"""Is the student good enough? The pure core of the evaluation after the distilled model is served.

Held-out prompts (``holdout``) go, in small batches (``batching``), to the student and to the teacher through
Converse; an LLM judge compares each pair with a written rubric (``judge``); the scores become per-metric means,
ratios and bootstrap intervals (``stats``), costs (``costs``) and a verdict that gates promotion (``verdict``);
``report`` draws it all as one self-contained HTML file, with the training loss (``training_metrics``).

Only the standard library and msgspec are used; nothing here calls AWS (the handlers pass in what Bedrock
answered, and the judge call as a function).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distill.lazy import lazy_exports

if TYPE_CHECKING:
    from distill.evaluation.calls import Call
    from distill.evaluation.config import BUILTIN_METRICS, EvaluationRequest, Metric, ModelPrice, parse_evaluation
    from distill.evaluation.holdout import HoldoutPolicy, Selection, Selector, choose, explicit_policy, prompt_key
    from distill.evaluation.judge import Judgment, Malformed, MetricScore, Rubric, build, judge, parse
    from distill.evaluation.prompts import EvalPrompt
    from distill.evaluation.results import PromptResult, evaluate
    from distill.evaluation.verdict import Evaluation, Gate, Models, Verdict, decide, summarize, to_dict

# Loaded on first use (PEP 562): every handler imports the run's settings, which name an EvaluationRequest
# (distill.evaluation.config); the statistics, the judge and the report load only where they are used.
_LAZY = {
    "calls": ('Call',),
    "config": ('BUILTIN_METRICS', 'EvaluationRequest', 'Metric', 'ModelPrice', 'parse_evaluation'),
    "holdout": ('HoldoutPolicy', 'Selection', 'Selector', 'choose', 'explicit_policy', 'prompt_key'),
    "judge": ('Judgment', 'Malformed', 'MetricScore', 'Rubric', 'build', 'judge', 'parse'),
    "prompts": ('EvalPrompt',),
    "results": ('PromptResult', 'evaluate'),
    "verdict": ('Evaluation', 'Gate', 'Models', 'Verdict', 'decide', 'summarize', 'to_dict'),
}  # fmt: skip
__getattr__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "BUILTIN_METRICS",
    "Call",
    "EvalPrompt",
    "Evaluation",
    "EvaluationRequest",
    "Gate",
    "HoldoutPolicy",
    "Judgment",
    "Malformed",
    "Metric",
    "MetricScore",
    "ModelPrice",
    "Models",
    "PromptResult",
    "Rubric",
    "Selection",
    "Selector",
    "Verdict",
    "build",
    "choose",
    "decide",
    "evaluate",
    "explicit_policy",
    "judge",
    "parse",
    "parse_evaluation",
    "prompt_key",
    "summarize",
    "to_dict",
]
