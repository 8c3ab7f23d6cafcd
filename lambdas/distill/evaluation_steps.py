"""The states that compare the served student with its teacher, and what follows from the verdict.

"Prepare the evaluation" writes the prompts file and the Map's batches; "Answer and judge a batch" sends a
batch's prompts to the student and the teacher (Converse, same system prompt and settings) and the pair to the
judge, and writes the results to S3 (never into the state); "Decide the verdict" reads them back, applies the
gate, writes ``verdict.json`` and ``report.html``; then the student is promoted behind an existing deployment or
its serving removed. The pure work is in distill.evaluation; this module only moves data in and out of S3 and
Bedrock.
"""

from __future__ import annotations

import json
from typing import Any

from distill import aws, bedrock, polling
from distill.errors import BedrockAccessDenied, BedrockRejected, InvalidRunInput
from distill.evaluation_plan import REPORT, VERDICT, EvaluationPlan
from distill.locations import S3Location
from distill.run_request import ResolvedRun
from distill.settings import PipelineSettings


def _plan(run: ResolvedRun) -> EvaluationPlan:
    if run.evaluation is None:
        raise InvalidRunInput("this run does not evaluate its student (evaluation is off or nothing is served)")
    return run.evaluation


def _read(uri: str) -> bytes:
    where = S3Location.parse(uri)
    return bytes(aws.client("s3").get_object(Bucket=where.bucket, Key=where.key)["Body"].read())


def _write(uri: str, body: bytes, content_type: str) -> None:
    where = S3Location.parse(uri)
    aws.client("s3").put_object(Bucket=where.bucket, Key=where.key, Body=body, ContentType=content_type)


def _batch_uri(plan: EvaluationPlan, batch: int) -> str:
    return f"{plan.results_prefix}batch-{batch:04d}.jsonl"


# --- "Prepare the evaluation" ------------------------------------------------------------------------------
def prepare_evaluation(run: ResolvedRun, dataset: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """The evaluation prompts (the hold-out, or ``evaluation.dataset``), one per distinct prompt, in a stable
    order, written to one file; the Map's items name slices of it. ``skipped`` says why there is nothing to do."""
    from distill.evaluation import batching
    from distill.evaluation.prompts import encode, from_line, ordered

    plan = _plan(run)
    if plan.dataset_uri:
        lines = _converted(plan.dataset_uri, run)
    elif not dataset.get("recordsHeldOut"):
        problem = dataset.get("holdoutProblem") or "no records were held out of training"
        return {"prompts": 0, "batches": [], "skipped": str(problem)}
    else:
        lines = [line for line in _read(str(plan.holdout_uri)).split(b"\n") if line.strip()]
    distinct = {p.key: p for p in (from_line(line) for line in reversed(lines))}  # the first of duplicates
    prompts = ordered(distinct.values())[: plan.request.holdout.maximum]
    if not prompts:
        return {"prompts": 0, "batches": [], "skipped": "the evaluation set has no prompts"}
    _write(plan.prompts_uri, encode(prompts), "application/x-ndjson")
    # Bedrock reads invocation logs itself: their hold-out could not be kept out of training.
    seen = run.source_kind == "invocation-logs" and not plan.dataset_uri
    return {"prompts": len(prompts), "batches": batching.items(len(prompts)), "skipped": "",
            "promptsUri": plan.prompts_uri, "heldOutSeenInTraining": seen}  # fmt: skip


def _converted(uri: str, run: ResolvedRun) -> list[bytes]:
    """A separate evaluation file in any dataset shape, converted in memory (bad records are left out)."""
    from distill.dataset import ConvertOptions, DatasetRules, convert, s3_sources
    from distill.errors import DatasetInvalid

    class Lines:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, data: bytes) -> None:
            self.data += data

        def commit(self) -> None: ...

        def abort(self) -> None: ...

    sink = Lines()
    options = ConvertOptions(input_format="auto", on_invalid="drop", system_prompt=run.system_prompt)
    report = convert(s3_sources(aws.client("s3"), uri), sink, options, DatasetRules(min_records=1))
    if not report.ok:
        raise DatasetInvalid(f"evaluation.dataset {uri}: {report.first_error}")
    return [line for line in bytes(sink.data).split(b"\n") if line.strip()]


# --- "Answer and judge a batch" ----------------------------------------------------------------------------
def evaluate_batch(run: ResolvedRun, serving: dict[str, Any], item: dict[str, Any],
                   settings: PipelineSettings) -> dict[str, Any]:  # fmt: skip
    """Every prompt of one batch: the student's and the teacher's answers, the judge's scores. Throttling is
    raised (the Map state retries the batch with back-off); any other failed call leaves that prompt unscored."""
    from distill.evaluation.batching import Batch
    from distill.evaluation.judge import inference_config
    from distill.evaluation.prompts import decode
    from distill.evaluation.results import batch_counts, encode, evaluate

    plan = _plan(run)
    batch = Batch.from_item(item)
    prompts = decode(_read(plan.prompts_uri), batch.start, batch.count)
    metrics = plan.request.scored_metrics
    judge_config = inference_config(len(metrics))

    def ask_judge(system: str, user: str) -> Any:
        return _ask(plan.judge_model_id, user, system, judge_config["maxTokens"], judge_config["temperature"])

    results = []
    for prompt in prompts:
        student = _ask(serving["modelId"], prompt.prompt, prompt.system, run.max_response_length)
        teacher = _ask(run.teacher_model_id, prompt.prompt, prompt.system, run.max_response_length)
        results.append(evaluate(prompt, student, teacher, ask_judge, metrics, plan.request.judge_attempts))
    uri = _batch_uri(plan, batch.index)
    _write(uri, encode(results), "application/x-ndjson")
    return batch_counts(batch.index, results, uri)


