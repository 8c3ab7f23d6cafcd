"""The deploy-time configuration: the ``cdk.json`` context, typed.

Defaults here equal the values in ``cdk.json``, so ``python app.py`` without the CDK CLI builds the same
stacks. ``-c key=value`` on the command line arrives as a string; :func:`from_context` converts it
(``-c maxResponseLength=2000``, ``-c polling='{"firstWaitSeconds": 30}'``,
``-c allowedDataBuckets=a,b``).
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Annotated, Any, Literal

import msgspec

from distill.run_request import SYSTEM_PROMPT_MAX
from distill.settings import (
    DEFAULT_MAX_RESPONSE_LENGTH,
    DEFAULT_STUDENT,
    DEFAULT_TEACHER,
    BucketLayout,
    ModelDefaults,
    PollingPolicy,
    PositiveInt,
    Strict,
)

# The values CloudWatch Logs accepts for a log group's retention.
LogRetentionDays = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653]


_BUCKET_NAME = re.compile(r"[a-z0-9][-.a-z0-9]{1,61}[a-z0-9]")


class ThrottleRetry(Strict, frozen=True):
    """How the state machine retries a task that Bedrock throttled (error ``BedrockThrottled``)."""

    interval_seconds: PositiveInt = 5
    max_attempts: Annotated[int, msgspec.Meta(ge=0, le=99)] = 8
    backoff_rate: Annotated[float, msgspec.Meta(ge=1.0, le=10.0)] = 2.0
    max_delay_seconds: PositiveInt = 300


class JobBackstop(Strict, frozen=True):
    """How often a run looks at its job when no state-change event arrives (events are best effort)."""

    first_hour_every_seconds: Annotated[int, msgspec.Meta(ge=60, le=3600)] = 600
    every_seconds: Annotated[int, msgspec.Meta(ge=300, le=86_400)] = 1800

    def __post_init__(self) -> None:
        if 3600 % self.first_hour_every_seconds:
            raise ValueError("jobBackstop.firstHourEverySeconds must divide an hour (e.g. 300, 600, 900)")


class PipelineConfig(Strict, frozen=True):
    teacher_model_id: str = DEFAULT_TEACHER
    student_model_id: str = DEFAULT_STUDENT
    max_response_length: Annotated[int, msgspec.Meta(ge=1, le=32768)] = DEFAULT_MAX_RESPONSE_LENGTH
    # Up to the run input's limit; travels in the state machine definition (see distill.settings.ModelDefaults).
    system_prompt: Annotated[str, msgspec.Meta(max_length=SYSTEM_PROMPT_MAX)] = ""
    # Nova distillation pairs: teacher Pro or Premier (or their US cross-region inference profiles) ...
    allowed_teacher_models: tuple[str, ...] = (
        "amazon.nova-pro-v1:0",
        "amazon.nova-premier-v1:0",
        "us.amazon.nova-pro-v1:0",
        "us.amazon.nova-premier-v1:0",
    )
    # ... and student Micro, Lite or Pro at the context length Bedrock customizes.
    allowed_student_models: tuple[str, ...] = (
        "amazon.nova-micro-v1:0:128k",
        "amazon.nova-lite-v1:0:300k",
        "amazon.nova-pro-v1:0:300k",
    )
    allowed_data_buckets: tuple[str, ...] = ()
    # "bucket/prefix/" entries a run may distil invocation logs from (read-only, prefix-scoped for Bedrock too).
    allowed_invocation_log_buckets: tuple[str, ...] = ()
    polling: PollingPolicy = PollingPolicy()  # the serving loops (throughput, deployment)
    job_backstop: JobBackstop = JobBackstop()
    throttle_retry: ThrottleRetry = ThrottleRetry()
    execution_timeout_hours: Annotated[int, msgspec.Meta(ge=1, le=8760)] = 336
    # Jobs of this pipeline running at once; "auto": the account's "(Model customization) Scheduled customization
    # jobs" quota, read through Service Quotas by the functions that hand out job slots (distill.job_slot_store).
    max_concurrent_jobs: Annotated[int, msgspec.Meta(ge=1, le=1000)] | Literal["auto"] = "auto"
    # Serving with no invocations this long gets one warning a day from the janitor (0: no warnings).
    idle_warning_hours: Annotated[int, msgspec.Meta(ge=0, le=24 * 455)] = 24
    # Batches of held-out prompts answered and judged at once (each batch calls Bedrock one call at a time).
    evaluation_concurrency: Annotated[int, msgspec.Meta(ge=1, le=40)] = 4
    noncurrent_version_expiration_days: PositiveInt = 30
    log_retention_days: LogRetentionDays = 30
    notification_email: str = ""
    kms_key_arn: str = ""
    access_log_retention_days: PositiveInt = 365
    # cdk-nag's AwsSolutions checks on every synth (stacks/compliance.py); turn off only to iterate faster.
    compliance_checks: bool = True
    stack_prefix: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,100}$")] = "Distill"

    def __post_init__(self) -> None:
        # A default outside its own allow-list would make every run without explicit models fail.
        if self.allowed_teacher_models and self.teacher_model_id not in self.allowed_teacher_models:
            raise ValueError(f"teacherModelId {self.teacher_model_id!r} is not in allowedTeacherModels")
        if self.allowed_student_models and self.student_model_id not in self.allowed_student_models:
            raise ValueError(f"studentModelId {self.student_model_id!r} is not in allowedStudentModels")
        if self.kms_key_arn and not self.kms_key_arn.startswith("arn:"):
            raise ValueError(f"kmsKeyArn must be a KMS key ARN (got {self.kms_key_arn!r})")
        for entry in self.allowed_invocation_log_buckets:
            bucket, _, prefix = entry.partition("/")
            if not _BUCKET_NAME.fullmatch(bucket) or not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"allowedInvocationLogBuckets entries look like 'bucket/prefix/' (got {entry!r}): "
                                 "Bedrock's role may read only that prefix")  # fmt: skip

    @property
    def layout(self) -> BucketLayout:
        return BucketLayout()

    @property
    def defaults(self) -> ModelDefaults:
        return ModelDefaults(
            teacher_model_id=self.teacher_model_id,
            student_model_id=self.student_model_id,
            max_response_length=self.max_response_length,
        )


CONTEXT_KEYS: tuple[str, ...] = tuple(
    f.encode_name
    for f in msgspec.structs.fields(PipelineConfig)  # the camelCase names
)
_STRUCTURED = {"polling", "throttleRetry", "jobBackstop"}
_LISTS = {"allowedTeacherModels", "allowedStudentModels", "allowedDataBuckets", "allowedInvocationLogBuckets"}


class ConfigError(ValueError):
    """cdk.json context (or a -c option) is wrong; the message names the key."""


def from_context(context: dict[str, Any]) -> PipelineConfig:
    """Build the config from the app's whole context (CDK's own keys are ignored)."""
    _refuse_lookalikes(context)
    raw = {key: _unstring(key, context[key]) for key in CONTEXT_KEYS if context.get(key) is not None}
    try:
        return msgspec.convert(raw, PipelineConfig, strict=False)
    except msgspec.ValidationError as error:
        raise ConfigError(f"cdk.json context: {error}") from None


def _unstring(key: str, value: Any) -> Any:
    """`-c polling={...}` and `-c allowedDataBuckets=a,b` come in as strings."""
    if not isinstance(value, str) or key not in _STRUCTURED | _LISTS:
        return value
    text = value.strip()
    if text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"cdk.json context: {key} is not valid JSON ({error})") from None
    if key in _LISTS:
        return [item.strip() for item in text.split(",") if item.strip()]
    return value  # msgspec reports the wrong type with the key's path


def _refuse_lookalikes(context: dict[str, Any]) -> None:
    """A misspelt key (``teacherModelID``, ``pollingSeconds``) would be silently ignored: refuse it."""
    ours = {key.lower(): key for key in CONTEXT_KEYS}
    for key in context:
        if key in CONTEXT_KEYS or key.startswith(("@", "aws:", "aws-cdk:")) or ":" in key:
            continue
        lower = key.lower()
        prefixed = [
            n for low, n in ours.items() if lower.startswith(low) or (len(lower) >= 4 and low.startswith(lower))
        ]
        close = difflib.get_close_matches(lower, list(ours), n=1, cutoff=0.85)
        suggestion = prefixed or [ours[c] for c in close]
        if suggestion:
            raise ConfigError(
                f"cdk.json context: unknown key {key!r}; did you mean {suggestion[0]!r}? "
                f"Known keys: {', '.join(CONTEXT_KEYS)}"
            )
