"""Serving in the simulated Bedrock: provisioned throughput (Creating -> InService or Failed) and on-demand
custom model deployments (Creating -> Active or Failed), with tags, listing and deletion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distill_cli.offline.bedrock import contracts
from distill_cli.offline.bedrock.jobs import Job, short_id

UPDATE_FAILURE = (
    "Update failed: the new custom model could not be deployed; the deployment keeps serving its previous model."
)
DEPLOYMENT_FAILURE = (
    "Deployment failed: on-demand inference is not supported for this custom model in this Region. "
    "Use provisioned throughput, or deploy a model customized from a supported base model."
)
THROUGHPUT_FAILURE = "Insufficient capacity for 1 model unit of this custom model in us-east-1."


@dataclass
class Throughput:
    arn: str
    request: dict[str, Any]
    fails: bool
    checks_to_finish: int
    created: float
    checks: int = 0
    deleted: bool = False

    @property
    def status(self) -> str:
        if self.checks < self.checks_to_finish:
            return "Creating"
        return "Failed" if self.fails else "InService"


@dataclass
class Update:
    """UpdateCustomModelDeployment's work: Updating for ``checks_to_finish`` looks, then done (or failed)."""

    model_arn: str
    fails: bool
    checks_to_finish: int
    checks: int = 0

    @property
    def status(self) -> str:
        if self.checks <= self.checks_to_finish:
            return "Updating"
        return "UpdateFailed" if self.fails else "UpdateCompleted"


@dataclass
class Deployment:
    arn: str
    request: dict[str, Any]
    fails: bool
    checks_to_finish: int
    created: float
    checks: int = 0
    deleted: bool = False
    model_arn: str = ""  # the model it serves now (the request's, until an update completes)
    update: Update | None = None  # the last update asked for

    def __post_init__(self) -> None:
        self.model_arn = self.model_arn or str(self.request["modelArn"])

    @property
    def name(self) -> str:
        return str(self.request["modelDeploymentName"])

    @property
    def status(self) -> str:
        if self.checks < self.checks_to_finish:
            return "Creating"
        return "Failed" if self.fails else "Active"

    def look(self) -> None:
        """One GetCustomModelDeployment: creation and an update move on; a completed update switches the model."""
        self.checks += 1
        if self.update is not None and self.update.status == "Updating":
            self.update.checks += 1
            if self.update.status == "UpdateCompleted":
                self.model_arn = self.update.model_arn


