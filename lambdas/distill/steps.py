"""What each state of the workflow does, as plain functions of the state's input.

Handlers (lambdas/handlers/) only decode the event, call one of these and return the result; the result
becomes part of the execution state under the path the state machine names (see stacks/workflow.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from distill import aws, bedrock, clock, polling
from distill.errors import (
    BedrockAccessDenied,
    BedrockRejected,
    DatasetInvalid,
    DistillationJobFailed,
    InvalidRunInput,
    QuotaExceeded,
)
from distill.locations import LOGS_PREVIEW, VALIDATION_REPORT, S3Location
from distill.run_request import ResolvedRun, parse_request, resolve, to_state
from distill.settings import PipelineSettings


def check_run_settings(event: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Check run settings": validate the execution input and resolve defaults, names and places."""
    execution = event.get("execution") or {}
    if not execution.get("arn") or not execution.get("name"):
        raise InvalidRunInput("the state machine must pass execution.arn and execution.name")
    default_prompt = str((event.get("defaults") or {}).get("systemPrompt") or "")
    run = resolve(parse_request(event.get("input")), settings, execution["name"], execution["arn"], default_prompt)
    return {"run": to_state(run)}


def prepare_dataset(run: ResolvedRun, settings: PipelineSettings) -> dict[str, Any]:
    """State "Prepare dataset": stream the raw data, convert and validate it, write the dataset and report.

    The converted dataset appears only when the whole input is valid (or, with onInvalidRecords=drop,
    enough records are); the validation report is written either way.
    """
    import msgspec

    from distill.dataset import ConvertOptions, S3MultipartSink, convert, s3_sources

    s3 = aws.client("s3")
    try:
        sources = s3_sources(s3, run.source)
    except ValueError as error:
        raise DatasetInvalid(str(error)) from None
    options = ConvertOptions(
        input_format=run.input_format, on_invalid=run.on_invalid_records, system_prompt=run.system_prompt
    )
    sink: Any = S3MultipartSink(s3, run.dataset_uri)
    plan = run.evaluation
    if plan is not None and plan.holdout_uri:  # keep the evaluation prompts out of training
        from distill.evaluation.holdout import HoldoutPolicy
        from distill.holdout_sink import HoldoutSink

        wanted = plan.request.holdout
        sink = HoldoutSink(sink, S3MultipartSink(s3, plan.holdout_uri),
                           HoldoutPolicy(wanted.fraction, wanted.minimum, wanted.maximum))  # fmt: skip
    report = convert(sources, sink, options)
    report_at = S3Location.parse(run.reports_uri).child(VALIDATION_REPORT)
    s3.put_object(
        Bucket=report_at.bucket,
        Key=report_at.key,
        Body=msgspec.json.encode(report.to_dict()),
        ContentType="application/json",
    )
    if not report.ok:
        raise DatasetInvalid(f"{report.first_error} (full report: {report_at.uri})")
    selection = getattr(sink, "selection", None)
    held = selection.held_out_records if selection else 0
    return {
        "datasetUri": run.dataset_uri,
        "reportUri": report_at.uri,
        "recordsRead": report.records_read,
        "recordsWritten": report.records_written - held,  # what Bedrock trains on
        "recordsDropped": report.records_dropped,
        "bytesIn": report.bytes_in,
        "bytesOut": report.bytes_out,
        # Kept out of training to evaluate the student (distinct prompts; their duplicates are held out too).
        "recordsHeldOut": held,
        "evaluationPrompts": len(selection.held_out) if selection else 0,
        "holdoutProblem": selection.problem if selection else "",
    }


def preview_invocation_logs(run: ResolvedRun, settings: PipelineSettings) -> dict[str, Any]:
    """State "Preview the invocation logs": read the logs as Bedrock will, apply the filter, and fail before the
    job -- with the metadata keys and values that do exist -- when Bedrock would refuse the selection.

    The selection is also written as a bedrock-conversation-2024 copy next to the run's datasets (what the run
    trained on, to keep; its first prompt is the smoke test's) with a stable hold-out beside it.
    """
    from distill.dataset import S3MultipartSink
    from distill.invocation_logs import ProfileOptions, export, holdout_path, parse_filter, s3_log_files

    plan = run.invocation_logs
    if plan is None:
        raise InvalidRunInput("this run distils from a dataset, not from invocation logs")
    s3 = aws.client("s3")
    selection = parse_filter(plan.request_metadata_filters) if plan.request_metadata_filters else None
    options = ProfileOptions(selection=selection, teacher=run.teacher_model_id,
                             use_prompt_response=plan.use_prompt_response)  # fmt: skip
    try:
        files = s3_log_files(s3, plan.s3_uri)
    except ValueError as error:
        raise DatasetInvalid(str(error)) from None
    sinks = S3MultipartSink(s3, run.dataset_uri), S3MultipartSink(s3, holdout_path(run.dataset_uri))
    report = export(files, sinks[0], sinks[1], options, holdout=LOGS_HOLDOUT, on_invalid=run.on_invalid_records)
    preview = report.to_dict()
    where = S3Location.parse(run.reports_uri).child(LOGS_PREVIEW)
    s3.put_object(Bucket=where.bucket, Key=where.key, Body=json.dumps(preview).encode(),
                  ContentType="application/json")  # fmt: skip
    # Bedrock trains from the logs, not from the copy: its rules decide (the profile's verdict). A copy that
    # de-duplication left short is not committed, and the run goes on without it.
    if not report.profile.ok:
        raise DatasetInvalid(f"{report.profile.verdict()} (full preview: {where.uri})")
    profile = preview["profile"]
    return {
        "source": "invocation-logs", "logsUri": plan.s3_uri, "previewUri": where.uri,
        "datasetUri": run.dataset_uri if report.ok else None,
        "recordsRead": profile["recordsScanned"], "recordsSelected": profile["selected"]["records"],
        "recordsUsable": profile["selected"]["usable"], "teacherPairs": profile["selected"]["withTeacherResponse"],
        "recordsWritten": report.training, "recordsHeldOut": report.held_out, "duplicates": report.duplicates,
        "recordsDropped": profile["recordsInvalid"], "verdict": report.profile.verdict()[:500],
        "copyWritten": report.ok, "copy": report.message[:300],
    }  # fmt: skip


