"""The execution input a person pastes in the console, and the resolved run every later state works from.

Only ``dataset`` is required; everything else falls back to the deployed defaults (cdk.json). Unknown
fields, wrong types, models outside the allow-list and data outside the project's bucket are refused here,
in the first state, with a message that names the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from distill import naming
from distill.errors import InvalidRunInput
from distill.evaluation_plan import EvaluationPlan, resolve_evaluation, wants_evaluation
from distill.locations import RunLocations, S3Location
from distill.log_source import InvocationLogsPlan, InvocationLogsRequest, resolve_logs
from distill.settings import PipelineSettings, Strict

InputFormat = Literal["auto", "prompt-completion", "conversation", "chat"]
OnInvalid = Literal["fail", "drop"]
Commitment = Literal["OneMonth", "SixMonths"]
# How the distilled model is served once the job completed; the state machine's
# "How should the model be served?" choice reads it from $.run.serving.
Serving = Literal["none", "provisioned-throughput", "on-demand"]
SourceKind = Literal["dataset", "invocation-logs"]
SYSTEM_PROMPT_MAX = 20_000
ModelUnits = Annotated[int, msgspec.Meta(ge=1, le=100)]


class ProvisionedThroughputRequest(Strict, frozen=True):
    model_units: ModelUnits = 1
    # No commitment unless one is named: a commitment cannot be deleted before its term ends.
    commitment: Commitment | None = None


class OnDemandDeploymentRequest(Strict, frozen=True):
    """An on-demand custom model deployment: billed per token, nothing by the hour. An object so options can
    be added later."""

    # Bedrock's pattern is ".*": one line.
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=2048, pattern=r"^[^\r\n]+$")] | None = None


class RunRequest(Strict, frozen=True):
    dataset: str | None = None  # a prepared dataset ... or Bedrock's invocation logs (exactly one of the two)
    invocation_logs: InvocationLogsRequest | None = None
    teacher_model_id: str | None = None
    student_model_id: str | None = None
    max_response_length: Annotated[int, msgspec.Meta(ge=1, le=32768)] | None = None
    system_prompt: Annotated[str, msgspec.Meta(max_length=SYSTEM_PROMPT_MAX)] | None = None
    input_format: InputFormat = "auto"
    on_invalid_records: OnInvalid = "fail"
    provisioned_throughput: ProvisionedThroughputRequest | None = None
    on_demand_deployment: OnDemandDeploymentRequest | None = None
    job_name: str | None = None
    custom_model_name: str | None = None
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    # false: off; absent, true or an object: compare the served student with its teacher (distill.evaluation).
    evaluation: bool | dict[str, Any] | None = None
    # The serving the run creates is deleted by the hourly janitor this long after it was created.
    serving_ttl_hours: Annotated[int, msgspec.Meta(ge=1, le=8760)] | None = None


class ProvisioningPlan(Strict, frozen=True):
    model_units: int
    commitment: Commitment | None
    provisioned_model_name: str
    client_request_token: str


class DeploymentPlan(Strict, frozen=True):
    deployment_name: str
    description: str
    client_request_token: str


class ResolvedRun(Strict, frozen=True):
    """Everything later states need, computed once. Serialized into the state as ``$.run``."""

    run_id: str
    execution_name: str
    execution_arn: str
    source: str  # s3:// object or prefix with the raw data (or the invocation logs)
    # The converted dataset Bedrock trains from; for a run from invocation logs, the copy of the selection the
    # preview writes (Bedrock reads the logs themselves).
    dataset_uri: str
    output_uri: str  # where the job writes its metrics and synthetic data
    reports_uri: str
    teacher_model_id: str
    student_model_id: str
    max_response_length: int
    system_prompt: str
    input_format: InputFormat
    on_invalid_records: OnInvalid
    job_name: str
    custom_model_name: str
    client_request_token: str
    serving: Serving  # the state machine's "How should the model be served?" choice reads this
    provisioned_throughput: ProvisioningPlan | None  # set when serving == "provisioned-throughput"
    on_demand_deployment: DeploymentPlan | None  # set when serving == "on-demand"
    tags: dict[str, str]
    # "dataset" or "invocation-logs": the state machine's "Where does the training data come from?" reads it.
    source_kind: SourceKind = "dataset"
    invocation_logs: InvocationLogsPlan | None = None
    # Set when the served student is compared with its teacher; "Evaluate the student?" reads it.
    evaluation: EvaluationPlan | None = None
    evaluation_skipped: str = ""  # why a run that did not turn it off is not evaluated
    serving_ttl_hours: int | None = None  # tagged on the serving it creates (distill.janitor.expiry_tag)


def parse_request(raw: Any) -> RunRequest:
    """Validate the raw execution input (already JSON-decoded)."""
    if not isinstance(raw, dict):
        raise InvalidRunInput(f"execution input must be a JSON object, got {type(raw).__name__}")
    try:
        return msgspec.convert(raw, RunRequest)
    except msgspec.ValidationError as error:
        raise InvalidRunInput(f"execution input: {_field_message(error)}") from None


def resolve(request: RunRequest, settings: PipelineSettings, execution_name: str, execution_arn: str,
            default_system_prompt: str = "") -> ResolvedRun:  # fmt: skip
    """Apply defaults and allow-lists; derive names, tokens and locations."""
    if (request.dataset is None) == (request.invocation_logs is None):
        raise InvalidRunInput(
            "execution input: give either dataset (a JSONL file or prefix) or invocationLogs (Bedrock's model "
            "invocation logs), exactly one of them - at `$.dataset`"
        )
    logs = resolve_logs(request.invocation_logs, settings) if request.invocation_logs is not None else None
    source = S3Location.parse(logs.s3_uri) if logs else _dataset_location(str(request.dataset), settings)
    teacher = request.teacher_model_id or settings.defaults.teacher_model_id
    student = request.student_model_id or settings.defaults.student_model_id
    _allowed("teacherModelId", teacher, settings.teacher_models)
    _allowed("studentModelId", student, settings.student_models)

    run = naming.run_id(execution_name, execution_arn)
    places = RunLocations(settings.bucket_name, settings.layout, run)
    job = request.job_name or naming.job_name(run)
    model = request.custom_model_name or naming.custom_model_name(run)
    if not naming.is_valid_job_name(job):
        raise InvalidRunInput(
            f"execution input: jobName {job!r} must be 1-63 letters, digits, '+', '-' or '.', starting with a "
            "letter or digit - at `$.jobName`"
        )
    if not naming.is_valid_model_name(model):
        raise InvalidRunInput(
            f"execution input: customModelName {model!r} must be 1-63 letters or digits, single '-' or '_' "
            "between them - at `$.customModelName`"
        )
    tags = _tags(request.tags, settings.resource_tags, execution_name, run)
    evaluating = wants_evaluation(request.evaluation)
    if evaluating is not None and evaluating.promote_to and request.provisioned_throughput is None:
        # Promotion compares first: the student is served on demand (per token) for the evaluation.
        request = msgspec.structs.replace(request, on_demand_deployment=request.on_demand_deployment
                                          or OnDemandDeploymentRequest())  # fmt: skip
    serving, throughput, deployment = _serving(request, run, execution_name, execution_arn)
    if request.serving_ttl_hours is not None and (serving == "none" or (throughput and throughput.commitment)):
        raise InvalidRunInput(
            "execution input: servingTtlHours expires the serving a run creates: give onDemandDeployment or "
            "provisionedThroughput without a commitment (a commitment cannot be deleted before its term) - at "
            "`$.servingTtlHours`"
        )
    evaluation, skipped = None, ""
    if evaluating is not None and serving == "none":
        skipped = "the student is not served: add onDemandDeployment or provisionedThroughput to evaluate it"
    elif evaluating is not None:
        own = _dataset_location(evaluating.dataset, settings, "$.evaluation.dataset") if evaluating.dataset else None
        evaluation = resolve_evaluation(evaluating, settings=settings, student=student, teacher=teacher,
                                        reports_uri=places.reports.uri, holdout_uri=places.holdout.uri,
                                        dataset=own)  # fmt: skip
    return ResolvedRun(
        run_id=run,
        execution_name=execution_name,
        execution_arn=execution_arn,
        source=source.uri,
        dataset_uri=places.dataset.uri,
        output_uri=places.job_output.uri,
        reports_uri=places.reports.uri,
        teacher_model_id=teacher,
        student_model_id=student,
        max_response_length=request.max_response_length or settings.defaults.max_response_length,
        system_prompt=request.system_prompt if request.system_prompt is not None else default_system_prompt,
        input_format=request.input_format,
        on_invalid_records=request.on_invalid_records,
        job_name=job,
        custom_model_name=model,
        client_request_token=naming.client_request_token(execution_arn, "customization-job"),
        serving=serving,
        provisioned_throughput=throughput,
        on_demand_deployment=deployment,
        tags=tags,
        source_kind="invocation-logs" if logs else "dataset",
        invocation_logs=logs,
        evaluation=evaluation,
        evaluation_skipped=skipped,
        serving_ttl_hours=request.serving_ttl_hours,
    )


def _serving(
    request: RunRequest, run: str, execution_name: str, execution_arn: str
) -> tuple[Serving, ProvisioningPlan | None, DeploymentPlan | None]:
    """At most one way to serve the model: provisioned throughput (hourly) or an on-demand deployment."""
    pt, od = request.provisioned_throughput, request.on_demand_deployment
    if pt is not None and od is not None:
        raise InvalidRunInput(
            "execution input: provisionedThroughput and onDemandDeployment exclude each other; give one of them "
            "(or neither, to serve nothing) - at `$.onDemandDeployment`"
        )
    if pt is not None:
        return (
            "provisioned-throughput",
            ProvisioningPlan(
                model_units=pt.model_units,
                commitment=pt.commitment,
                provisioned_model_name=naming.provisioned_model_name(run),
                client_request_token=naming.client_request_token(execution_arn, "provisioned-throughput"),
            ),
            None,
        )
    if od is not None:
        return (
            "on-demand",
            None,
            DeploymentPlan(
                deployment_name=naming.deployment_name(run),
                description=od.description or f"Distilled model of run {run} (execution {execution_name[:80]})",
                client_request_token=naming.client_request_token(execution_arn, "custom-model-deployment"),
            ),
        )
    return "none", None, None


def run_from_state(value: Any) -> ResolvedRun:
    """Read ``$.run`` back in a later state."""
    return msgspec.convert(value, ResolvedRun)


def to_state(run: ResolvedRun) -> dict[str, Any]:
    return msgspec.to_builtins(run)


def _dataset_location(dataset: str, settings: PipelineSettings, field: str = "$.dataset") -> S3Location:
    drop = settings.layout.drop_prefix
    if dataset.startswith("s3://"):
        try:
            where = S3Location.parse(dataset)
        except ValueError as error:
            raise InvalidRunInput(f"execution input: {field[2:]}: {error} - at `{field}`") from None
    else:
        where = S3Location(settings.bucket_name, dataset.lstrip("/"))
    if where.bucket == settings.bucket_name:
        if not where.key.startswith(drop):
            raise InvalidRunInput(
                f"execution input: {field[2:]} {where.uri!r} must be under s3://{settings.bucket_name}/{drop} "
                f"(the drop zone the pipeline reads from) - at `{field}`"
            )
    elif where.bucket not in settings.allowed_data_buckets:
        raise InvalidRunInput(
            f"execution input: {field[2:]} {where.uri!r} is outside the project's bucket {settings.bucket_name!r}; "
            f"copy it into the drop zone or add the bucket to allowedDataBuckets in cdk.json - at `{field}`"
        )
    if ".." in where.key.split("/"):
        raise InvalidRunInput(f"execution input: dataset key must not contain '..' segments - at `{field}`")
    return where


def _allowed(field: str, model: str, allowed: tuple[str, ...]) -> None:
    if model not in allowed:
        raise InvalidRunInput(
            f"execution input: {field} {model!r} is not allowed here; allowed: {', '.join(allowed)} "
            f"(set the allow-list in cdk.json) - at `$.{field}`"
        )


def _tags(user: dict[str, str], fixed: dict[str, str], execution_name: str, run: str) -> dict[str, str]:
    for key, value in user.items():
        if not (1 <= len(key) <= 128) or not naming.TAG_PATTERN.fullmatch(key):
            raise InvalidRunInput(f"execution input: tag key {key!r} is not a valid AWS tag key - at `$.tags`")
        if len(value) > 256 or not naming.TAG_PATTERN.fullmatch(value):
            raise InvalidRunInput(f"execution input: tag {key!r} has an invalid value - at `$.tags.{key}`")
        if key.startswith(("aws:", "distill:")) or key in fixed:
            raise InvalidRunInput(f"execution input: tag key {key!r} is reserved - at `$.tags`")
    return {**user, **fixed, "distill:execution": naming.tag_value(execution_name), "distill:run-id": run}


def _field_message(error: msgspec.ValidationError) -> str:
    """msgspec says e.g. 'Expected `int`, got `str` - at `$.maxResponseLength`': keep it, it names the field."""
    return str(error)
