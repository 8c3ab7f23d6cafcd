"""Errors the workflow reacts to.

In Lambda the class name of an uncaught exception becomes the ``errorType`` that Step Functions matches in
Retry and Catch, so these names are part of the state machine's contract (see stacks/workflow.py).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a failure the pipeline explains to its user."""


# --- the user's fault: never retried -------------------------------------------------------------
class InvalidRunInput(PipelineError):
    """The execution input (or a sidecar settings file) is wrong; the message names the field."""


class DatasetInvalid(PipelineError):
    """The dataset breaks Bedrock's rules; the message names the file and line."""


# --- Bedrock said no ------------------------------------------------------------------------------
class BedrockRejected(PipelineError):
    """ValidationException, ConflictException, ResourceNotFound, TooManyTags: retrying cannot help."""


class BedrockAccessDenied(PipelineError):
    """AccessDeniedException: a permission or model-access problem in the account."""


class QuotaExceeded(PipelineError):
    """ServiceQuotaExceededException: must not be hot-retried; the user has to free or raise a quota."""


class JobQuotaInUse(QuotaExceeded):
    """CreateModelCustomizationJob said ServiceQuotaExceededException although the run held a job slot: something
    else in the account uses the quota. Caught, not retried: the run gives its slot back and queues again after a
    back-off (distill.job_slots); a subclass so that code catching QuotaExceeded still catches it."""


# --- transient: retried with backoff by the state machine ----------------------------------------
class BedrockThrottled(PipelineError):
    """ThrottlingException, InternalServerException, ServiceUnavailable: try again later."""


class JobSlotsBusy(PipelineError):
    """The job-slot ledger kept changing under a conditional write, past the bounded retries: try again later."""


# --- the job or the throughput ended badly --------------------------------------------------------
class DistillationJobFailed(PipelineError):
    """The customization job ended Failed or Stopped; the message is Bedrock's failureMessage."""


class ProvisioningFailed(PipelineError):
    """Provisioned throughput or a custom model deployment ended Failed."""


NOT_RETRIED = (
    InvalidRunInput,
    DatasetInvalid,
    BedrockRejected,
    BedrockAccessDenied,
    QuotaExceeded,
    JobQuotaInUse,  # caught by "Start distillation job" (back off and queue again), never retried in place
    DistillationJobFailed,
    ProvisioningFailed,
)
RETRIED = (BedrockThrottled, JobSlotsBusy)


def error_name(error: type[PipelineError]) -> str:
    """The errorType Step Functions sees for this error."""
    return error.__name__
