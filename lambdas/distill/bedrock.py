"""Bedrock adapter: the customization job, provisioned throughput and custom model deployment calls the
pipeline makes.

Handlers call these functions, never the boto3 client directly, so request shapes and error handling live in
one place. Bedrock's error codes are translated into the pipeline's errors (distill.errors), whose names the
state machine's Retry and Catch match: throttling is retried with backoff, an exceeded quota or a rejected
request is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distill import aws
from distill.errors import BedrockAccessDenied, BedrockRejected, BedrockThrottled, JobQuotaInUse, QuotaExceeded
from distill.run_request import DeploymentPlan, ProvisioningPlan, ResolvedRun

_RETRYABLE = {
    "ThrottlingException",
    "TooManyRequestsException",
    "InternalServerException",
    "ServiceUnavailableException",
    "ServiceUnavailable",  # the common error every AWS API may answer (Bedrock API reference, "Common Errors")
    "ModelNotReadyException",
    "ModelTimeoutException",  # Converse: the model took too long; trying again may work
}
_REJECTED = {"ValidationException", "ConflictException", "ResourceNotFoundException", "TooManyTagsException",
             "ModelErrorException"}  # fmt: skip


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Bedrock's error codes as the pipeline's errors (see the module's notes)."""
    from botocore.exceptions import ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = f"{action}: {code}: {error.response.get('Error', {}).get('Message', '')}"
        if code in _RETRYABLE:
            raise BedrockThrottled(message) from None
        if code == "ServiceQuotaExceededException":
            raise QuotaExceeded(message) from None
        if code == "AccessDeniedException":
            raise BedrockAccessDenied(message) from None
        if code in _REJECTED:
            raise BedrockRejected(message) from None
        raise


def _bedrock() -> Any:
    return aws.client("bedrock")


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def customization_job_request(run: ResolvedRun, role_arn: str, kms_key_arn: str = "") -> dict[str, Any]:
    """The CreateModelCustomizationJob request for a run (pure, so tests can check it field by field)."""
    request: dict[str, Any] = {
        "jobName": run.job_name,
        "customModelName": run.custom_model_name,
        "roleArn": role_arn,
        "clientRequestToken": run.client_request_token,
        "baseModelIdentifier": run.student_model_id,
        "customizationType": "DISTILLATION",
        "trainingDataConfig": run.invocation_logs.training_data_config() if run.invocation_logs
        else {"s3Uri": run.dataset_uri},
        "outputDataConfig": {"s3Uri": run.output_uri},
        "customizationConfig": {
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": run.teacher_model_id,
                    "maxResponseLengthForInference": run.max_response_length,
                }
            }
        },
        "jobTags": _tag_list(run.tags),
        "customModelTags": _tag_list(run.tags),
    }
    if kms_key_arn:
        request["customModelKmsKeyId"] = kms_key_arn
    return request


def start_distillation_job(run: ResolvedRun, role_arn: str, kms_key_arn: str = "") -> str:
    """Start the job and return its ARN. Safe to call again for the same run: the client request token makes
    Bedrock return the job it already started instead of a second one."""
    request = customization_job_request(run, role_arn, kms_key_arn)
    try:
        with translated("CreateModelCustomizationJob"):
            return str(_bedrock().create_model_customization_job(**request)["jobArn"])
    except QuotaExceeded as full:  # the run holds a job slot: something else uses the quota; queue again
        raise JobQuotaInUse(str(full)) from None
    except BedrockRejected as rejected:
        # A retried task whose first call did get through may meet its own job by name: adopt it.
        existing = _own_job(run)
        if existing:
            return existing
        raise rejected


def _own_job(run: ResolvedRun) -> str | None:
    from botocore.exceptions import ClientError

    try:
        job = _bedrock().get_model_customization_job(jobIdentifier=run.job_name)
    except ClientError:
        return None
    if job.get("clientRequestToken") == run.client_request_token:
        return str(job["jobArn"])
    return None


@dataclass(frozen=True)
class JobSnapshot:
    job_arn: str
    status: str
    failure_message: str = ""
    output_model_arn: str = ""
    status_details: dict[str, Any] = field(default_factory=dict)
    output_uri: str = ""
    end_time: str = ""


def describe_job(job_arn: str) -> JobSnapshot:
    with translated("GetModelCustomizationJob"):
        job = _bedrock().get_model_customization_job(jobIdentifier=job_arn)
    return JobSnapshot(
        job_arn=job_arn,
        status=str(job["status"]),
        failure_message=str(job.get("failureMessage", "")),
        output_model_arn=str(job.get("outputModelArn", "")),
        status_details=json_ready(job.get("statusDetails", {})),
        output_uri=str(job.get("outputDataConfig", {}).get("s3Uri", "")),
        end_time=json_ready(job.get("endTime", "")),
    )


def stop_job_if_active(job_arn: str) -> bool:
    """Stop the job if it still runs ("Stops an active model customization job", API reference); True when it
    was stopped. A job that ended meanwhile is refused (ValidationException or ConflictException: the
    reference does not say which), which is no error here."""
    if describe_job(job_arn).status != "InProgress":
        return False
    try:
        with translated("StopModelCustomizationJob"):
            _bedrock().stop_model_customization_job(jobIdentifier=job_arn)
    except BedrockRejected:
        return False
    return True


