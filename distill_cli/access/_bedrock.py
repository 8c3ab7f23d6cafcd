"""Amazon Bedrock (control plane and runtime).

Actions and resource types: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html
An action with several required resource types is authorized against each resource the call names, so a call can
need the same action more than once (CreateModelCustomizationJob: the custom model it creates and the models it
reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distill_cli.access._model import Handler, Requirement, Where, param, tag_context, tags_of

# Cross-region inference profiles are named "<geography>.<model id>".
# https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html
_GEOGRAPHIES = ("us.", "eu.", "apac.", "ca.", "jp.", "au.", "us-gov.", "global.")
# What bedrock:InvokeModel accepts (the SAR's resource types for it).
_INVOKABLE = ("foundation-model/", "inference-profile/", "application-inference-profile/", "provisioned-model/",
              "custom-model-deployment/", "imported-model/", "prompt-router/", "default-prompt-router/")  # fmt: skip
_PASSED_TO = "bedrock.amazonaws.com"


def _resource_part(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "bedrock":
        raise ValueError(f"not a Bedrock ARN: {arn!r}")
    return parts[5]


def foundation_model(where: Where, model_id: str, region: str | None = None) -> str:
    # Foundation models belong to no account: arn:aws:bedrock:REGION::foundation-model/ID.
    return where.arn("bedrock", f"foundation-model/{model_id}", region=region, account="")


def _profile_models(where: Where, profile_id: str, profile_arn: str, invoke: bool) -> list[tuple[str, dict[str, str]]]:
    """A profile routes to its base model in each of its Regions, and IAM checks each of them:
    https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html
    https://repost.aws/knowledge-center/bedrock-access-denied-exception (bedrock:InferenceProfileArn, a key the
    SAR lists for the invoke actions only)."""
    if profile_id not in where.profile_regions:
        raise ValueError(f"which Regions does {profile_id} route to? Give them in Where.profile_regions")
    base = profile_id.split(".", 1)[1]
    return [
        (foundation_model(where, base, region),
         {"aws:RequestedRegion": region, **({"bedrock:InferenceProfileArn": profile_arn} if invoke else {})})
        for region in where.profile_regions[profile_id]
    ]  # fmt: skip


def _model_resources(where: Where, identifier: str, *, profiles: bool) -> list[tuple[str, dict[str, str]]]:
    """A model identifier (an ARN, a foundation model id, or an inference profile id) -> what IAM checks.
    ``profiles``: whether the action accepts the profile itself (InvokeModel) or only what it routes to."""
    if identifier.startswith("arn:"):
        resource = _resource_part(identifier)
        if resource.startswith("inference-profile/"):
            found = _profile_models(where, resource.split("/", 1)[1], identifier, profiles)
            return ([(identifier, {})] if profiles else []) + found
        return [(identifier, {})]
    if identifier.startswith(_GEOGRAPHIES):
        profile_arn = where.arn("bedrock", f"inference-profile/{identifier}")
        return ([(profile_arn, {})] if profiles else []) + _profile_models(where, identifier, profile_arn, profiles)
    return [(foundation_model(where, identifier), {})]


def _named(where: Where, identifier: str, kind: str) -> str:
    """An identifier that may be a name. AWS authorizes the resource's ARN; for a name we use the ARN
    Where.names gives, else ``<kind>/<name>`` (an assumption: real job and custom-model ARNs carry an id, which the
    project's policies cover with ``<kind>/*``)."""
    if identifier.startswith("arn:"):
        _resource_part(identifier)
        return identifier
    return where.names.get(identifier) or where.arn("bedrock", f"{kind}/{identifier}")


def _new(where: Where, kind: str) -> str:
    return where.arn("bedrock", f"{kind}/{where.new_resource_id}")


def _tagging(where: Where, kind: str, tags: dict[str, str]) -> list[Requirement]:
    """Tags passed to a Create call are authorized as bedrock:TagResource on the new resource too (the SAR's
    "API operations" table lists bedrock:TagResource among what Bedrock Create* operations authorize)."""
    return [Requirement("bedrock:TagResource", _new(where, kind), tag_context(tags))] if tags else []


def _pass_role(params: Mapping[str, Any], operation: str) -> Requirement:
    # Passing a role to a service is iam:PassRole on the role, with iam:PassedToService the service principal.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
    return Requirement("iam:PassRole", str(param(params, "roleArn", operation)), {"iam:PassedToService": _PASSED_TO})


def _create_customization_job(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    operation = "CreateModelCustomizationJob"
    job_tags, model_tags = tags_of(params.get("jobTags")), tags_of(params.get("customModelTags"))
    context = tag_context({**job_tags, **model_tags})
    action = "bedrock:CreateModelCustomizationJob"
    # SAR: custom-model* and foundation-model* (the model it creates and the model it starts from).
    found = [Requirement(action, _new(where, "custom-model"), context)]
    base = str(param(params, "baseModelIdentifier", operation))
    found += [
        Requirement(action, arn, {**context, **extra}) for arn, extra in _model_resources(where, base, profiles=False)
    ]
    teacher = (params.get("customizationConfig") or {}).get("distillationConfig", {}).get("teacherModelConfig", {})
    if teacher.get("teacherModelIdentifier"):
        # Assumption (strict): the teacher is authorized like the base model.
        models = _model_resources(where, str(teacher["teacherModelIdentifier"]), profiles=False)
        found += [Requirement(action, arn, {**context, **extra}) for arn, extra in models]
    found.append(_pass_role(params, operation))
    return found + _tagging(where, "model-customization-job", job_tags) + _tagging(where, "custom-model", model_tags)


def _on_job(action: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        job = str(param(params, "jobIdentifier", action))
        return [Requirement(action, _named(where, job, "model-customization-job"))]

    return handler


def _create_throughput(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # "the CreateProvisionedModelThroughput operation can only be used on custom model and foundation model
    # resources" (https://docs.aws.amazon.com/bedrock/latest/userguide/security_iam_id-based-policy-examples-pt.html)
    tags = tags_of(params.get("tags"))
    model = str(param(params, "modelId", "CreateProvisionedModelThroughput"))
    found = [
        Requirement("bedrock:CreateProvisionedModelThroughput", arn, {**tag_context(tags), **extra})
        for arn, extra in _model_resources(where, model, profiles=False)
    ]
    return found + _tagging(where, "provisioned-model", tags)


def _on_named(action: str, name: str, kind: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        return [Requirement(action, _named(where, str(param(params, name, action)), kind))]

    return handler


def _star(action: str) -> Handler:
    # List actions take no resource: "*" is the only resource they accept.
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        return [Requirement(action, "*")]

    return handler


def _create_deployment(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    tags = tags_of(params.get("tags"))
    model = _named(where, str(param(params, "modelArn", "CreateCustomModelDeployment")), "custom-model")
    found = [Requirement("bedrock:CreateCustomModelDeployment", model, tag_context(tags))]
    return found + _tagging(where, "custom-model-deployment", tags)


def _update_deployment(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # SAR: custom-model* and custom-model-deployment*.
    action = "bedrock:UpdateCustomModelDeployment"
    model = _named(where, str(param(params, "modelArn", action)), "custom-model")
    identifier = str(param(params, "customModelDeploymentIdentifier", action))
    return [Requirement(action, model), Requirement(action, _named(where, identifier, "custom-model-deployment"))]


def _tag_resource(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    arn = str(param(params, "resourceARN", "TagResource"))
    _resource_part(arn)
    return [Requirement("bedrock:TagResource", arn, tag_context(tags_of(params.get("tags"))))]


def _list_tags(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    arn = str(param(params, "resourceARN", "ListTagsForResource"))
    _resource_part(arn)
    return [Requirement("bedrock:ListTagsForResource", arn)]


def _get_foundation_model(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    model = str(param(params, "modelIdentifier", "GetFoundationModel"))
    return [
        Requirement("bedrock:GetFoundationModel", model if model.startswith("arn:") else foundation_model(where, model))
    ]


def _evaluation_models(params: Mapping[str, Any]) -> list[str]:
    models = [
        str(entry["bedrockModel"]["modelIdentifier"])
        for entry in (params.get("inferenceConfig") or {}).get("models", [])
        if "bedrockModel" in entry
    ]
    automated = (params.get("evaluationConfig") or {}).get("automated") or {}
    evaluators = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels", [])
    return models + [str(entry["modelIdentifier"]) for entry in evaluators]


def _create_evaluation_job(params: Mapping[str, Any], where: Where) -> list[Requirement]:
    # SAR: custom-model*, foundation-model* (and prompt routers): the models the job evaluates or judges with.
    tags = tags_of(params.get("jobTags"))
    action = "bedrock:CreateEvaluationJob"
    found: list[Requirement] = []
    for model in _evaluation_models(params):
        found += [Requirement(action, arn, {**tag_context(tags), **extra})
                  for arn, extra in _model_resources(where, model, profiles=False)]  # fmt: skip
    if not found:
        raise ValueError("CreateEvaluationJob names no Bedrock model to authorize")
    return [*found, _pass_role(params, "CreateEvaluationJob"), *_tagging(where, "evaluation-job", tags)]


def _invoke(action: str) -> Handler:
    def handler(params: Mapping[str, Any], where: Where) -> list[Requirement]:
        # Converse is authorized as bedrock:InvokeModel, ConverseStream as bedrock:InvokeModelWithResponseStream.
        # https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
        if params.get("guardrailConfig") or params.get("guardrailIdentifier"):
            raise ValueError("guardrails are not modelled (they need bedrock:ApplyGuardrail on the guardrail)")
        model = str(param(params, "modelId", action))
        resources = _model_resources(where, model, profiles=True)
        for arn, _ in resources:
            if not _resource_part(arn).startswith(_INVOKABLE):
                raise ValueError(f"{action} cannot name {arn}: invoke a provisioned model or a deployment of it")
        return [Requirement(action, arn, extra) for arn, extra in resources]

    return handler


CONTROL: dict[str, Handler] = {
    "CreateModelCustomizationJob": _create_customization_job,
    "GetModelCustomizationJob": _on_job("bedrock:GetModelCustomizationJob"),
    "StopModelCustomizationJob": _on_job("bedrock:StopModelCustomizationJob"),
    "CreateProvisionedModelThroughput": _create_throughput,
    "GetProvisionedModelThroughput": _on_named(
        "bedrock:GetProvisionedModelThroughput", "provisionedModelId", "provisioned-model"
    ),
    "DeleteProvisionedModelThroughput": _on_named(
        "bedrock:DeleteProvisionedModelThroughput", "provisionedModelId", "provisioned-model"
    ),
    "ListProvisionedModelThroughputs": _star("bedrock:ListProvisionedModelThroughputs"),
    "CreateCustomModelDeployment": _create_deployment,
    "GetCustomModelDeployment": _on_named(
        "bedrock:GetCustomModelDeployment", "customModelDeploymentIdentifier", "custom-model-deployment"
    ),
    "UpdateCustomModelDeployment": _update_deployment,
    "DeleteCustomModelDeployment": _on_named(
        "bedrock:DeleteCustomModelDeployment", "customModelDeploymentIdentifier", "custom-model-deployment"
    ),
    "ListCustomModelDeployments": _star("bedrock:ListCustomModelDeployments"),
    "ListTagsForResource": _list_tags,
    "TagResource": _tag_resource,
    "GetFoundationModel": _get_foundation_model,
    "ListFoundationModels": _star("bedrock:ListFoundationModels"),
    "CreateEvaluationJob": _create_evaluation_job,
    "GetEvaluationJob": _on_named("bedrock:GetEvaluationJob", "jobIdentifier", "evaluation-job"),
}

RUNTIME: dict[str, Handler] = {
    "InvokeModel": _invoke("bedrock:InvokeModel"),
    "Converse": _invoke("bedrock:InvokeModel"),
    "InvokeModelWithResponseStream": _invoke("bedrock:InvokeModelWithResponseStream"),
    "ConverseStream": _invoke("bedrock:InvokeModelWithResponseStream"),
}
