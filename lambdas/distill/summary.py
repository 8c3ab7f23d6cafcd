"""The run summary written to S3 at the end of every run, and the notifications that link to it."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from distill import clock
from distill.locations import SUMMARY, S3Location

CLEANUP_HINT = (
    "Provisioned throughput is billed every hour until it is deleted. Stop it with `distill cleanup` or "
    "`aws bedrock delete-provisioned-model-throughput --provisioned-model-id {arn}`."
)
DEPLOYMENT_HINT = (
    "The on-demand deployment is billed per token it processes, with no hourly charge while it is idle. Delete "
    "it when you no longer need it with `distill cleanup` or "
    "`aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {arn}`."
)


def summary_uri(reports_uri: str) -> str:
    return S3Location.parse(reports_uri).child(SUMMARY).uri


def success_summary(state: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What a finished run did, from the execution state ($.run, $.dataset, $.job, $.serving, $.smokeTest)."""
    run, job = state["run"], state["job"]
    serving = state.get("serving") or {}
    finished = now or datetime.fromtimestamp(clock.now(), UTC)
    return {
        "status": "SUCCEEDED",
        "finishedAt": finished.isoformat(),
        "timings": _timings(job, finished),
        "execution": {"name": run["executionName"], "arn": run["executionArn"]},
        "input": {
            "dataset": run["source"],
            "sourceKind": run.get("sourceKind", "dataset"),
            "invocationLogs": run.get("invocationLogs"),
            "teacherModelId": run["teacherModelId"],
            "studentModelId": run["studentModelId"],
            "maxResponseLength": run["maxResponseLength"],
            "onInvalidRecords": run["onInvalidRecords"],
        },
        "dataset": state.get("dataset", {}),
        "job": {
            "jobArn": job["jobArn"],
            "jobName": run["jobName"],
            "status": job.get("status"),
            "statusDetails": job.get("statusDetails", {}),
            "checks": job.get("checks"),
            # Bedrock writes step-wise training metrics and the teacher's synthetic data here.
            "outputUri": job.get("outputUri", run["outputUri"]),
        },
        "customModelArn": job.get("outputModelArn"),
        "serving": run["serving"],
        "provisionedModelArn": serving.get("provisionedModelArn"),
        "provisionedThroughput": {k: serving.get(k) for k in ("status", "modelUnits", "commitment")}
        if serving.get("provisionedModelArn")
        else None,
        "deploymentArn": serving.get("deploymentArn"),
        "onDemandDeployment": {
            "status": serving.get("status"),
            "deploymentName": serving.get("deploymentName"),
            "billing": "per token (no hourly charge)",
        }
        if serving.get("deploymentArn")
        else None,
        "smokeTest": state.get("smokeTest"),
        "evaluation": _evaluation(run, state),
        "reportsUri": run["reportsUri"],
    }


