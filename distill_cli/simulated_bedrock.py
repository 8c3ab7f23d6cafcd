"""An in-process Bedrock that behaves like the real one for this pipeline's calls.

Used by ``distill local-run`` and by the tests. Requests are checked against botocore's model of the real
API (so a wrong field name or type fails here as it would in AWS); errors are raised as botocore
``ClientError`` with Bedrock's error codes; a customization job walks InProgress through its validation,
data processing and training phases to the outcome it was told to reach; provisioned throughput goes
Creating -> InService (or Failed), a custom model deployment Creating -> Active (or Failed). moto's own Bedrock
cannot do this (see docs/toolchain notes).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

Outcome = Literal["completed", "failed", "stopped"]

FAILURE_MESSAGES = {
    "failed": (
        "Internal error: the teacher model could not generate responses for 412 of 500 prompts "
        "(insufficient valid prompts after data processing: 88 < 100)."
    ),
    "stopped": "Job stopped by user request (StopModelCustomizationJob).",
}
DEPLOYMENT_FAILURE = (
    "Deployment failed: on-demand inference is not supported for this custom model in this Region. "
    "Use provisioned throughput, or deploy a model customized from a supported base model."
)
_PHASES = ("validationDetails", "dataProcessingDetails", "trainingDetails")


@dataclass
class _Job:
    arn: str
    request: dict[str, Any]
    outcome: Outcome
    checks_to_finish: int
    created: datetime
    checks: int = 0

    @property
    def name(self) -> str:
        return str(self.request["jobName"])


@dataclass
class _Throughput:
    arn: str
    request: dict[str, Any]
    fails: bool
    checks_to_finish: int
    created: datetime
    checks: int = 0
    deleted: bool = False


@dataclass
class _Deployment:
    arn: str
    request: dict[str, Any]
    fails: bool
    checks_to_finish: int
    created: datetime
    checks: int = 0
    deleted: bool = False

    @property
    def name(self) -> str:
        return str(self.request["modelDeploymentName"])

    @property
    def status(self) -> str:
        if self.checks < self.checks_to_finish:
            return "Creating"
        return "Failed" if self.fails else "Active"


@dataclass
class SimulatedBedrock:
    """A fake ``bedrock`` client (and, via :meth:`runtime`, ``bedrock-runtime``).

    job_outcome / job_checks: how the next jobs end and after how many status checks.
    faults: operation name -> queue of error codes to raise, one per call, before answering normally.
    """

    region: str = "us-east-1"
    account: str = "123456789012"
    job_outcome: Outcome = "completed"
    job_checks: int = 3
    throughput_fails: bool = False
    throughput_checks: int = 2
    deployment_fails: bool = False
    deployment_checks: int = 2
    s3: Any = None  # when set, a completed job writes its metrics under the output URI, like Bedrock does
    faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    jobs: dict[str, _Job] = field(default_factory=dict)
    throughputs: dict[str, _Throughput] = field(default_factory=dict)
    deployments: dict[str, _Deployment] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test controls ------------------------------------------------------------------------------
    def fail_next(self, operation: str, *codes: str) -> None:
        """Make the next calls of ``operation`` (e.g. 'CreateModelCustomizationJob') raise these codes."""
        self.faults[operation].extend(codes)

    def calls_of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]

    # --- bedrock API ----------------------------------------------------------------------------------
    def create_model_customization_job(self, **params: Any) -> dict[str, Any]:
        self._enter("CreateModelCustomizationJob", params)
        with self._lock:
            for job in self.jobs.values():
                if job.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"jobArn": job.arn}  # idempotent retry: the same job, not a second one
                if job.name == params["jobName"]:
                    raise self._error(
                        "ConflictException", f"A job with name {params['jobName']} already exists", "Create"
                    )
            arn = f"arn:aws:bedrock:{self.region}:{self.account}:model-customization-job/{self._id(params['jobName'])}"
            self.jobs[arn] = _Job(arn, params, self.job_outcome, self.job_checks, _now())
            return {"jobArn": arn}

    def get_model_customization_job(self, **params: Any) -> dict[str, Any]:
        self._enter("GetModelCustomizationJob", params)
        with self._lock:
            job = self._find_job(params["jobIdentifier"])
            job.checks += 1
            return self._describe(job)

    def stop_model_customization_job(self, **params: Any) -> dict[str, Any]:
        self._enter("StopModelCustomizationJob", params)
        with self._lock:
            job = self._find_job(params["jobIdentifier"])
            job.outcome = "stopped"
            return {}

    def create_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        self._enter("CreateProvisionedModelThroughput", params)
        with self._lock:
            for pt in self.throughputs.values():
                if pt.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"provisionedModelArn": pt.arn}
            self._require_model(params["modelId"], "CreateProvisionedModelThroughput")
            arn = f"arn:aws:bedrock:{self.region}:{self.account}:provisioned-model/{self._id(params['provisionedModelName'])}"
            self.throughputs[arn] = _Throughput(arn, params, self.throughput_fails, self.throughput_checks, _now())
            return {"provisionedModelArn": arn}

    def get_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        self._enter("GetProvisionedModelThroughput", params)
        with self._lock:
            pt = self._find_throughput(params["provisionedModelId"])
            pt.checks += 1
            done = pt.checks >= pt.checks_to_finish
            status = ("Failed" if pt.fails else "InService") if done else "Creating"
            answer: dict[str, Any] = {
                "modelUnits": pt.request["modelUnits"],
                "desiredModelUnits": pt.request["modelUnits"],
                "provisionedModelName": pt.request["provisionedModelName"],
                "provisionedModelArn": pt.arn,
                "modelArn": pt.request["modelId"],
                "desiredModelArn": pt.request["modelId"],
                "foundationModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/amazon.nova-micro-v1:0",
                "status": status,
                "creationTime": pt.created,
                "lastModifiedTime": _now(),
            }
            if status == "Failed":
                answer["failureMessage"] = "Insufficient capacity for 1 model unit of this custom model in us-east-1."
            if "commitmentDuration" in pt.request:
                answer["commitmentDuration"] = pt.request["commitmentDuration"]
            return answer

    def delete_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        self._enter("DeleteProvisionedModelThroughput", params)
        with self._lock:
            pt = self._find_throughput(params["provisionedModelId"])
            pt.deleted = True
            return {}

    def list_provisioned_model_throughputs(self, **params: Any) -> dict[str, Any]:
        self._enter("ListProvisionedModelThroughputs", params)
        with self._lock:
            live = [pt for pt in self.throughputs.values() if not pt.deleted]
            return {"provisionedModelSummaries": [self._pt_summary(pt) for pt in live]}

    def create_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        self._enter("CreateCustomModelDeployment", params)
        with self._lock:
            live = [d for d in self.deployments.values() if not d.deleted]
            for deployment in live:
                if deployment.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"customModelDeploymentArn": deployment.arn}  # idempotent retry
                if deployment.name == params["modelDeploymentName"]:
                    raise self._error(
                        "ConflictException",
                        f"A custom model deployment named {params['modelDeploymentName']} already exists",
                        "CreateCustomModelDeployment",
                    )
            self._require_model(params["modelArn"], "CreateCustomModelDeployment")
            arn = (
                f"arn:aws:bedrock:{self.region}:{self.account}:custom-model-deployment/"
                f"{self._id(params['modelDeploymentName'] + str(len(self.deployments)))}"
            )
            self.deployments[arn] = _Deployment(arn, params, self.deployment_fails, self.deployment_checks, _now())
            return {"customModelDeploymentArn": arn}

    def get_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        self._enter("GetCustomModelDeployment", params)
        with self._lock:
            deployment = self._find_deployment(params["customModelDeploymentIdentifier"], "GetCustomModelDeployment")
            deployment.checks += 1
            answer: dict[str, Any] = {
                "customModelDeploymentArn": deployment.arn,
                "modelDeploymentName": deployment.name,
                "modelArn": deployment.request["modelArn"],
                "createdAt": deployment.created,
                "status": deployment.status,
                "lastUpdatedAt": _now(),
            }
            if "description" in deployment.request:
                answer["description"] = deployment.request["description"]
            if deployment.status == "Failed":
                answer["failureMessage"] = DEPLOYMENT_FAILURE
            return answer

    def delete_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        self._enter("DeleteCustomModelDeployment", params)
        with self._lock:
            identifier = params["customModelDeploymentIdentifier"]
            self._find_deployment(identifier, "DeleteCustomModelDeployment").deleted = True
            return {}

    def list_custom_model_deployments(self, **params: Any) -> dict[str, Any]:
        self._enter("ListCustomModelDeployments", params)
        with self._lock:
            summaries = []
            for d in self.deployments.values():
                if d.deleted:
                    continue
                summary: dict[str, Any] = {
                    "customModelDeploymentArn": d.arn,
                    "customModelDeploymentName": d.name,
                    "modelArn": d.request["modelArn"],
                    "createdAt": d.created,
                    "status": d.status,
                    "lastUpdatedAt": _now(),
                }
                if d.status == "Failed":
                    summary["failureMessage"] = DEPLOYMENT_FAILURE
                summaries.append(summary)
            return {"modelDeploymentSummaries": summaries}

    def list_tags_for_resource(self, **params: Any) -> dict[str, Any]:
        self._enter("ListTagsForResource", params)
        with self._lock:
            arn = params["resourceARN"]
            items: list[_Job | _Throughput | _Deployment] = [
                *self.jobs.values(),
                *self.throughputs.values(),
                *self.deployments.values(),
            ]
            for item in items:
                if item.arn == arn:
                    return {"tags": list(item.request.get("tags", item.request.get("jobTags", [])))}
            raise self._error("ResourceNotFoundException", f"{arn} not found", "ListTagsForResource")

    def _pt_summary(self, pt: _Throughput) -> dict[str, Any]:
        done = pt.checks >= pt.checks_to_finish
        summary: dict[str, Any] = {
            "provisionedModelName": pt.request["provisionedModelName"],
            "provisionedModelArn": pt.arn,
            "modelArn": pt.request["modelId"],
            "desiredModelArn": pt.request["modelId"],
            "foundationModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/amazon.nova-micro-v1:0",
            "modelUnits": pt.request["modelUnits"],
            "desiredModelUnits": pt.request["modelUnits"],
            "status": ("Failed" if pt.fails else "InService") if done else "Creating",
            "creationTime": pt.created,
            "lastModifiedTime": _now(),
        }
        if "commitmentDuration" in pt.request:
            summary["commitmentDuration"] = pt.request["commitmentDuration"]
        return summary

    # --- plumbing ---------------------------------------------------------------------------------------
    def _enter(self, operation: str, params: dict[str, Any]) -> None:
        """Record the call, check it against the real API model, raise a queued fault if there is one."""
        from botocore.session import get_session
        from botocore.validate import validate_parameters

        self.calls.append((operation, params))
        model = get_session().get_service_model("bedrock").operation_model(operation)
        validate_parameters(params, model.input_shape)  # raises ParamValidationError like boto3 would
        if self.faults.get(operation):
            code = self.faults[operation].popleft()
            raise self._error(code, f"Simulated {code}", operation)

    def _error(self, code: str, message: str, operation: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, operation)

    def _id(self, name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:12]

    def _model_arn(self, job: _Job) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account}:custom-model/amazon.nova-micro-v1:0:128k/{self._id(job.name)}"

    def _find_job(self, identifier: str) -> _Job:
        for job in self.jobs.values():
            if identifier in (job.arn, job.name):
                return job
        raise self._error("ResourceNotFoundException", f"Job {identifier} not found", "GetModelCustomizationJob")

    def _require_model(self, model_arn: str, operation: str) -> None:
        """Only the output of a completed job exists as a custom model."""
        if not any(j.checks >= j.checks_to_finish and self._model_arn(j) == model_arn for j in self.jobs.values()):
            raise self._error("ResourceNotFoundException", f"Model {model_arn} not found", operation)

    def _find_deployment(self, identifier: str, operation: str) -> _Deployment:
        for deployment in self.deployments.values():
            if identifier in (deployment.arn, deployment.name) and not deployment.deleted:
                return deployment
        raise self._error("ResourceNotFoundException", f"Custom model deployment {identifier} not found", operation)

    def _find_throughput(self, identifier: str) -> _Throughput:
        for pt in self.throughputs.values():
            if identifier in (pt.arn, pt.request["provisionedModelName"]) and not pt.deleted:
                return pt
        raise self._error("ResourceNotFoundException", f"Provisioned model {identifier} not found", "Get")

    def _describe(self, job: _Job) -> dict[str, Any]:
        done = job.checks >= job.checks_to_finish
        # Phases complete one by one as checks go by, like the real statusDetails.
        progress = min(len(_PHASES), (job.checks * len(_PHASES)) // max(job.checks_to_finish, 1))
        details: dict[str, Any] = {}
        for index, phase in enumerate(_PHASES):
            if done and job.outcome != "completed" and index >= 1:
                state = "Failed" if job.outcome == "failed" else "Stopped"
            elif index < progress or (done and job.outcome == "completed"):
                state = "Completed"
            elif index == progress:
                state = "InProgress"
            else:
                state = "NotStarted"
            details[phase] = {"status": state, "creationTime": job.created, "lastModifiedTime": _now()}
        status = (
            {"completed": "Completed", "failed": "Failed", "stopped": "Stopped"}[job.outcome] if done else "InProgress"
        )
        answer: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": job.request["customModelName"],
            "clientRequestToken": job.request.get("clientRequestToken", ""),
            "roleArn": job.request["roleArn"],
            "status": status,
            "statusDetails": details,
            "creationTime": job.created,
            "lastModifiedTime": _now(),
            "baseModelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{job.request['baseModelIdentifier']}",
            "trainingDataConfig": job.request["trainingDataConfig"],
            "validationDataConfig": job.request.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": job.request["outputDataConfig"],
            "customizationType": "DISTILLATION",
            "customizationConfig": job.request["customizationConfig"],
        }
        if done:
            answer["endTime"] = job.created + timedelta(hours=5)
            if status == "Completed":
                answer["outputModelArn"] = self._model_arn(job)
                self._write_outputs(job)
            else:
                answer["failureMessage"] = FAILURE_MESSAGES[job.outcome]
        return answer

    def _write_outputs(self, job: _Job) -> None:
        if self.s3 is None:
            return
        uri = job.request["outputDataConfig"]["s3Uri"]
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        prefix = prefix if prefix.endswith("/") or not prefix else prefix + "/"
        base = f"{prefix}{job.arn.rsplit('/', 1)[-1]}/"
        metrics = "step_number,epoch_number,training_loss\n" + "".join(
            f"{step},{step // 10},{2.5 / (1 + step / 20):.4f}\n" for step in range(1, 51)
        )
        self.s3.put_object(Bucket=bucket, Key=f"{base}training_artifacts/step_wise_training_metrics.csv", Body=metrics)
        self.s3.put_object(
            Bucket=bucket,
            Key=f"{base}distillation_data/prompt_insights.json",
            Body=b'{"promptsReceived": 120, "promptsUsed": 118, "responsesGenerated": 118}',
        )


class SimulatedBedrockRuntime:
    """bedrock-runtime Converse against a provisioned model or an active deployment the simulator knows."""

    def __init__(self, bedrock: SimulatedBedrock) -> None:
        self.bedrock = bedrock

    def converse(self, **params: Any) -> dict[str, Any]:
        model = params["modelId"]
        known = any(pt.arn == model and not pt.deleted for pt in self.bedrock.throughputs.values()) or any(
            d.arn == model and not d.deleted and d.status == "Active" for d in self.bedrock.deployments.values()
        )
        if not known:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException", "Message": f"{model} not found"}}, "Converse"
            )
        prompt = params["messages"][-1]["content"][0]["text"]
        text = f"(distilled model) Thanks for reaching out. Here is what to do about: {prompt[:80]}"
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": len(prompt.split()), "outputTokens": len(text.split()), "totalTokens": 0},
            "metrics": {"latencyMs": 120},
        }


def _now() -> datetime:
    return datetime.now(UTC)