def create_provisioned_throughput(plan: ProvisioningPlan, model_arn: str, tags: dict[str, str]) -> str:
    request: dict[str, Any] = {
        "clientRequestToken": plan.client_request_token,
        "modelUnits": plan.model_units,
        "provisionedModelName": plan.provisioned_model_name,
        "modelId": model_arn,
        "tags": _tag_list(tags),
    }
    # Only an explicitly named commitment is passed on: without one the throughput can be deleted any time.
    if plan.commitment:
        request["commitmentDuration"] = plan.commitment
    with translated("CreateProvisionedModelThroughput"):
        return str(_bedrock().create_provisioned_model_throughput(**request)["provisionedModelArn"])


@dataclass(frozen=True)
class ThroughputSnapshot:
    provisioned_model_arn: str
    status: str
    failure_message: str = ""
    model_units: int = 0
    commitment: str = ""


def describe_provisioned_throughput(arn: str) -> ThroughputSnapshot:
    with translated("GetProvisionedModelThroughput"):
        pt = _bedrock().get_provisioned_model_throughput(provisionedModelId=arn)
    return ThroughputSnapshot(
        provisioned_model_arn=arn,
        status=str(pt["status"]),
        failure_message=str(pt.get("failureMessage", "")),
        model_units=int(pt.get("modelUnits", 0)),
        commitment=str(pt.get("commitmentDuration", "")),
    )


def create_custom_model_deployment(plan: DeploymentPlan, model_arn: str, tags: dict[str, str]) -> str:
    """An on-demand deployment of the custom model (billed per token). The client request token makes a retried
    call return the deployment the first call created."""
    request: dict[str, Any] = {
        "modelDeploymentName": plan.deployment_name,
        "modelArn": model_arn,
        "description": plan.description,
        "clientRequestToken": plan.client_request_token,
        "tags": _tag_list(tags),
    }
    with translated("CreateCustomModelDeployment"):
        return str(_bedrock().create_custom_model_deployment(**request)["customModelDeploymentArn"])


@dataclass(frozen=True)
class DeploymentSnapshot:
    deployment_arn: str
    status: str
    failure_message: str = ""
    model_arn: str = ""
    # An update to another model (UpdateCustomModelDeployment): Updating | UpdateCompleted | UpdateFailed.
    update_status: str = ""
    update_model_arn: str = ""


def describe_custom_model_deployment(identifier: str) -> DeploymentSnapshot:
    """``identifier``: the deployment's ARN or name."""
    with translated("GetCustomModelDeployment"):
        deployment = _bedrock().get_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    update = deployment.get("updateDetails") or {}
    return DeploymentSnapshot(
        deployment_arn=str(deployment.get("customModelDeploymentArn") or identifier),
        status=str(deployment["status"]),
        failure_message=str(deployment.get("failureMessage", "")),
        model_arn=str(deployment.get("modelArn", "")),
        update_status=str(update.get("updateStatus", "")),
        update_model_arn=str(update.get("modelArn", "")),
    )


def update_custom_model_deployment(identifier: str, model_arn: str) -> str:
    """Switch an existing deployment to another custom model: its ARN, the one clients call, stays."""
    with translated("UpdateCustomModelDeployment"):
        answer = _bedrock().update_custom_model_deployment(customModelDeploymentIdentifier=identifier,
                                                           modelArn=model_arn)  # fmt: skip
    return str(answer["customModelDeploymentArn"])


def delete_custom_model_deployment(arn: str) -> None:
    with translated("DeleteCustomModelDeployment"):
        _bedrock().delete_custom_model_deployment(customModelDeploymentIdentifier=arn)


def json_ready(value: Any) -> Any:
    """botocore returns datetimes; the state machine needs JSON."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value


def delete_provisioned_throughput(arn: str) -> None:
    with translated("DeleteProvisionedModelThroughput"):
        _bedrock().delete_provisioned_model_throughput(provisionedModelId=arn)


@dataclass(frozen=True)
class Answer:
    text: str
    latency_ms: int | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = ""


def converse(model_id: str, prompt: str, system_prompt: str = "", max_tokens: int = 300,
             temperature: float | None = None) -> Answer:  # fmt: skip
    """One prompt through the Converse API: on a provisioned model or a deployment (the student), a foundation
    model or an inference profile (the teacher, the judge)."""
    config: dict[str, Any] = {"maxTokens": max_tokens}
    if temperature is not None:
        config["temperature"] = temperature
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
        "inferenceConfig": config,
    }
    if system_prompt:
        request["system"] = [{"text": system_prompt}]
    with translated("Converse"):
        answer = aws.client("bedrock-runtime").converse(**request)
    text = "".join(part.get("text", "") for part in answer["output"]["message"]["content"])
    usage = answer.get("usage") or {}
    return Answer(text=text, latency_ms=answer.get("metrics", {}).get("latencyMs"),
                  input_tokens=usage.get("inputTokens"), output_tokens=usage.get("outputTokens"),
                  stop_reason=str(answer.get("stopReason", "")))  # fmt: skip
