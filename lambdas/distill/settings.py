"""Typed settings.

``PipelineSettings`` is what a deployed pipeline knows at run time: where its data lives, which role Bedrock
assumes, the defaults and allow-lists from ``cdk.json``. The CDK stack serializes it into the
``PIPELINE_SETTINGS`` environment variable of every function; handlers read it back with
:func:`load_settings`. Both sides use this one model, so they cannot drift apart.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Annotated, Literal

import msgspec

SETTINGS_ENV = "PIPELINE_SETTINGS"

# Reference run of the notebook this project replaces.
DEFAULT_TEACHER = "amazon.nova-pro-v1:0"
DEFAULT_STUDENT = "amazon.nova-micro-v1:0:128k"
DEFAULT_MAX_RESPONSE_LENGTH = 1000
# The tag on everything the pipeline creates in Bedrock: cleanup and the cost guard find resources by it.
PIPELINE_TAG = ("created-by", "distill-pipeline")

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="camel", frozen=True):
    """Base for every settings object: camelCase on the wire, unknown fields refused."""


class BucketLayout(Strict, frozen=True):
    """Prefixes inside the project's one bucket. Each ends with '/'."""

    drop_prefix: str = "incoming/"
    datasets_prefix: str = "datasets/"
    jobs_prefix: str = "jobs/"
    reports_prefix: str = "reports/"
    # A run waiting for its job keeps its task token here, where the job's state-change event finds it.
    waits_prefix: str = "waits/"
    # Bedrock's model invocation logs a run may distil from (Bedrock's logging may deliver here directly).
    logs_prefix: str = "invocation-logs/"
    # The job-slot ledger (distill.job_slots): who holds one of the pipeline's job slots, who waits for one.
    queue_prefix: str = "queue/"

    def __post_init__(self) -> None:
        for name in ("drop_prefix", "datasets_prefix", "jobs_prefix", "reports_prefix", "waits_prefix",
                     "logs_prefix", "queue_prefix"):  # fmt: skip
            value = getattr(self, name)
            if not value.endswith("/") or value.startswith("/"):
                raise ValueError(f"{name} must look like 'name/' (got {value!r})")


class ModelDefaults(Strict, frozen=True):
    """The models a run uses unless it names others. (The default system prompt is not here: it can be 20,000
    characters and Lambda allows 4 KB of environment per function, so the state machine passes it to "Check
    run settings" instead.)"""

    teacher_model_id: str = DEFAULT_TEACHER
    student_model_id: str = DEFAULT_STUDENT
    max_response_length: Annotated[int, msgspec.Meta(ge=1, le=32768)] = DEFAULT_MAX_RESPONSE_LENGTH


class PollingPolicy(Strict, frozen=True):
    """How long to wait between two checks of a long-running job: grows from first to max."""

    first_wait_seconds: PositiveInt = 60
    max_wait_seconds: PositiveInt = 600
    backoff_rate: Annotated[float, msgspec.Meta(ge=1.0, le=4.0)] = 1.5

    def __post_init__(self) -> None:
        if self.max_wait_seconds < self.first_wait_seconds:
            raise ValueError("maxWaitSeconds must be at least firstWaitSeconds")


class PipelineSettings(Strict, frozen=True):
    bucket_name: str
    bedrock_role_arn: str
    layout: BucketLayout = BucketLayout()
    defaults: ModelDefaults = ModelDefaults()
    # Which models a run may name. Empty means "only the defaults".
    allowed_teacher_models: tuple[str, ...] = ()
    allowed_student_models: tuple[str, ...] = ()
    # Other buckets a run may read its dataset from (the project's own bucket is always allowed).
    allowed_data_buckets: tuple[str, ...] = ()
    # Other places ("bucket/prefix/") a run may distil invocation logs from.
    allowed_log_buckets: tuple[str, ...] = ()
    polling: PollingPolicy = PollingPolicy()
    # Tags put on every job, custom model and provisioned throughput the pipeline creates (cleanup finds
    # them by these).
    resource_tags: dict[str, str] = msgspec.field(default_factory=lambda: dict([PIPELINE_TAG]))
    custom_model_kms_key_arn: str = ""
    # SNS topic told how each run ended ("" = no notifications).
    notification_topic_arn: str = ""
    # How many of the pipeline's distillation jobs may be scheduled at once (distill.job_slots): a number, or
    # "auto" for the account's quota "(Model customization) Scheduled customization jobs".
    max_concurrent_jobs: PositiveInt | Literal["auto"] = "auto"
    # The janitor (distill.janitor) warns about serving that had no invocations for this many hours; 0 = never.
    # At most 455 days: how long CloudWatch keeps hourly data points.
    idle_warning_hours: Annotated[int, msgspec.Meta(ge=0, le=24 * 455)] = 24

    @property
    def teacher_models(self) -> tuple[str, ...]:
        return self.allowed_teacher_models or (self.defaults.teacher_model_id,)

    @property
    def student_models(self) -> tuple[str, ...]:
        return self.allowed_student_models or (self.defaults.student_model_id,)

    def to_json(self) -> str:
        return msgspec.json.encode(self).decode()


def parse_settings(raw: str | bytes) -> PipelineSettings:
    try:
        return msgspec.json.decode(raw, type=PipelineSettings)
    except msgspec.ValidationError as error:
        raise ValueError(f"{SETTINGS_ENV} is invalid: {error}") from error


@cache
def load_settings() -> PipelineSettings:
    """Settings of the running function (cached for the life of the execution environment)."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: this code runs inside the deployed pipeline")
    return parse_settings(raw)