def start_job(run: ResolvedRun, settings: PipelineSettings) -> dict[str, Any]:
    """State "Start distillation job"."""
    job_arn = bedrock.start_distillation_job(run, settings.bedrock_role_arn, settings.custom_model_kms_key_arn)
    return {"jobArn": job_arn, "status": "InProgress", "checks": 0, "startedAt": int(clock.now())}


def job_snapshot(job: dict[str, Any], output_uri: str, settings: PipelineSettings) -> dict[str, Any]:
    """``job`` (the state's ``$.job``) updated from one GetModelCustomizationJob (distill.job_waits looks with it
    when a run starts or keeps waiting, and when the job's state-change event arrives)."""
    snapshot = bedrock.describe_job(job["jobArn"])
    checks = int(job.get("checks", 0)) + 1
    failure = _failure_message(snapshot.status, snapshot.failure_message, polling.job_phase, "the distillation job")
    return {
        **job,
        "status": snapshot.status,
        "failureMessage": failure,
        "outputModelArn": snapshot.output_model_arn,
        "statusDetails": snapshot.status_details,
        "outputUri": snapshot.output_uri or output_uri,
        "endTime": snapshot.end_time,
        "checks": checks,
    }


def provision_throughput(run: ResolvedRun, job: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Create provisioned throughput" for the distilled model (result: ``$.serving``)."""
    plan = run.provisioned_throughput
    if plan is None:
        raise InvalidRunInput("provisioning was not requested for this run")
    arn = bedrock.create_provisioned_throughput(plan, _output_model(job), _serving_tags(run))
    return {
        **_serving_started(arn, settings),
        "provisionedModelArn": arn,
        "modelUnits": plan.model_units,
        "commitment": plan.commitment,
    }


def check_throughput(run: ResolvedRun, serving: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Check provisioned throughput"."""
    snapshot = bedrock.describe_provisioned_throughput(serving["provisionedModelArn"])
    return _serving_checked(serving, snapshot.status, snapshot.failure_message, polling.throughput_phase,
                            "the provisioned throughput", settings)  # fmt: skip


def deploy_on_demand(run: ResolvedRun, job: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Deploy the model on demand": a custom model deployment, billed per token (result: ``$.serving``)."""
    plan = run.on_demand_deployment
    if plan is None:
        raise InvalidRunInput("an on-demand deployment was not requested for this run")
    arn = bedrock.create_custom_model_deployment(plan, _output_model(job), _serving_tags(run))
    return {**_serving_started(arn, settings), "deploymentArn": arn, "deploymentName": plan.deployment_name}


def check_deployment(run: ResolvedRun, serving: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Check the deployment"."""
    snapshot = bedrock.describe_custom_model_deployment(serving["deploymentArn"])
    return _serving_checked(serving, snapshot.status, snapshot.failure_message, polling.deployment_phase,
                            "the custom model deployment", settings)  # fmt: skip


def _serving_tags(run: ResolvedRun) -> dict[str, str]:
    """The run's tags, and with servingTtlHours the expiry the hourly janitor deletes the serving at."""
    if run.serving_ttl_hours is None:
        return run.tags
    from datetime import UTC, datetime

    from distill import clock
    from distill.janitor import expiry_tag

    return {**run.tags, **expiry_tag(datetime.fromtimestamp(clock.now(), UTC), run.serving_ttl_hours)}


def _output_model(job: dict[str, Any]) -> str:
    if not job.get("outputModelArn"):
        raise DistillationJobFailed("the job completed without an output model ARN")
    return str(job["outputModelArn"])


def _serving_started(model_id: str, settings: PipelineSettings) -> dict[str, Any]:
    """What both serving loops start from: ``modelId`` is what "Try the distilled model" calls."""
    return {
        "modelId": model_id,
        "status": "Creating",
        "failureMessage": "",
        "checks": 0,
        "waitSeconds": polling.next_wait_seconds(0, settings.polling),
    }


def _serving_checked(
    serving: dict[str, Any],
    status: str,
    failure: str,
    phase: Callable[[str], polling.Phase],
    what: str,
    settings: PipelineSettings,
) -> dict[str, Any]:
    """One more check of a serving loop: its status, a failure message that is never empty, the next wait."""
    checks = int(serving.get("checks", 0)) + 1
    return {
        **serving,
        "status": status,
        "failureMessage": _failure_message(status, failure, phase, what),
        "checks": checks,
        "waitSeconds": polling.next_wait_seconds(checks, settings.polling),
    }


def _failure_message(status: str, given: str, phase: Callable[[str], polling.Phase], what: str) -> str:
    """Bedrock's failure message; never empty when the thing failed (a Fail state's cause must say something)."""
    if phase(status) is polling.Phase.FAILED and not given:
        return f"{what} ended {status} without a failure message"
    return given


LOGS_HOLDOUT = 0.05  # the copy of a selection keeps a stable 5% apart (prompts to try the model on, unseen)

# What the smoke test keeps in the execution state: a state's input and output may hold 256 KiB in all, and a
# record may be 1 MiB (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
PREVIEW_CHARS = 500
ANSWER_CHARS = 2_000
FIRST_LINE_MAX = 4 * 1024 * 1024  # a converted record: 1 MiB of input plus the system prompt and JSON escapes


def try_model(run: ResolvedRun, serving: dict[str, Any], settings: PipelineSettings,
              dataset: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """State "Try the distilled model": one prompt from the dataset through Converse, as the notebook does, on
    whatever serves the model (``$.serving.modelId``: the provisioned model or the deployment).

    A failed try is reported in the summary, not raised: the model exists and is billed either way, and the
    person reading the notification decides what to do with it. Only a preview of the prompt and a bounded
    answer go into the state.
    """
    if dataset is not None and not dataset.get("datasetUri"):
        return {"prompt": None, "promptChars": 0, "answer": None,
                "error": f"no prompt to try: {dataset.get('copy') or 'the run kept no dataset'}"}  # fmt: skip
    try:
        prompt = _first_prompt(run.dataset_uri)
    except ValueError as error:
        return {"prompt": None, "promptChars": 0, "answer": None, "error": f"no prompt to try: {error}"}
    tried = {"prompt": _clip(prompt, PREVIEW_CHARS), "promptChars": len(prompt)}
    try:
        answer = bedrock.converse(serving["modelId"], prompt, run.system_prompt)
    except (BedrockRejected, BedrockAccessDenied, QuotaExceeded) as error:
        return {**tried, "answer": None, "error": _clip(str(error), ANSWER_CHARS)}
    return {**tried, "answer": _clip(answer.text, ANSWER_CHARS), "error": None, "latencyMs": answer.latency_ms}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_prompt(dataset_uri: str) -> str:
    """The first user text of the converted dataset, read only as far as its first line. ValueError when that
    line cannot be read as a record."""
    where = S3Location.parse(dataset_uri)
    body = aws.client("s3").get_object(Bucket=where.bucket, Key=where.key, Range=f"bytes=0-{FIRST_LINE_MAX - 1}")["Body"]
    line = bytearray()
    for chunk in iter(lambda: body.read(64 * 1024), b""):
        cut = chunk.find(b"\n")
        line += chunk if cut < 0 else chunk[:cut]
        if cut >= 0:
            break
    else:
        if len(line) >= FIRST_LINE_MAX:
            raise ValueError(f"the first record is longer than {FIRST_LINE_MAX} bytes")
    try:
        return str(json.loads(bytes(line))["messages"][0]["content"][0]["text"])
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise ValueError(f"the first record of {dataset_uri} is not a conversation record ({error})") from None


def finish_run(state: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Write run summary": the summary JSON next to the validation report, and the success notice."""
    from distill import summary

    report = summary.success_summary(state)
    where = S3Location.parse(summary.summary_uri(state["run"]["reportsUri"]))
    aws.client("s3").put_object(
        Bucket=where.bucket, Key=where.key, Body=json.dumps(report, indent=2).encode(), ContentType="application/json"
    )
    if settings.notification_topic_arn:
        subject, body = summary.success_message(report)
        aws.client("sns").publish(TopicArn=settings.notification_topic_arn, Subject=subject, Message=body)
    return {
        "jobArn": report["job"]["jobArn"],
        "customModelArn": report["customModelArn"],
        "provisionedModelArn": report["provisionedModelArn"],
        "deploymentArn": report["deploymentArn"],
        "summaryUri": where.uri,
        "reportsUri": state["run"]["reportsUri"],
        "runId": state["run"]["runId"],
    }