def _evaluation(run: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Whether the student was compared with its teacher, the verdict, and the promotion."""
    evaluation = state.get("evaluation") or {}
    verdict = evaluation.get("verdict")
    skipped = run.get("evaluationSkipped") or evaluation.get("skipped") or ("turned off" if not run.get("evaluation")
                                                                            else "")  # fmt: skip
    promotion = state.get("promotion") or {}
    return {
        "evaluated": bool(verdict), "skipped": skipped or None, "verdict": verdict,
        "heldOutSeenInTraining": bool(evaluation.get("heldOutSeenInTraining")),
        "promotedTo": promotion.get("deploymentArn") if promotion.get("updateStatus") == "UpdateCompleted" else None,
        "removedServing": (state.get("removed") or {}).get("removed"),
    }  # fmt: skip


def smoke_error(smoke: dict[str, Any]) -> str:
    """Why the smoke test has no answer: the try's own error, or the error the state machine caught after its
    retries ({"Error", "Cause"} with Lambda's error payload in the cause)."""
    if smoke.get("error"):
        return str(smoke["error"])
    cause = str(smoke.get("Cause") or "")
    with contextlib.suppress(ValueError, AttributeError):  # Lambda's error payload, or plain text
        cause = str(json.loads(cause).get("errorMessage") or cause)
    return f"{smoke.get('Error') or 'unknown'}: {cause}" if cause else str(smoke.get("Error") or "unknown")


def success_message(summary: dict[str, Any]) -> tuple[str, str]:
    lines = [
        f"Distillation run {summary['execution']['name']} succeeded.",
        "",
        f"Custom model:        {summary['customModelArn']}",
        *_served_by(summary),
        *_records(summary),
        f"Job output/metrics:  {summary['job']['outputUri']}",
        f"Run summary:         {summary_uri(summary['reportsUri'])}",
    ]
    if summary["provisionedModelArn"]:
        lines += ["", CLEANUP_HINT.format(arn=summary["provisionedModelArn"])]
    if summary["deploymentArn"]:
        lines += ["", DEPLOYMENT_HINT.format(arn=summary["deploymentArn"])]
    lines += _verdict_lines(summary.get("evaluation") or {})
    smoke = summary.get("smokeTest") or {}
    if smoke.get("answer"):
        lines += ["", f"Smoke test prompt: {smoke['prompt'][:200]}", f"Answer: {smoke['answer'][:500]}"]
    elif smoke:
        lines += ["", f"Smoke test: the model did not answer: {smoke_error(smoke)[:500]}"]
    return f"Distillation succeeded: {summary['execution']['name']}"[:100], "\n".join(lines)


def _verdict_lines(evaluation: dict[str, Any]) -> list[str]:
    verdict = evaluation.get("verdict")
    if not verdict:
        return ["", f"Not evaluated: {evaluation.get('skipped') or 'no verdict'}"] if evaluation else []
    ratios = ", ".join(f"{name} {ratio:.2f}" for name, ratio in (verdict.get("ratios") or {}).items())
    lines = ["", f"Evaluation:          {'PASSED' if verdict.get('passed') else 'FAILED'} - {verdict.get('cause', '')[:600]}",
             f"Share of the teacher: {ratios} ({verdict.get('scored')} of {verdict.get('prompts')} prompts scored)",
             f"Report:              {verdict.get('reportUri')}"]  # fmt: skip
    if evaluation.get("heldOutSeenInTraining"):
        lines.append("Note: Bedrock trained on every selected log record, the held-out prompts too (give "
                     "evaluation.dataset for prompts it never saw).")  # fmt: skip
    if evaluation.get("promotedTo"):
        lines.append(f"Promoted:            {evaluation['promotedTo']} now serves this model")
    return lines


def _records(summary: dict[str, Any]) -> list[str]:
    data = summary["dataset"]
    if summary["input"].get("sourceKind") != "invocation-logs":
        return [f"Records converted:   {data.get('recordsWritten', '?')} (dropped {data.get('recordsDropped', 0)})"]
    logs = summary["input"].get("invocationLogs") or {}
    chosen = json.dumps(logs.get("requestMetadataFilters")) if logs.get("requestMetadataFilters") else "none"
    return [
        f"Invocation logs:     {data.get('logsUri', summary['input']['dataset'])} (filter: {chosen[:300]})",
        f"Records selected:    {data.get('recordsSelected', '?')} of {data.get('recordsRead', '?')} read; "
        f"{data.get('teacherPairs', '?')} answered by the teacher",
        f"Preview:             {data.get('previewUri', '?')}",
    ]


def _served_by(summary: dict[str, Any]) -> list[str]:
    if summary["deploymentArn"]:
        return [f"On-demand deployment: {summary['deploymentArn']} (billed per token)"]
    return [f"Provisioned model:   {summary['provisionedModelArn'] or 'none (not requested)'}"]


def failure_summary(
    execution: dict[str, Any], failed_state: str, error: str, cause: str, reports_uri: str
) -> dict[str, Any]:
    return {
        "status": execution.get("status", "FAILED"),
        "execution": {"name": execution.get("name"), "arn": execution.get("executionArn")},
        "failedState": failed_state,
        "error": error,
        "cause": cause,
        "reportsUri": reports_uri,
    }


def failure_message(summary: dict[str, Any], console_url: str) -> tuple[str, str]:
    lines = [
        f"Distillation run {summary['execution']['name']} ended {summary['status']}.",
        "",
        f"Failed state:  {summary['failedState'] or 'unknown'}",
        f"Error:         {summary['error'] or 'unknown'}",
        f"Cause:         {summary['cause'] or 'not given'}",
        f"Run summary:   {summary_uri(summary['reportsUri'])}",
        f"Execution:     {console_url}",
        "",
        "Provisioned throughput and on-demand deployments this pipeline created, and what they cost, are listed "
        "by `distill cleanup`.",
    ]
    return f"Distillation {summary['status'].lower()}: {summary['execution']['name']}"[:100], "\n".join(lines)


def _timings(job: dict[str, Any], finished: datetime) -> dict[str, Any]:
    """When the job was started and ended, and how long the job and the whole tail of the run took."""
    started = job.get("startedAt")
    ended = job.get("endTime") or None
    timings: dict[str, Any] = {"jobStartedAt": None, "jobEndedAt": ended, "secondsSinceJobStart": None}
    if isinstance(started, int | float):
        timings["jobStartedAt"] = datetime.fromtimestamp(started, UTC).isoformat()
        timings["secondsSinceJobStart"] = int(finished.timestamp() - started)
    return timings
