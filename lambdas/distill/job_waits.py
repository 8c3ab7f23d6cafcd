"""Waiting for a customization job to end: Bedrock's state-change event first, a look at the job as the backstop.

The state "Wait for the job to end" is a callback task: :func:`await_job` keeps the task token where the job's
"Model Customization Job State Change" event finds it (an object under ``waits/`` named after the job ARN), then
looks at the job once -- if it already ended, it answers the token itself. The event's target,
:func:`job_state_changed`, answers the token with the job as it is then. Events are best effort
(https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge.html), so the task times out after
the backstop interval and is retried: each retry is :func:`await_job` again, one more look.

A duplicate or late event finds the token already answered (Step Functions says TaskTimedOut) or gone, and
changes nothing; the record names its job and execution, so an event resumes only the run that waits for that
job. The record is deleted when its token is answered, and by the failure notifier when a run ends otherwise.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from distill import aws, clock, polling, s3objects, steps
from distill.locations import S3Location
from distill.run_request import ResolvedRun
from distill.settings import PipelineSettings

_CLOSED = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")


def token_location(settings: PipelineSettings, job_arn: str) -> S3Location:
    digest = hashlib.sha256(job_arn.encode()).hexdigest()[:40]
    return S3Location(settings.bucket_name, f"{settings.layout.waits_prefix}{digest}.json")


def await_job(run: ResolvedRun, job: dict[str, Any], token: str, settings: PipelineSettings) -> dict[str, Any]:
    """State "Wait for the job to end" (a callback task): remember the token, then look at the job once."""
    place = token_location(settings, job["jobArn"])
    record = {"token": token, "jobArn": job["jobArn"], "executionArn": run.execution_arn, "job": job,
              "outputUri": run.output_uri, "registeredAt": int(clock.now())}  # fmt: skip
    aws.client("s3").put_object(Bucket=place.bucket, Key=place.key, Body=json.dumps(record).encode(),
                                ContentType="application/json")  # fmt: skip
    snapshot = steps.job_snapshot(job, run.output_uri, settings)
    if polling.job_phase(snapshot["status"]) is polling.Phase.RUNNING:
        return {"answered": False, "status": snapshot["status"]}
    return {"answered": _answer(token, snapshot, place), "status": snapshot["status"]}


def job_state_changed(event: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """Target of the rule on Bedrock's job state-change events: resume the run that waits for this job."""
    detail = event.get("detail") or {}
    job_arn, status = str(detail.get("jobArn", "")), str(detail.get("jobStatus", ""))
    if not job_arn:
        return {"resumed": False, "reason": "not a Model Customization Job State Change event"}
    if polling.job_phase(status) is polling.Phase.RUNNING:
        return {"resumed": False, "reason": f"the job is {status}: nothing to do yet", "jobArn": job_arn}
    place = token_location(settings, job_arn)
    s3 = aws.client("s3")
    if s3objects.listed(s3, place.bucket, place.key) is None:
        return {"resumed": False, "reason": "no run of this pipeline is waiting for this job", "jobArn": job_arn}
    record = json.loads(s3.get_object(Bucket=place.bucket, Key=place.key)["Body"].read())
    if record.get("jobArn") != job_arn:
        return {"resumed": False, "reason": "the waiting run is for another job", "jobArn": job_arn}
    snapshot = steps.job_snapshot(record["job"], record["outputUri"], settings)
    if polling.job_phase(snapshot["status"]) is polling.Phase.RUNNING:
        return {"resumed": False, "reason": f"the event said {status}, the job says {snapshot['status']}",
                "jobArn": job_arn}  # fmt: skip
    answered = _answer(record["token"], snapshot, place)
    reason = "" if answered else "the run had already moved on (a late or duplicate event)"
    return {"resumed": answered, "reason": reason, "jobArn": job_arn, "executionArn": record.get("executionArn"),
            "status": snapshot["status"]}  # fmt: skip


def forget(settings: PipelineSettings, job_arn: str) -> None:
    """Delete a run's waiting token (the failure notifier, for a run that ended while it waited)."""
    place = token_location(settings, job_arn)
    aws.client("s3").delete_object(Bucket=place.bucket, Key=place.key)


def _answer(token: str, snapshot: dict[str, Any], place: S3Location) -> bool:
    """SendTaskSuccess with the job; False when the token was already answered or has timed out."""
    from botocore.exceptions import ClientError

    try:
        aws.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(snapshot))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _CLOSED:
            raise
        return False
    finally:
        aws.client("s3").delete_object(Bucket=place.bucket, Key=place.key)
    return True
