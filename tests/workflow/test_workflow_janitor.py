"""The hourly janitor, through the deployed schedule rule: serving a run created with servingTtlHours is deleted
once its expiry passes (and the topic told), serving of a run without it is only warned about when idle, and the
job slot of a run whose failure notice was lost is given back."""

from __future__ import annotations

from distill.janitor import EXPIRES_AT_TAG, parse_expiry
from distill_cli.offline.bedrock.jobs import STOPPING_SECONDS
from distill_cli.offline.world import OfflinePipeline


def _tags(world: OfflinePipeline, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in world.bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}


def test_given_a_run_with_a_serving_ttl_when_the_hours_pass_then_the_janitor_deletes_its_deployment_and_says_so(
    synthesized, dataset_file
):
    with OfflinePipeline(synthesized=synthesized, job_checks=1, deployment_checks=1) as world:
        result = world.run({"dataset": world.upload(dataset_file), "onDemandDeployment": {},
                            "evaluation": False, "servingTtlHours": 3})  # fmt: skip
        assert result.succeeded, result.message
        arn = result.output["deploymentArn"]
        expires = parse_expiry(_tags(world, arn)[EXPIRES_AT_TAG])
        assert expires is not None and 3 * 3600 - 120 <= expires.timestamp() - world.scheduler.now() <= 3 * 3600

        (early,) = world.on_schedule(after_hours=1)
        assert early.ok and not world.bedrock.deployments[arn].deleted
        (due,) = world.on_schedule(after_hours=2)

        assert due.ok and due.result["notified"] is True, due.error
        assert world.bedrock.deployments[arn].deleted
        (notice,) = [n for n in world.published() if n["Subject"].startswith("distill janitor")]
        assert "1 deleted" in notice["Subject"] and arn in notice["Message"]


def test_given_a_run_without_a_ttl_when_its_serving_is_idle_for_a_day_then_it_is_warned_about_once_not_deleted(
    synthesized, dataset_file
):
    with OfflinePipeline(synthesized=synthesized, job_checks=1, deployment_checks=1) as world:
        result = world.run({"dataset": world.upload(dataset_file), "onDemandDeployment": {}, "evaluation": False})
        arn = result.output["deploymentArn"]

        (first,) = world.on_schedule(after_hours=25)
        (second,) = world.on_schedule(after_hours=1)

        assert not world.bedrock.deployments[arn].deleted
        warnings = [n for n in world.published() if n["Subject"].startswith("distill janitor")]
        assert len(warnings) == 1 and "1 idle" in warnings[0]["Subject"] and arn in warnings[0]["Message"]
        assert first.result["notified"] is True and second.result["notified"] is False


def test_given_a_run_whose_failure_notice_was_lost_when_the_janitor_runs_then_its_job_slot_goes_to_the_next_run(
    synthesized, dataset_file
):
    with OfflinePipeline(synthesized=synthesized, job_seconds=4 * 3600, max_running_jobs=2) as world:
        key = world.upload(dataset_file)
        held = world.start({"dataset": key, "evaluation": False}, name="holds-a-slot")
        world.start({"dataset": key, "evaluation": False}, name="holds-the-other")
        world.scheduler.run_until(lambda: len(world.bedrock.jobs) == 2)  # two slots (the default): both taken
        waiting = world.start({"dataset": key, "evaluation": False}, name="third-in-line")
        world.scheduler.advance(600)
        world.fail_invocation("notify_failure", "ServiceException", after_handler=False, times=3)
        world.sfn.stop_execution(executionArn=held)  # the failure notice is lost: the slot stays taken
        world.scheduler.advance(60)
        assert len(world.read_json("queue/ledger.json")["running"]) == 2

        (swept,) = world.on_schedule(after_hours=1)
        result = world.wait(waiting)

        assert swept.ok and len(swept.result["jobSlots"]["swept"]) == 1, swept.error or swept.result
        assert result.succeeded, result.message
        assert result.seconds_in("Wait for a job slot") < 2 * 3600  # freed by the sweep, not by a 4 h job


def test_given_a_run_aborted_while_its_job_trains_when_the_notifier_runs_then_the_job_is_stopped_and_said(
    synthesized, dataset_file
):
    # Nothing keeps billing for a run a person stopped: its job is stopped too (the janitor's neighbour duty).
    with OfflinePipeline(synthesized=synthesized, job_seconds=6 * 3600) as world:
        arn = world.start({"dataset": world.upload(dataset_file), "evaluation": False}, name="stopped-by-hand")
        world.scheduler.run_until(lambda: len(world.bedrock.jobs) == 1)
        world.scheduler.advance(900)

        before = len(world.bus.deliveries)
        world.sfn.stop_execution(executionArn=arn)
        (notified,) = [d for d in world.settle(world.bus.deliveries[before:]) if d.module == "notify_failure"]

        (job,) = world.bedrock.jobs.values()
        assert notified.ok and notified.result["jobStopped"] == job.arn, notified.error
        assert world.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
        # As in Bedrock, the job is Stopping for a while (offline, a minute) before it is Stopped.
        assert world.bedrock.get_model_customization_job(jobIdentifier=job.arn)["status"] == "Stopping"
        world.scheduler.advance(STOPPING_SECONDS)
        assert world.bedrock.get_model_customization_job(jobIdentifier=job.arn)["status"] == "Stopped"
        (notice,) = [n for n in world.published() if "stopped-by-hand" in n["Message"]]
        assert f"Stopped the distillation job this aborted run had started: {job.arn}" in notice["Message"]
        assert world.read_json("queue/ledger.json")["running"] == {}


def test_given_bedrock_refuses_to_stop_an_aborted_runs_job_when_the_notifier_runs_then_the_notice_says_to_stop_it(
    synthesized, dataset_file
):
    # Stopping is best effort, as giving back the slot is: the summary and the notice must not wait on it.
    with OfflinePipeline(synthesized=synthesized, job_seconds=6 * 3600) as world:
        arn = world.start({"dataset": world.upload(dataset_file), "evaluation": False}, name="stopped-by-hand")
        world.scheduler.run_until(lambda: len(world.bedrock.jobs) == 1)
        world.scheduler.advance(900)
        world.bedrock.fail_next("StopModelCustomizationJob", *["ThrottlingException"] * 9)

        before = len(world.bus.deliveries)
        world.sfn.stop_execution(executionArn=arn)
        (notified,) = [d for d in world.settle(world.bus.deliveries[before:]) if d.module == "notify_failure"]

        (job,) = world.bedrock.jobs.values()
        assert notified.ok, notified.error
        assert notified.result["jobStopped"] == "" and "ThrottlingException" in notified.result["jobStopError"]
        assert world.bedrock.get_model_customization_job(jobIdentifier=job.arn)["status"] == "InProgress"
        (notice,) = [n for n in world.published() if "stopped-by-hand" in n["Message"]]
        assert "Could not stop the distillation job this aborted run had started" in notice["Message"]
        assert job.arn in notice["Message"]
        assert world.read_json("queue/ledger.json")["running"] == {}
