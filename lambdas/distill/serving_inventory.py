"""The serving this account has in the Region -- provisioned throughput and custom model deployments, found by
listing (every page) and their tags -- and deleting one by ARN: for the failure cost guard, `distill cleanup` and
the hourly janitor. Calls go through :func:`distill.bedrock.translated` like every other Bedrock call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from distill import aws
from distill.bedrock import json_ready, translated


@dataclass(frozen=True)
class PipelineThroughput:
    """Provisioned throughput found by the pipeline's tags (for cleanup and the failure cost guard)."""

    arn: str
    name: str
    status: str
    model_units: int
    commitment: str
    created: str
    tags: dict[str, str]
    model_arn: str = ""  # the custom model it serves


def _listed(operation: str, method: str, key: str) -> Iterator[dict[str, Any]]:
    """Every summary a paged Bedrock List call returns."""
    token: str | None = None
    while True:
        with translated(operation):
            page = getattr(aws.client("bedrock"), method)(**({"nextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("nextToken")
        if not token:
            return


def _tags_of(arn: str) -> dict[str, str]:
    with translated("ListTagsForResource"):
        return {t["key"]: t["value"] for t in aws.client("bedrock").list_tags_for_resource(resourceARN=arn).get("tags", [])}


def _tagged(
    operation: str, method: str, key: str, arn_field: str, marker: tuple[str, str] | None
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """(summary, tags) of each listed resource that carries the ``marker`` tag (every one when None)."""
    for summary in _listed(operation, method, key):
        tags = _tags_of(summary[arn_field])
        if marker is None or tags.get(marker[0]) == marker[1]:
            yield summary, tags


_THROUGHPUTS = ("ListProvisionedModelThroughputs", "list_provisioned_model_throughputs", "provisionedModelSummaries",
                "provisionedModelArn")  # fmt: skip
_DEPLOYMENTS = ("ListCustomModelDeployments", "list_custom_model_deployments", "modelDeploymentSummaries",
                "customModelDeploymentArn")  # fmt: skip


def _throughput(summary: dict[str, Any], tags: dict[str, str]) -> PipelineThroughput:
    return PipelineThroughput(
        arn=summary["provisionedModelArn"],
        name=summary["provisionedModelName"],
        status=summary["status"],
        model_units=int(summary.get("modelUnits", 0)),
        # Absent for a throughput without commitment (ProvisionedModelSummary in the API reference).
        commitment=str(summary.get("commitmentDuration", "")),
        created=json_ready(summary.get("creationTime", "")),
        tags=tags,
        model_arn=str(summary.get("modelArn", "")),
    )


def pipeline_throughputs(marker_key: str, marker_value: str) -> list[PipelineThroughput]:
    """Every provisioned throughput in the region tagged ``marker_key=marker_value``."""
    return [_throughput(summary, tags) for summary, tags in _tagged(*_THROUGHPUTS, (marker_key, marker_value))]


@dataclass(frozen=True)
class PipelineDeployment:
    """An on-demand custom model deployment found by the pipeline's tags (for cleanup)."""

    arn: str
    name: str
    status: str
    model_arn: str
    created: str
    tags: dict[str, str]


def pipeline_deployments(marker_key: str, marker_value: str) -> list[PipelineDeployment]:
    """Every custom model deployment in the region tagged ``marker_key=marker_value``."""
    return [_deployment(summary, tags) for summary, tags in _tagged(*_DEPLOYMENTS, (marker_key, marker_value))]


def _deployment(summary: dict[str, Any], tags: dict[str, str]) -> PipelineDeployment:
    return PipelineDeployment(
        arn=summary["customModelDeploymentArn"],
        name=summary["customModelDeploymentName"],
        status=summary["status"],
        model_arn=summary["modelArn"],
        created=json_ready(summary.get("createdAt", "")),
        tags=tags,
    )


def all_throughputs() -> list[PipelineThroughput]:
    """Every provisioned throughput in the region with its tags, whoever made it (the janitor judges each)."""
    return [_throughput(summary, tags) for summary, tags in _tagged(*_THROUGHPUTS, None)]


def all_deployments() -> list[PipelineDeployment]:
    """Every custom model deployment in the region with its tags, whoever made it (the janitor judges each)."""
    return [_deployment(summary, tags) for summary, tags in _tagged(*_DEPLOYMENTS, None)]


DeleteOutcome = Literal["deleted", "gone", "busy"]


def delete_serving(arn: str) -> DeleteOutcome:
    """Delete a provisioned throughput or a custom model deployment by its ARN. "gone": Bedrock no longer knows
    it (ResourceNotFoundException: deleted meanwhile); "busy": Bedrock refused it in its present state
    (ConflictException: e.g. being updated or deleted already). Any other error is translated as usual."""
    from botocore.exceptions import ClientError

    if ":provisioned-model/" in arn:
        action, call = "DeleteProvisionedModelThroughput", {"provisionedModelId": arn}
        method = "delete_provisioned_model_throughput"
    elif ":custom-model-deployment/" in arn:
        action, call = "DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": arn}
        method = "delete_custom_model_deployment"
    else:
        raise ValueError(f"not a provisioned throughput or custom model deployment ARN: {arn!r}")
    with translated(action):
        try:
            getattr(aws.client("bedrock"), method)(**call)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                return "gone"
            if code == "ConflictException":
                return "busy"
            raise
    return "deleted"
