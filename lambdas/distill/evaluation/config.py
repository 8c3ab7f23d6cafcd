"""What a run asks of the evaluation: the ``evaluation`` field of the execution input.

``"evaluation": false`` turns it off; absent or ``true`` means the defaults below; an object sets any of them.
The metrics the judge scores are the three built-in ones (or the subset named in ``metrics``) plus the run's
own ``customMetrics``, each with the description the judge reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from distill.settings import Strict

BUILTIN_METRICS: dict[str, str] = {
    "correctness": (
        "Is the answer right? Facts, reasoning, calculations and code are correct for the prompt; nothing it "
        "states is false or made up."
    ),
    "completeness": (
        "Does the answer cover everything the prompt asks for, every part and sub-question, with the detail "
        "needed to be useful, without leaving out anything essential?"
    ),
    "following_instructions": (
        "Does the answer do what the prompt and the system prompt say: the task, format, length, language, "
        "tone and any explicit constraints?"
    ),
}
BuiltinMetric = Literal["correctness", "completeness", "following_instructions"]
MAX_CUSTOM_METRICS = 8
METRIC_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
MetricName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MetricDescription = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
GateOn = Literal["estimate", "ciLower"]
DeploymentIdentifier = Annotated[str, msgspec.Meta(
    min_length=1, max_length=93,
    pattern=r"^((arn:aws(|-us-gov|-cn|-iso|-iso-b):bedrock:[a-z0-9-]{1,20}:[0-9]{12}:custom-model-deployment/[a-z0-9]{12})"
            r"|([0-9a-zA-Z][_-]?){1,63})$",
)]  # fmt: skip


@dataclass(frozen=True)
class Metric:
    name: str
    description: str


class HoldoutRequest(Strict, frozen=True):
    """How many records to keep out of training and use as evaluation prompts."""

    fraction: Annotated[float, msgspec.Meta(gt=0.0, le=0.5)] = 0.05
    minimum: Annotated[int, msgspec.Meta(ge=1, le=500)] = 20
    maximum: Annotated[int, msgspec.Meta(ge=1, le=500)] = 500

    def __post_init__(self) -> None:
        if self.minimum > self.maximum:
            raise ValueError("evaluation.holdout: minimum must not be larger than maximum")


class ModelPrice(Strict, frozen=True):
    """On-demand prices of one model in USD (the pipeline ships none: prices differ by Region and change)."""

    input_per_1k_tokens: Annotated[float, msgspec.Meta(ge=0.0)] = msgspec.field(name="inputPer1kTokens")
    output_per_1k_tokens: Annotated[float, msgspec.Meta(ge=0.0)] = msgspec.field(name="outputPer1kTokens")


class EvaluationRequest(Strict, frozen=True):
    """The ``evaluation`` object of the execution input; every field has a default."""

    # s3:// URI or key of a separate file of evaluation prompts (any dataset shape): nothing is held out then.
    dataset: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    holdout: HoldoutRequest = HoldoutRequest()
    # The judge; the teacher when absent. It must be allowed like any model the pipeline calls.
    judge_model_id: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
    metrics: tuple[BuiltinMetric, ...] = ("correctness", "completeness", "following_instructions")
    custom_metrics: dict[MetricName, MetricDescription] = msgspec.field(default_factory=dict)
    # The metrics the gate looks at; all scored metrics when absent.
    gate_metrics: tuple[str, ...] | None = None
    min_quality_ratio: Annotated[float, msgspec.Meta(gt=0.0, le=2.0)] = 0.9
    # "estimate": the ratio of the means must reach minQualityRatio; "ciLower": its 95% CI's lower bound must.
    gate_on: GateOn = "estimate"
    # Tries per prompt when the judge's reply cannot be used; then the prompt is counted as unscored.
    judge_attempts: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    prices: dict[Annotated[str, msgspec.Meta(min_length=1, max_length=2048)], ModelPrice] = msgspec.field(
        default_factory=dict
    )
    # On a pass, switch this existing on-demand deployment (name or ARN) to the new model: clients keep calling the
    # same ARN. UpdateCustomModelDeployment's customModelDeploymentIdentifier pattern (botocore bedrock model).
    promote_to: DeploymentIdentifier | None = None

    def __post_init__(self) -> None:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("evaluation.metrics: a metric is named twice")
        if len(self.custom_metrics) > MAX_CUSTOM_METRICS:
            raise ValueError(f"evaluation.customMetrics: at most {MAX_CUSTOM_METRICS} custom metrics")
        for name in self.custom_metrics:
            if name in BUILTIN_METRICS:
                raise ValueError(f"evaluation.customMetrics: {name!r} is a built-in metric; choose another name")
        if not self.metrics and not self.custom_metrics:
            raise ValueError("evaluation: at least one metric (metrics or customMetrics) is needed")
        scored = set(self.metrics) | set(self.custom_metrics)
        for name in self.gate_metrics or ():
            if name not in scored:
                raise ValueError(
                    f"evaluation.gateMetrics: {name!r} is not a scored metric ({', '.join(sorted(scored))})"
                )
        if self.gate_metrics is not None and not self.gate_metrics:
            raise ValueError("evaluation.gateMetrics: name at least one metric, or leave it out to gate on all")

    @property
    def scored_metrics(self) -> tuple[Metric, ...]:
        """Built-in metrics first (in the order named), then the custom ones (sorted by name)."""
        builtins = tuple(Metric(name, BUILTIN_METRICS[name]) for name in self.metrics)
        return builtins + tuple(Metric(name, self.custom_metrics[name]) for name in sorted(self.custom_metrics))

    @property
    def gated_metrics(self) -> tuple[str, ...]:
        return self.gate_metrics or tuple(metric.name for metric in self.scored_metrics)


def parse_evaluation(raw: Any) -> EvaluationRequest | None:
    """The ``evaluation`` field of the execution input: None (off) for ``false``; the defaults for absent/``true``.

    Raises ``ValueError`` with msgspec's message (which names the field, e.g. ``at `$.minQualityRatio` ``).
    """
    if raw is False:
        return None
    if raw is None or raw is True:
        return EvaluationRequest()
    if not isinstance(raw, dict):
        raise ValueError(f"evaluation must be true, false or an object, got {type(raw).__name__}")
    try:
        return msgspec.convert(raw, EvaluationRequest)
    except msgspec.ValidationError as error:
        raise ValueError(f"evaluation: {error}") from None
