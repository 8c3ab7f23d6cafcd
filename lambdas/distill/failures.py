"""What happens when a run fails, times out or is aborted.

An EventBridge rule on the state machine's "Execution Status Change" events calls this, so every way a run
can end badly is covered (a Fail state, an uncaught error, the execution timeout, a person pressing Stop)
without a Catch on every state. It finds the state that failed, writes the run's summary, tells the
notification topic, and deletes provisioned throughput the run created without a commitment (the cost guard:
a failed run must not leave something billing by the hour). An aborted run's job, if it still runs, is stopped.

On-demand custom model deployments are left alone: they bill per token processed, nothing by the hour, so a
failed run's deployment costs nothing while unused (`distill cleanup` lists and deletes them).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from distill import aws, bedrock, job_waits, naming, serving_inventory, summary
from distill.errors import PipelineError
from distill.locations import RunLocations
from distill.settings import PipelineSettings

RUN_ID_TAG = "distill:run-id"
START_JOB_STATE = "Start distillation job"  # stacks/workflow.py


def failed_state(execution_arn: str) -> tuple[str, str, str]:
    """(state name, error, cause) of the failure, read from the execution history, newest first."""
    sfn = aws.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=100)["events"]
    error = cause = ""
    for event in history:
        details = next(
            (v for k, v in event.items() if k.endswith("FailedEventDetails") or k.endswith("TimedOutEventDetails")),
            None,
        )
        if details and not error:
            error, cause = details.get("error", ""), details.get("cause", "")
        entered = event.get("stateEnteredEventDetails")
        if entered:
            return entered["name"], error, cause
    return "", error, cause


def started_job(execution_arn: str) -> str:
    """The ARN of the job the run started ("" when it started none), from the oldest events of its history."""
    sfn = aws.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=100)["events"]
    for event in events:
        exited = event.get("stateExitedEventDetails") or {}
        if exited.get("name") == START_JOB_STATE:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                return str(json.loads(exited.get("output") or "{}").get("job", {}).get("jobArn") or "")
    return ""


def console_url(execution_arn: str) -> str:
    region = execution_arn.split(":")[3]
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def notify_failure(event: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    detail = event["detail"]
    arn, name = detail["executionArn"], detail["name"]
    state, error, cause = failed_state(arn)
    error, cause = detail.get("error") or error, detail.get("cause") or cause
    places = RunLocations(settings.bucket_name, settings.layout, naming.run_id(name, arn))
    guarded = _stop_throughput_of(naming.run_id(name, arn))
    job_arn = started_job(arn)
    if job_arn:
        job_waits.forget(settings, job_arn)  # a run that ended while it waited leaves no token behind
    # A person stopped the run: its job must not train (and bill) on for nobody.
    stopped, stop_error = _stop_job(job_arn) if job_arn and detail.get("status") == "ABORTED" else (False, "")
    slot = _give_back_slot(settings, arn)
    report = summary.failure_summary(detail, state, error, cause, places.reports.uri)
    report["throughputDeleted"] = guarded
    report["jobStopped"] = job_arn if stopped else ""
    if stop_error:
        report["jobStopError"] = stop_error
    report["jobSlot"] = {k: slot[k] for k in ("released", "leftTheLine", "handedTo", "error") if k in slot}
    aws.client("s3").put_object(
        Bucket=places.bucket,
        Key=places.summary.key,
        Body=json.dumps(report, indent=2).encode(),
        ContentType="application/json",
    )
    if settings.notification_topic_arn:
        subject, body = summary.failure_message(report, console_url(arn))
        if guarded:
            body += "\n\nDeleted provisioned throughput this run had created (no commitment): " + ", ".join(guarded)
        if stopped:
            body += f"\n\nStopped the distillation job this aborted run had started: {job_arn}"
        elif stop_error:
            body += (f"\n\nCould not stop the distillation job this aborted run had started ({stop_error}): stop "
                     f"it in the Bedrock console or with aws bedrock stop-model-customization-job: {job_arn}")
        aws.client("sns").publish(TopicArn=settings.notification_topic_arn, Subject=subject, Message=body)
    return report


def _stop_job(job_arn: str) -> tuple[bool, str]:
    """Stop an aborted run's job; (stopped, why not). Best effort, as the slot: the summary and the notice (which
    then says to stop the job by hand) matter more than one refused call."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return bedrock.stop_job_if_active(job_arn), ""
    except (PipelineError, ClientError, BotoCoreError) as trouble:
        return False, f"{type(trouble).__name__}: {trouble}"[:500]


def _give_back_slot(settings: PipelineSettings, execution_arn: str) -> dict[str, Any]:
    """The run's job slot goes back (or its place in line), whatever way it ended: the next run in line gets it.
    Best effort: the notice matters more, and the hourly janitor frees a slot whose run has ended."""
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import job_slot_store

    try:
        return job_slot_store.release(settings, execution_arn)
    except (PipelineError, ClientError, BotoCoreError, ValueError) as trouble:  # ValueError: a damaged ledger
        return {"error": f"{type(trouble).__name__}: {trouble}"[:500]}


def _stop_throughput_of(run_id: str) -> list[str]:
    """Delete this run's no-commitment provisioned throughput; a commitment cannot be deleted early anyway.

    A custom model deployment of the run is not touched: it bills per token, so an idle one costs nothing."""
    deleted = []
    for pt in serving_inventory.pipeline_throughputs(RUN_ID_TAG, run_id):
        if not pt.commitment:
            bedrock.delete_provisioned_throughput(pt.arn)
            deleted.append(pt.arn)
    return deleted
