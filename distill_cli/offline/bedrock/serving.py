"""Serving in the simulated Bedrock: provisioned throughput (Creating -> InService or Failed) and on-demand
custom model deployments (Creating -> Active or Failed), with tags, listing and deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distill_cli.offline.bedrock import contracts
from distill_cli.offline.bedrock.jobs import short_id

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
class Deployment:
    arn: str
    request: dict[str, Any]
    fails: bool
    checks_to_finish: int
    created: float
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
            deployment.checks += 1
            answer = self._deployment_summary(deployment)
            answer.pop("customModelDeploymentName")
            answer["modelDeploymentName"] = deployment.name
            if "description" in deployment.request:
                answer["description"] = deployment.request["description"]
            return answer

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
            "customModelDeploymentArn": d.arn, "customModelDeploymentName": d.name, "modelArn": d.request["modelArn"],
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