class ServingMixin:
    """Needs what JobsMixin needs, plus throughputs, deployments and their options (see SimulatedBedrock)."""

    # --- provisioned throughput ----------------------------------------------------------------------
    def create_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("CreateProvisionedModelThroughput", params)
        with s._lock:
            for pt in s.throughputs.values():
                if pt.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"provisionedModelArn": pt.arn}
            self._require_model(params["modelId"], "CreateProvisionedModelThroughput")
            arn = f"arn:aws:bedrock:{s.region}:{s.account}:provisioned-model/{short_id(params['provisionedModelName'])}"
            s.throughputs[arn] = Throughput(arn, params, s.throughput_fails, s.throughput_checks, s._now())
            return {"provisionedModelArn": arn}

    def get_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("GetProvisionedModelThroughput", params)
        with s._lock:
            pt = self._find_throughput(params["provisionedModelId"], "GetProvisionedModelThroughput")
            pt.checks += 1
            answer = self._pt_summary(pt)
            if pt.status == "Failed":
                answer["failureMessage"] = THROUGHPUT_FAILURE
            return answer

    def delete_provisioned_model_throughput(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("DeleteProvisionedModelThroughput", params)
        with s._lock:
            self._find_throughput(params["provisionedModelId"], "DeleteProvisionedModelThroughput").deleted = True
            return {}

    def list_provisioned_model_throughputs(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("ListProvisionedModelThroughputs", params)
        with s._lock:
            live = [pt for pt in s.throughputs.values() if not pt.deleted]
            return {"provisionedModelSummaries": [self._pt_summary(pt) for pt in live]}

    def _pt_summary(self, pt: Throughput) -> dict[str, Any]:
        s: Any = self
        summary: dict[str, Any] = {
            "provisionedModelName": pt.request["provisionedModelName"], "provisionedModelArn": pt.arn,
            "modelArn": pt.request["modelId"], "desiredModelArn": pt.request["modelId"],
            "foundationModelArn": f"arn:aws:bedrock:{s.region}::foundation-model/amazon.nova-micro-v1:0",
            "modelUnits": pt.request["modelUnits"], "desiredModelUnits": pt.request["modelUnits"],
            "status": pt.status, "creationTime": s._time(pt.created), "lastModifiedTime": s._time(s._now()),
        }  # fmt: skip
        if "commitmentDuration" in pt.request:
            summary["commitmentDuration"] = pt.request["commitmentDuration"]
        return summary

    def _find_throughput(self, identifier: str, operation: str) -> Throughput:
        s: Any = self
        for pt in s.throughputs.values():
            if identifier in (pt.arn, pt.request["provisionedModelName"]) and not pt.deleted:
                return pt  # type: ignore[no-any-return]
        raise s._error("ResourceNotFoundException", f"Provisioned model {identifier} not found", operation)

    # --- on-demand deployments -----------------------------------------------------------------------------
    def create_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("CreateCustomModelDeployment", params)
        with s._lock:
            for deployment in (d for d in s.deployments.values() if not d.deleted):
                if deployment.request.get("clientRequestToken") == params.get("clientRequestToken"):
                    return {"customModelDeploymentArn": deployment.arn}  # idempotent retry
                if deployment.name == params["modelDeploymentName"]:
                    raise s._error("ConflictException", f"A custom model deployment named "
                                   f"{params['modelDeploymentName']} already exists", "CreateCustomModelDeployment")  # fmt: skip
            self._require_model(params["modelArn"], "CreateCustomModelDeployment")
            arn = (f"arn:aws:bedrock:{s.region}:{s.account}:custom-model-deployment/"
                   f"{short_id(params['modelDeploymentName'] + str(len(s.deployments)))}")  # fmt: skip
            s.deployments[arn] = Deployment(arn, params, s.deployment_fails, s.deployment_checks, s._now())
            return {"customModelDeploymentArn": arn}

    def get_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("GetCustomModelDeployment", params)
        with s._lock:
            deployment = self._find_deployment(params["customModelDeploymentIdentifier"], "GetCustomModelDeployment")
            deployment.look()
            answer = self._deployment_summary(deployment)
            answer.pop("customModelDeploymentName")
            answer["modelDeploymentName"] = deployment.name
            if "description" in deployment.request:
                answer["description"] = deployment.request["description"]
            update = deployment.update
            if update is not None:  # only once an update was asked for
                answer["updateDetails"] = {"modelArn": update.model_arn, "updateStatus": update.status}
                if update.status == "UpdateFailed":
                    answer["failureMessage"] = UPDATE_FAILURE
            return answer

    def update_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        """Serve another completed custom model from an Active deployment. The deployment stays Active and keeps
        serving its model while the update is Updating (``deployment_checks`` looks by GetCustomModelDeployment),
        then serves the new one (UpdateCompleted), or keeps the old one (UpdateFailed, with ``update_fails``)."""
        s: Any = self
        operation = "UpdateCustomModelDeployment"
        s._enter(operation, params)
        with s._lock:
            deployment = self._find_deployment(params["customModelDeploymentIdentifier"], operation)
            if deployment.status != "Active":
                raise s._error("ValidationException", f"Custom model deployment {deployment.name} is "
                               f"{deployment.status}; only an Active one can be updated", operation)  # fmt: skip
            if deployment.update is not None and deployment.update.status == "Updating":
                raise s._error("ValidationException", f"Custom model deployment {deployment.name} is already being "
                               f"updated to {deployment.update.model_arn}", operation)  # fmt: skip
            self._require_model(params["modelArn"], operation)
            deployment.update = Update(params["modelArn"], s.update_fails, s.deployment_checks)
            return {"customModelDeploymentArn": deployment.arn}

    def delete_custom_model_deployment(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("DeleteCustomModelDeployment", params)
        with s._lock:
            identifier = params["customModelDeploymentIdentifier"]
            self._find_deployment(identifier, "DeleteCustomModelDeployment").deleted = True
            return {}

    def list_custom_model_deployments(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("ListCustomModelDeployments", params)
        with s._lock:
            live = [d for d in s.deployments.values() if not d.deleted]
            return {"modelDeploymentSummaries": [self._deployment_summary(d) for d in live]}

    def _deployment_summary(self, d: Deployment) -> dict[str, Any]:
        s: Any = self
        summary: dict[str, Any] = {
            "customModelDeploymentArn": d.arn, "customModelDeploymentName": d.name, "modelArn": d.model_arn,
            "createdAt": s._time(d.created), "status": d.status, "lastUpdatedAt": s._time(s._now()),
        }  # fmt: skip
        if d.status == "Failed":
            summary["failureMessage"] = DEPLOYMENT_FAILURE
        return summary

    def _find_deployment(self, identifier: str, operation: str) -> Deployment:
        s: Any = self
        for deployment in s.deployments.values():
            if identifier in (deployment.arn, deployment.name) and not deployment.deleted:
                return deployment  # type: ignore[no-any-return]
        raise s._error("ResourceNotFoundException", f"Custom model deployment {identifier} not found", operation)

    def seed_deployment(self, name: str, *, tags: Mapping[str, str] | None = None) -> str:
        """An on-demand deployment named ``name`` that an earlier run made, Active and serving that run's model:
        a completed distillation job (so its custom model exists) and the deployment, tagged as the pipeline tags
        what it creates (``PIPELINE_TAG``, ``distill:execution`` and ``distill:run-id`` of that earlier run; plus
        ``tags``). Made directly, as if before the test: no call is recorded or authorized, no event is sent.
        Returns the deployment ARN (the model is ``deployments[arn].model_arn``)."""
        from distill import naming
        from distill.settings import DEFAULT_STUDENT, DEFAULT_TEACHER, PIPELINE_TAG
        from distill_cli.offline.api_model import check_request

        s: Any = self
        with s._lock:
            if any(d.name == name and not d.deleted for d in s.deployments.values()):
                raise ValueError(f"a custom model deployment named {name!r} exists already")
            execution = f"earlier-run-{name}"[:80]
            execution_arn = f"arn:aws:states:{s.region}:{s.account}:execution:distill-pipeline:{execution}"
            run = naming.run_id(execution, execution_arn)
            all_tags = {**(tags or {}), PIPELINE_TAG[0]: PIPELINE_TAG[1], "distill:execution": execution,
                        "distill:run-id": run}  # fmt: skip
            tag_list = [{"key": k, "value": v} for k, v in sorted(all_tags.items())]
            created = max(0.0, s._now() - 86_400)
            job_request: dict[str, Any] = {
                "jobName": naming.job_name(run), "customModelName": naming.custom_model_name(run),
                "roleArn": f"arn:aws:iam::{s.account}:role/distill-bedrock-service-role",
                "clientRequestToken": naming.client_request_token(execution_arn, "job"),
                "baseModelIdentifier": DEFAULT_STUDENT, "customizationType": "DISTILLATION",
                "trainingDataConfig": {"s3Uri": f"s3://distill-earlier-runs/datasets/{run}/train.jsonl"},
                "outputDataConfig": {"s3Uri": f"s3://distill-earlier-runs/jobs/{run}/"},
                "customizationConfig": {"distillationConfig": {"teacherModelConfig": {
                    "teacherModelIdentifier": DEFAULT_TEACHER, "maxResponseLengthForInference": 1000}}},
                "jobTags": tag_list, "customModelTags": tag_list,
            }  # fmt: skip
            check_request("bedrock", "CreateModelCustomizationJob", job_request)
            job_arn = (f"arn:aws:bedrock:{s.region}:{s.account}:model-customization-job/{DEFAULT_STUDENT}/"
                       f"{short_id(job_request['jobName'])}")  # fmt: skip
            job = Job(job_arn, job_request, "completed", 0, created, announced=True, earlier=True)
            s.jobs[job_arn] = job
            request = {"modelDeploymentName": name, "modelArn": s.model_arn(job), "tags": tag_list,
                       "description": f"Deployed by the distillation pipeline run {run}",
                       "clientRequestToken": naming.client_request_token(execution_arn, "deployment")}  # fmt: skip
            check_request("bedrock", "CreateCustomModelDeployment", request)
            arn = (f"arn:aws:bedrock:{s.region}:{s.account}:custom-model-deployment/"
                   f"{short_id(name + str(len(s.deployments)))}")  # fmt: skip
            s.deployments[arn] = Deployment(arn, request, False, 0, created)
            return arn

    # --- shared --------------------------------------------------------------------------------------------
    def _require_model(self, model_arn: str, operation: str) -> None:
        """Only the output of a completed job exists as a custom model; an encrypted one needs the caller to be
        able to decrypt its key ("Allow access to an encrypted model")."""
        s: Any = self
        job = s.completed_model(model_arn)
        if job is None:
            raise s._error("ResourceNotFoundException", f"Model {model_arn} not found", operation)
        key = job.request.get("customModelKmsKeyId")
        if key and s.caller_problem is not None:
            problem = s.caller_problem(contracts.model_key_needs_for_user(key, s.region))
            if problem:
                raise s._error("AccessDeniedException", problem, operation)

    def list_tags_for_resource(self, **params: Any) -> dict[str, Any]:
        s: Any = self
        s._enter("ListTagsForResource", params)
        with s._lock:
            arn = params["resourceARN"]
            for item in [*s.jobs.values(), *s.throughputs.values(), *s.deployments.values()]:
                if item.arn == arn:
                    return {"tags": list(item.request.get("tags", item.request.get("jobTags", [])))}
            raise s._error("ResourceNotFoundException", f"{arn} not found", "ListTagsForResource")
