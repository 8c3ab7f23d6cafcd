"""The offline world is as strict as AWS about IAM: every statement of every role in the synthesized templates
is needed by some scenario, and removing it (each in turn) makes that scenario fail, naming the permission.

See tests/support/strictness.py for how; the scenarios together use every function, the Bedrock role, the
state machine's role and both EventBridge paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from distill.janitor import expiry_tag
from distill.job_slots import FALLBACK_TTL_SECONDS
from distill_cli.offline.synthesis import SynthesizedApp
from distill_cli.offline.world import OfflinePipeline
from tests.support import strictness
from tests.workflow.conftest import write_dataset


def _run(world: OfflinePipeline, run_input: dict[str, Any], expect: str, dataset: Path, name: str) -> list[str]:
    result = world.run({"dataset": world.upload(dataset, f"{world.drop_prefix}{name}.jsonl"), **run_input}, name=name)
    problems = [] if result.status == expect else [f"{name} ended {result.status}: {result.message}"]
    return problems + [f"{d.module}: {d.error}" for d in result.deliveries if not d.ok]


def served_by_throughput(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # Evaluated on a separate file of prompts in the drop zone (evaluation.dataset), with a cross-Region teacher.
    world.scheduler.advance(FALLBACK_TTL_SECONDS)  # an hour after the last run: the jobs quota is read again
    # Kept in the drop zone's evaluation/ folder: the starter is invoked for it and declines to start a run.
    before = len(world.bus.deliveries)
    prompts = world.put(f"{world.drop_prefix}evaluation/prompts-{attempt}.jsonl", "".join(dataset.open().readlines()[:20]))
    declined = [d for d in world.settle(world.bus.deliveries[before:]) if not (d.ok and d.result["started"] is False)]
    if declined:
        return [f"{d.module}: {d.error or d.result}" for d in declined]
    return _run(world, {"provisionedThroughput": {}, "teacherModelId": "us.amazon.nova-pro-v1:0",
                        "evaluation": {"dataset": prompts}}, "SUCCEEDED", dataset, f"throughput-{attempt}")  # fmt: skip


def dropped_for_on_demand(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    key = f"{world.drop_prefix}on-demand-{attempt}.jsonl"
    deliveries = world.drop(dataset, key, settings={"onDemandDeployment": {}})
    started = [d.result["executionArn"] for d in deliveries if d.ok and (d.result or {}).get("executionArn")]
    if not started:
        return [f"the drop started no run: {[d.error for d in deliveries]}"]
    result = world.wait(started[0])
    return [] if result.succeeded else [f"on-demand run ended {result.status}: {result.message}"]


def throughput_fails(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # The failure notifier summarizes, notifies and deletes the run's throughput (the cost guard).
    problems = _run(world, {"provisionedThroughput": {}}, "FAILED", dataset, f"failing-{attempt}")
    left = [pt.arn for pt in world.bedrock.throughputs.values() if not pt.deleted and pt.status == "Failed"]
    return problems + [f"the cost guard left {arn}" for arn in left]


def handlers_keep_what_they_fail_on(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # A drop whose sidecar is broken, and a failed run whose notifier the Lambda service fails three times: both
    # events must reach the on-failure destination.
    key = f"{world.drop_prefix}broken-{attempt}.jsonl"
    world.put(key + ".settings.json", "{not json")
    (drop,) = world.drop(dataset, key)
    world.fail_invocation("notify_failure", "ServiceException", after_handler=False, times=3)
    result = world.run({"dataset": "incoming/not-there.jsonl"}, name=f"failing-notice-{attempt}")
    # The job's end event fails three times too: the run still ends, by the backstop's look.
    world.fail_invocation("job_state_changed", "ServiceException", after_handler=False, times=3)
    name = f"event-lost-{attempt}"
    lost = world.run({"dataset": world.upload(dataset, f"{world.drop_prefix}{name}.jsonl")}, name=name)
    problems = [] if lost.succeeded else [f"{name} ended {lost.status}: {lost.message}"]
    resumes = [d for d in world.bus.deliveries if d.module == "job_state_changed"][-1:]
    outcomes = [drop.outcome, *(d.outcome for d in result.deliveries), *(d.outcome for d in resumes)]
    return problems + [f"{o.function.module}: event not kept ({o.destination_error or 'lost'})" for o in outcomes
                       if o is not None and not o.sent_to]  # fmt: skip


def start_retried_into_its_own_job(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # The first start got through but Lambda reported a failure; the retry meets the job by name (its token
    # forgotten) and adopts it: that look-up is the starter's bedrock:GetModelCustomizationJob.
    world.fail_invocation("start_job", "ServiceException", after_handler=True)
    world.bedrock.fail_next("CreateModelCustomizationJob", "", "ConflictException")
    return _run(world, {}, "SUCCEEDED", dataset, f"adopting-{attempt}")


def distilled_from_invocation_logs(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # The preview reads and lists the logs and writes its copy; Bedrock reads them as its service role.
    uri = world.upload_tree(LOGS, "invocation-logs/")
    logs = {"s3Uri": uri, "usePromptResponse": True, "requestMetadataFilters": {"equals": {"use-case": "support"}}}
    # The sample's answers are Nova Pro's in this Region (a deployment may default to its cross-Region profile).
    result = world.run({"invocationLogs": logs, "teacherModelId": "amazon.nova-pro-v1:0"}, name=f"from-logs-{attempt}")
    return [] if result.succeeded else [f"from-logs-{attempt} ended {result.status}: {result.message}"]


def promoted_behind_a_deployment(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # A good student is promoted behind an existing deployment, then its own evaluation serving is removed.
    name = f"support-bot-{attempt}"
    existing = world.bedrock.seed_deployment(name)
    problems = _run(world, {"evaluation": {"promoteTo": name}}, "SUCCEEDED", dataset, f"promoted-{attempt}")
    promoted = world.bedrock.deployments[existing].model_arn
    return problems + ([] if any(world.bedrock.model_arn(j) == promoted for j in world.bedrock.jobs.values()
                                 if not j.earlier) else [f"{existing} still serves the earlier model"])  # fmt: skip


def weak_student_removed(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    problems = _run(world, {"provisionedThroughput": {}}, "FAILED", dataset, f"weak-{attempt}")
    left = [pt.arn for pt in world.bedrock.throughputs.values() if not pt.deleted]
    return problems + [f"the weak student's serving was left: {arn}" for arn in left]


def queued_for_the_quota(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # Five runs at once, two job slots, two-hour jobs. Bedrock refuses one start for its quota despite the slot
    # (something else in the account uses it): that run backs off, handing its slot on. The run of the first
    # job is aborted: the failure notifier hands its slot on. The run of the second is aborted and its failure
    # notice lost: the hourly janitor finds its slot and hands it on. A completed job's run hands its slot on.
    world.bedrock.fail_next("CreateModelCustomizationJob", "ServiceQuotaExceededException")
    uri = world.upload(dataset, f"{world.drop_prefix}queued-{attempt}.jsonl")
    jobs_before = set(world.bedrock.jobs)
    arns = [world.start({"dataset": uri, "evaluation": False}, name=f"queued-{attempt}-{n}") for n in range(5)]

    def new_jobs() -> list[Any]:
        return sorted((j for a, j in world.bedrock.jobs.items() if a not in jobs_before), key=lambda j: j.created)

    world.scheduler.run_until(lambda: len(new_jobs()) >= 2, limit_seconds=3 * 3600)  # bounded: statements go
    first, second = (next(a for a in arns if a.endswith(":" + _tag(j.request, "distill:execution")))
                     for j in new_jobs()[:2])  # fmt: skip
    before = len(world.bus.deliveries)
    world.sfn.stop_execution(executionArn=first)
    world.settle(world.bus.deliveries[before:])
    world.fail_invocation("notify_failure", "ServiceException", after_handler=False, times=3)
    world.sfn.stop_execution(executionArn=second)
    swept = world.on_schedule(after_hours=1)
    ends = {arn: world.wait(arn, limit_days=1) for arn in arns}
    problems = [f"{arn} ended {end.status}: {end.message}" for arn, end in ends.items()
                if end.status != ("ABORTED" if arn in (first, second) else "SUCCEEDED")]  # fmt: skip
    problems += [f"{d.module}: {d.error}" for d in swept if not d.ok]
    ledger = world.read_json("queue/ledger.json")
    return problems + [f"slots not given back: {ledger}" for _ in [1] if ledger["running"] or ledger["waiting"]]


def _tag(request: dict[str, Any], key: str) -> str:
    return next(t["value"] for t in request.get("jobTags", []) if t["key"] == key)


def janitor_sweeps_serving(world: OfflinePipeline, attempt: int, dataset: Path) -> list[str]:
    # The hourly schedule: an expired deployment of the pipeline is deleted and reported; one left idle for a
    # day is warned about (its invocations read from CloudWatch, the warning remembered in the bucket).
    now = datetime.fromtimestamp(world.scheduler.now(), UTC)
    expired = world.bedrock.seed_deployment(f"expired-{attempt}", tags=expiry_tag(now - timedelta(hours=2), 1))
    idle = world.bedrock.seed_deployment(f"idle-{attempt}")
    deliveries = world.on_schedule(after_hours=1)
    problems = [f"{d.module}: {d.error}" for d in deliveries if not d.ok]
    problems += [] if world.bedrock.deployments[expired].deleted else [f"{expired} was not deleted"]
    problems += [] if not world.bedrock.deployments[idle].deleted else [f"{idle} was deleted"]
    told = "\n".join(n["Message"] for n in world.published())
    problems += [f"not reported: {arn}" for arn in (expired, idle) if arn not in told]
    # An hour later the Lambda service fails the janitor three times: the event is kept, not lost.
    world.fail_invocation("janitor", "ServiceException", after_handler=False, times=3)
    (failed,) = world.on_schedule(after_hours=1)
    kept = failed.outcome is not None and failed.outcome.sent_to
    return problems + ([] if kept else [f"janitor: event not kept ({failed.outcome and failed.outcome.destination_error})"])


LOGS = Path(__file__).resolve().parents[2] / "samples" / "invocation-logs"
BUCKET = "distill-strictness"  # one name in every world, so a statement reads the same in each
SCENARIOS = {
    # A 15-minute job: its end reaches the waiting run by Bedrock's event (after two looks of its own).
    "served by throughput": ({"job_seconds": 900, "throughput_checks": 1}, served_by_throughput),
    "dropped for on demand": ({"job_checks": 1, "deployment_checks": 1}, dropped_for_on_demand),
    "throughput fails": ({"job_checks": 1, "throughput_checks": 1, "throughput_fails": True}, throughput_fails),
    "handlers keep what they fail on": ({"job_seconds": 3600}, handlers_keep_what_they_fail_on),
    "start retried into its own job": ({"job_checks": 1}, start_retried_into_its_own_job),
    "distilled from invocation logs": ({"job_checks": 1}, distilled_from_invocation_logs),
    "promoted behind a deployment": ({"job_checks": 1, "deployment_checks": 1}, promoted_behind_a_deployment),
    "weak student removed": ({"job_checks": 1, "throughput_checks": 1, "student_quality": 0.5},
                             weak_student_removed),
    # Last: they claim only what the queue and the janitor alone need (each claimed statement is a rerun).
    "queued for the quota": ({"job_seconds": 7200}, queued_for_the_quota),
    "janitor sweeps serving": ({}, janitor_sweeps_serving),
}


def bound(scenarios: dict, dataset: Path) -> dict:
    """The scenarios with their dataset bound: (options, (world, attempt) -> problems)."""
    return {name: (options, lambda w, n, run=run: run(w, n, dataset)) for name, (options, run) in scenarios.items()}


@pytest.fixture(scope="module")
def plan(synthesized: SynthesizedApp, dataset_file: Path) -> dict[str, list[strictness.StatementRef]]:
    """scenario -> the statements it is the first to need (each statement once)."""
    return strictness.plan(lambda **o: OfflinePipeline(synthesized=synthesized, bucket_name=BUCKET, **o),
                           bound(SCENARIOS, dataset_file))  # fmt: skip


@pytest.fixture
def scenario_world(request: pytest.FixtureRequest, synthesized: SynthesizedApp) -> Iterator[OfflinePipeline]:
    options, _ = SCENARIOS[request.param]
    with OfflinePipeline(synthesized=synthesized, bucket_name=BUCKET, **options) as world:
        yield world


def test_given_the_scenarios_when_run_healthy_then_every_statement_of_every_role_is_needed(plan):
    assert sum(len(refs) for refs in plan.values()) > 50


@pytest.mark.parametrize("scenario_world", list(SCENARIOS), indirect=True)
def test_given_one_statement_removed_when_the_scenario_that_needs_it_runs_then_it_fails_naming_the_permission(
    scenario_world: OfflinePipeline, plan, request: pytest.FixtureRequest, dataset_file: Path
):
    name = request.node.callspec.params["scenario_world"]
    (_, scenario) = bound(SCENARIOS, dataset_file)[name]
    # The janitor's statements are all rerun, those whose refusal is recorded too: that shows the shortcut holds.
    silent = strictness.ablate(scenario_world, scenario, plan[name], every=name == "janitor sweeps serving")
    assert not silent, "removed, yet the scenario did not fail naming the permission:\n" + "\n".join(silent)


def test_given_a_dataset_when_written_then_it_is_valid_for_the_scenarios(tmp_path: Path) -> None:
    assert len(write_dataset(tmp_path / "d.jsonl").read_text().splitlines()) >= 100