def _ask(model_id: str, prompt: str, system: str, max_tokens: int, temperature: float | None = None) -> Any:
    from distill.evaluation.calls import Call

    try:
        answer = bedrock.converse(model_id, prompt, system, max_tokens, temperature)
    except (BedrockRejected, BedrockAccessDenied) as error:  # (BedrockThrottled goes up: the batch is retried)
        return Call(error=f"{type(error).__name__}: {error}"[:500])
    return Call(text=answer.text, latency_ms=answer.latency_ms, input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens)  # fmt: skip


# --- "Decide the verdict" ----------------------------------------------------------------------------------
def decide_verdict(run: ResolvedRun, state: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """Read every batch's results, apply the gate, write verdict.json and report.html; return the verdict
    (small: it travels in the state and decides promotion)."""
    from distill.evaluation import Gate, Models, decide, summarize, to_dict
    from distill.evaluation.report import ReportInput, render
    from distill.evaluation.results import decode

    plan = _plan(run)
    batches = state["evaluation"]["batches"]
    results = [r for item in batches for r in decode(_read(_batch_uri(plan, int(item["batch"]))))]
    gate = Gate.from_request(plan.request)
    metrics = [m.name for m in plan.request.scored_metrics]
    models = Models(student=run.student_model_id, teacher=run.teacher_model_id, judge=plan.judge_model_id)
    evaluation = summarize(results, metrics, models, plan.request.prices)
    verdict = decide(evaluation, gate)
    verdict_dict = to_dict(evaluation, verdict, gate)
    reports = S3Location.parse(run.reports_uri)
    _write(reports.child(VERDICT).uri, json.dumps(verdict_dict, indent=2).encode(), "application/json")
    dataset = state.get("dataset") or {}
    page = render(ReportInput(
        run_id=run.run_id, models=models, evaluation=evaluation, verdict=verdict, gate=gate, results=results,
        curve=_training_curve(state.get("job") or {}), dataset=dataset,
        held_out=None if plan.dataset_uri else dataset.get("recordsHeldOut"),
        descriptions={m.name: m.description for m in plan.request.scored_metrics},
    ))  # fmt: skip
    _write(reports.child(REPORT).uri, page.encode(), "text/html; charset=utf-8")
    return {
        "passed": verdict.passed, "error": verdict.error or "", "cause": verdict.cause[:2000],
        "prompts": evaluation.prompts, "scored": evaluation.scored,
        "ratios": {m.name: round(m.ratio, 4) for m in evaluation.metrics},
        "verdictUri": reports.child(VERDICT).uri, "reportUri": reports.child(REPORT).uri,
    }  # fmt: skip


def _training_curve(job: dict[str, Any]) -> Any:
    """The job's step-wise training loss, where Bedrock writes it (``<output>/<job id>/training_artifacts/``);
    None when it is not there (the report says so)."""
    from botocore.exceptions import ClientError

    from distill.evaluation import training_metrics

    if not job.get("jobArn") or not job.get("outputUri"):
        return None
    job_id = str(job["jobArn"]).rsplit("/", 1)[-1]
    uri = f"{str(job['outputUri']).rstrip('/')}/{job_id}/training_artifacts/step_wise_training_metrics.csv"
    try:
        return training_metrics.parse(_read(uri))
    except (ClientError, ValueError):
        return None


# --- promotion, or removal of the serving the run created --------------------------------------------------
def promote_student(run: ResolvedRun, job: dict[str, Any], promotion: dict[str, Any] | None,
                    settings: PipelineSettings) -> dict[str, Any]:  # fmt: skip
    """States "Promote the student" (``promotion`` None: switch the existing deployment to the new model) and
    "Check the promotion" (one look at the update; ``waitSeconds`` grows like the serving loops')."""
    plan = _plan(run)
    if not plan.promote_to:
        raise InvalidRunInput("this run does not promote its student (evaluation.promoteTo is not set)")
    model = str(job.get("outputModelArn") or "")
    if promotion is None:
        arn = bedrock.update_custom_model_deployment(plan.promote_to, model)
        return {"deploymentArn": arn, "modelArn": model, "updateStatus": "Updating", "checks": 0,
                "failureMessage": "", "waitSeconds": polling.next_wait_seconds(0, settings.polling)}  # fmt: skip
    snapshot = bedrock.describe_custom_model_deployment(promotion["deploymentArn"])
    checks = int(promotion.get("checks", 0)) + 1
    status = snapshot.update_status or "Updating"
    if status == "UpdateCompleted" and snapshot.model_arn and snapshot.model_arn != model:
        status = "UpdateFailed"  # another update won: the deployment does not serve this run's model
    return {**promotion, "updateStatus": status, "checks": checks,
            "failureMessage": snapshot.failure_message if status == "UpdateFailed" else "",
            "waitSeconds": polling.next_wait_seconds(checks, settings.polling)}  # fmt: skip


def remove_serving(run: ResolvedRun, serving: dict[str, Any], settings: PipelineSettings) -> dict[str, Any]:
    """State "Remove the student's serving": delete the throughput (never one with a commitment: it cannot be
    deleted before its term) or the deployment this run created."""
    if serving.get("deploymentArn"):
        bedrock.delete_custom_model_deployment(str(serving["deploymentArn"]))
        return {"removed": serving["deploymentArn"], "kept": None}
    arn = serving.get("provisionedModelArn")
    if not arn:
        return {"removed": None, "kept": None}
    snapshot = bedrock.describe_provisioned_throughput(str(arn))
    if snapshot.commitment:
        return {"removed": None, "kept": f"{arn}: a {snapshot.commitment} commitment cannot be deleted before its term"}
    bedrock.delete_provisioned_throughput(str(arn))
    return {"removed": arn, "kept": None}
