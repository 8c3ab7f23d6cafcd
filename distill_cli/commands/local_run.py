"""``distill local-run FILE`` (or ``--invocation-logs DIR``): the whole pipeline offline, on one dataset file or
on a folder of Bedrock model invocation logs.

The app is synthesized; its state machine definition runs in the offline world's interpreter on a virtual clock
(the deployed waits, taking no real time); every task calls the real handler in this process under its own role;
S3 is moto's and Bedrock is the simulator. The last line is ``SUCCEEDED`` (exit 0) or ``FAILED: <cause>``
(exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, nargs="?",
                        help="the raw JSONL dataset (uploaded to the drop zone, incoming/)")  # fmt: skip
    logs = parser.add_argument_group("distilling from invocation logs (instead of FILE)")
    logs.add_argument(
        "--invocation-logs", type=Path, metavar="DIR",
        help="a folder of Bedrock model invocation logs (e.g. AWSLogs/... as Bedrock writes them), copied under "
        "the bucket's invocation-logs/; the run trains from them",
    )  # fmt: skip
    logs.add_argument("--filter", metavar="JSON", help="requestMetadataFilters, e.g. '{\"equals\": {\"team\": \"support\"}}'")
    logs.add_argument("--use-prompt-response", action="store_true",
                      help="train on the teacher's logged responses instead of generating new ones")  # fmt: skip
    parser.add_argument(
        "--job-outcome",
        choices=("completed", "failed", "stopped"),
        default="completed",
        help="how the simulated distillation job ends (default: completed)",
    )
    serving = parser.add_mutually_exclusive_group()
    serving.add_argument(
        "--provision", action="store_true", help="put the distilled model behind (simulated) provisioned throughput"
    )
    serving.add_argument(
        "--on-demand",
        action="store_true",
        help="serve the distilled model with a (simulated) on-demand custom model deployment, billed per token",
    )
    parser.add_argument(
        "--throughput-fails", action="store_true", help="the simulated provisioned throughput ends Failed"
    )
    parser.add_argument(
        "--deployment-fails", action="store_true", help="the simulated on-demand deployment ends Failed"
    )
    evaluation = parser.add_argument_group("the evaluation (when the student is served)")
    evaluation.add_argument(
        "--student-quality", type=float, default=0.95, metavar="Q",
        help="the simulated judge gives the student Q of the teacher's score (default 0.95; the gate asks 0.9)",
    )  # fmt: skip
    evaluation.add_argument(
        "--promote-to", metavar="NAME",
        help="an on-demand deployment NAME serving an earlier model exists; a student that passes is promoted "
        "behind it (evaluation.promoteTo)",
    )  # fmt: skip
    parser.add_argument(
        "--input",
        metavar="JSON",
        help='more execution input, merged over {"dataset": ...}, e.g. \'{"onInvalidRecords": "drop"}\'',
    )
    parser.add_argument(
        "--via-drop",
        action="store_true",
        help="start the run as a deployed pipeline does: the upload's Object Created event goes through the "
        "template's EventBridge rule to the drop handler (--input/--provision/--on-demand become the "
        "<file>.settings.json sidecar)",
    )
    parser.add_argument("--name", help="the execution name (default: local-<file>-<time>; ignored with --via-drop)")
    parser.add_argument(
        "--job-checks", type=int, default=3, metavar="N", help="status checks before the simulated job ends"
    )
    parser.add_argument(
        "--job-hours", type=float, metavar="H",
        help="the simulated job runs H hours on the simulated clock (then --job-checks does not matter)",
    )
    parser.add_argument(
        "--download",
        type=Path,
        metavar="DIR",
        help="copy what the run wrote (datasets/, jobs/, reports/) from the simulated bucket into DIR",
    )
    parser.add_argument("--quiet", action="store_true", help="no live trace; only the summary and the verdict")
    many = parser.add_argument_group("many runs at once (the job queue)")
    many.add_argument("--many", type=int, metavar="N",
                      help="drop N copies of FILE at once: N runs share the job quota through the job queue")  # fmt: skip
    many.add_argument("--max-running-jobs", type=int, metavar="J",
                      help="with --many: the simulated Bedrock refuses more than J running jobs (default 2, the "
                      "queue's limit when the quota cannot be read)")  # fmt: skip


def _execution_input(args: argparse.Namespace, source: str) -> dict[str, Any]:
    """``source``: the dataset's key, or with --invocation-logs the logs' s3:// prefix."""
    run_input: dict[str, Any] = {"dataset": source}
    if args.invocation_logs is not None:
        logs: dict[str, Any] = {"s3Uri": source, "usePromptResponse": args.use_prompt_response}
        if args.filter_value is not None:
            logs["requestMetadataFilters"] = args.filter_value
        run_input = {"invocationLogs": logs}
    if args.provision:
        run_input["provisionedThroughput"] = {"modelUnits": 1}
    if args.on_demand:
        run_input["onDemandDeployment"] = {}
    if args.promote_to:
        run_input["evaluation"] = {"promoteTo": args.promote_to}
    if args.extra_input:
        run_input.update(args.extra_input)
    return run_input


LOGS_PREFIX = "invocation-logs/"  # distill.settings.BucketLayout.logs_prefix: the prefix the pipeline may read


def _source_problem(args: argparse.Namespace) -> str:
    """What is wrong with the choice of training data, or ""."""
    args.filter_value = None
    if (args.file is None) == (args.invocation_logs is None):
        return "give a dataset FILE or --invocation-logs DIR (exactly one)"
    if args.invocation_logs is None:
        if args.filter is not None or args.use_prompt_response:
            return "--filter and --use-prompt-response need --invocation-logs"
        return "" if args.file.is_file() else f"no such file: {args.file}"
    if not args.invocation_logs.is_dir():
        return f"--invocation-logs: no such folder: {args.invocation_logs}"
    if args.via_drop:
        return "--via-drop drops a dataset file; a run from invocation logs starts from its execution input"
    if args.filter is not None:
        try:
            args.filter_value = json.loads(args.filter)
        except ValueError as error:
            return f"--filter is not valid JSON: {error}"
    return ""


def _parse_input(text: str | None) -> dict[str, Any] | str:
    """The --input object, or an error message."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as error:
        return f"--input is not valid JSON: {error}"
    if not isinstance(value, dict):
        return f"--input must be a JSON object, got {type(value).__name__}"
    return value


def run(args: argparse.Namespace) -> int:
    out = sys.stdout  # the trace goes here even while a handler's output is being captured
    parsed = _parse_input(args.input)
    if isinstance(parsed, str):
        print(f"distill local-run: {parsed}", file=sys.stderr)
        return 2
    args.extra_input = parsed
    from distill_cli.commands import local_many

    problem = _source_problem(args) or local_many.problem(args)
    if problem:
        print(f"distill local-run: {problem}", file=sys.stderr)
        return 2
    if args.job_checks < 1:
        print("distill local-run: --job-checks must be at least 1", file=sys.stderr)
        return 2
    if not 0 < args.student_quality <= 2:
        print("distill local-run: --student-quality must be more than 0 and at most 2", file=sys.stderr)
        return 2
    if args.job_hours is not None and not 0 < args.job_hours <= 24 * 365:
        print("distill local-run: --job-hours must be more than 0 and at most a year", file=sys.stderr)
        return 2

    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    begun = time.monotonic()
    say("Synthesizing the app (bundling skipped) ...")
    from distill.job_slots import SAFE_DEFAULT_LIMIT
    from distill_cli.offline.trace import clock_text
    from distill_cli.offline.world import OfflinePipeline, default_execution_name, failure_message, synthesize

    try:
        synth = synthesize()
    except Exception as error:  # the same app `cdk deploy` would refuse: say why, as the verdict
        first = next((line for line in str(error).splitlines() if line.strip()), type(error).__name__)
        say(f"FAILED: the CDK app does not synthesize: {first}")
        return 1
    say(f"  {synth.data_stack} + {synth.pipeline_stack} in {synth.seconds:.1f}s")
    with OfflinePipeline(
        synthesized=synth,
        job_outcome=args.job_outcome,
        job_checks=args.job_checks,
        job_seconds=args.job_hours * 3600 if args.job_hours else None,
        throughput_fails=args.throughput_fails,
        deployment_fails=args.deployment_fails,
        student_quality=args.student_quality,
        # --many: an account whose jobs quota is J (Service Quotas answers it; Bedrock enforces it).
        max_running_jobs=(args.max_running_jobs or SAFE_DEFAULT_LIMIT) if args.many else None,
        jobs_quota=args.max_running_jobs if args.many else None,
    ) as pipeline:
        if args.many:
            settings = {k: v for k, v in _execution_input(args, "").items() if k != "dataset"}
            return local_many.run_many(args, pipeline, settings, say)
        if args.promote_to:
            say(f"Existing deployment {pipeline.bedrock.seed_deployment(args.promote_to)} (an earlier model)")
        say(f"Simulated AWS: bucket {pipeline.bucket}, {len(pipeline.functions)} functions, state machine")
        say(f"  {pipeline.state_machine_arn}")
        trace = None if args.quiet else say
        if args.via_drop:
            key = f"{pipeline.drop_prefix}{args.file.name}"
            sidecar = {k: v for k, v in _execution_input(args, key).items() if k != "dataset"}
            if sidecar:
                say(f"Sidecar s3://{pipeline.bucket}/{key}.settings.json: {json.dumps(sidecar)}")
            say(f"Dropping {args.file} -> s3://{pipeline.bucket}/{key} (simulated job ends {args.job_outcome})")
            say("")
            begun_run = time.monotonic()
            deliveries = pipeline.drop(args.file, key, sidecar or None)
            started = [d for d in deliveries if d.ok and isinstance(d.result, dict) and d.result.get("executionArn")]
            for delivery in deliveries:
                said = delivery.error or delivery.result
                say(f"  rule {delivery.rule_name} -> {delivery.module}: {said}")
            if not started:
                say("FAILED: the drop started no execution")
                return 1
            result = pipeline.wait(started[0].result["executionArn"], on_trace=trace, started=begun_run)
        else:
            if args.invocation_logs is not None:
                key = pipeline.upload_tree(args.invocation_logs, LOGS_PREFIX)
                say(f"Copied {args.invocation_logs}/ -> {key}")
            else:
                key = pipeline.upload(args.file)
                say(f"Uploaded {args.file} -> s3://{pipeline.bucket}/{key}")
            run_input = _execution_input(args, key)
            name = args.name or default_execution_name(args.file or args.invocation_logs)
            say(f"Starting execution {name} (simulated job ends {args.job_outcome})")
            say("")
            result = pipeline.run(run_input, name=name, on_trace=trace)
        say("")
        _summary(say, pipeline, result)
        if args.download:
            copied = pipeline.download(args.download)
            say(f"Copied {len(copied)} object(s) from the simulated bucket to {args.download}/")
        if not result.succeeded:
            _show_failed_handlers(say, pipeline)
        say(f"(offline run: {clock_text(result.virtual_seconds)} on the simulated clock, {result.seconds:.1f}s for the "
            f"execution, {time.monotonic() - begun:.1f}s in all)")
        if result.succeeded:
            say("SUCCEEDED")
            return 0
        if result.status != "FAILED":
            say(f"FAILED: execution {result.status}: {result.message}")
        else:
            say(f"FAILED: {failure_message(result.error, result.cause)}")
        return 1


def _summary(say: Any, pipeline: Any, result: Any) -> None:
    output = result.output if isinstance(result.output, dict) else {}
    jobs = list(pipeline.bedrock.jobs.values())
    throughputs = list(pipeline.bedrock.throughputs.values())
    job_arn = output.get("jobArn") or (jobs[-1].arn if jobs else "")
    say("Summary")
    say(f"  execution          {result.execution_arn}")
    say(f"  status             {result.status}")
    say(f"  job                {job_arn or '(none created)'}")
    models = [pipeline.bedrock.model_arn(j) for j in jobs if j.done and j.outcome == "completed"]
    say(f"  custom model       {output.get('customModelArn') or (models[-1] if models else '(none)')}")
    provisioned = output.get("provisionedModelArn") or (throughputs[-1].arn if throughputs else "")
    say(f"  provisioned model  {provisioned or '(none requested)' if result.succeeded else provisioned or '(none)'}")
    deployments = list(pipeline.bedrock.deployments.values())
    deployment = output.get("deploymentArn") or (deployments[-1].arn if deployments else "")
    if deployment:
        gone = any(d.arn == deployment and d.deleted for d in deployments)
        say(f"  deployment         {deployment} " + ("(removed by the run)" if gone else "(on demand, billed per token)"))
    if output.get("reportsUri"):
        say(f"  reports            {output['reportsUri']}")
    _verdict(say, pipeline)
    layout = pipeline.settings.get("layout", {})
    prefixes = [layout.get(k, d) for k, d in
                (("datasetsPrefix", "datasets/"), ("jobsPrefix", "jobs/"), ("reportsPrefix", "reports/"))]  # fmt: skip
    written = [key for prefix in prefixes for key in pipeline.keys(prefix)]
    say(f"  written to s3://{pipeline.bucket}/" + ("" if written else "  (nothing)"))
    for key in written:
        say(f"    {key}")


def _verdict(say: Any, pipeline: Any) -> None:
    """The evaluation's verdict and where its report is, when the run got that far."""
    verdicts = [key for key in pipeline.keys("reports/") if key.endswith("/verdict.json")]
    if not verdicts:
        return
    verdict = pipeline.read_json(verdicts[-1])
    shares = ", ".join(f"{name} {m['ratio']:.2f}" for name, m in verdict["metrics"].items()
                       if isinstance(m.get("ratio"), float))  # fmt: skip
    say(f"  evaluation         {'PASSED' if verdict['passed'] else verdict['error']}: {shares or verdict['cause']}")
    say(f"  report             s3://{pipeline.bucket}/{verdicts[-1].rsplit('/', 1)[0]}/report.html")
    promoted = [d for d in pipeline.bedrock.deployments.values() if getattr(d, "update", None)
                and getattr(d.update, "status", "") == "UpdateCompleted"]  # fmt: skip
    for deployment in promoted:
        say(f"  promoted           {deployment.arn} now serves the new model")


def _pipeline_errors() -> set[str]:
    from distill.errors import PipelineError

    names, todo = set(), [PipelineError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _show_failed_handlers(say: Any, pipeline: Any) -> None:
    """An unexpected exception (a bug, not a pipeline error) comes with the handler's output and traceback."""
    expected = _pipeline_errors()
    failed = [i for i in pipeline.invocations if i.error_type and i.error_type not in expected]
    for invocation in failed[-1:]:
        say(f"Handler {invocation.handler} raised {invocation.error_type} (request {invocation.request_id}):")
        text = (invocation.output or "") + (invocation.traceback or "")
        for line in text.rstrip().splitlines()[-15:]:
            say(f"  | {line}")

