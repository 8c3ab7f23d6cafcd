"""Waiting for a job's end: the callback task's function keeps the token where the job's state-change event
finds it, and whichever of the two sees the end first answers it, exactly once, for the right run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from distill import aws, job_waits
from handlers import await_job, check_run_settings, job_state_changed, start_job
from tests.support.aws_world import BUCKET, EXECUTION_ARN, World


class RecordingStepFunctions:
    """A fake with behaviour: a token answers once; after that (or once closed) AWS says TaskTimedOut."""

    def __init__(self) -> None:
        self.answered: dict[str, Any] = {}
        self.closed: set[str] = set()

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        if taskToken in self.answered or taskToken in self.closed:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")
        self.answered[taskToken] = json.loads(output)
        return {}


@pytest.fixture
def sfn(world: World) -> RecordingStepFunctions:
    fake = RecordingStepFunctions()
    clients = {"s3": world.s3, "bedrock": world.bedrock, "stepfunctions": fake}
    aws.use_factory(clients.__getitem__)
    return fake


def _started(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    event = {"input": {"dataset": "incoming/t.jsonl"}, "execution": {"arn": EXECUTION_ARN, "name": "run-1"}}
    run = check_run_settings.handler(event, world.context)["run"]
    return run, start_job.handler({"run": run}, world.context)


def _state_change(job_arn: str, status: str = "Completed") -> dict[str, Any]:
    return {"source": "aws.bedrock", "detail-type": "Model Customization Job State Change",
            "detail": {"jobArn": job_arn, "jobStatus": status, "jobName": "distill-run-1"}}  # fmt: skip


def _token_keys(world: World) -> list[str]:
    return world.keys(world.settings.layout.waits_prefix)


def test_given_a_running_job_when_the_run_waits_then_the_token_is_kept_and_not_answered(world, sfn):
    world.bedrock.job_checks = 5
    run, job = _started(world)

    looked = await_job.handler({"run": run, "job": job, "token": "tok-1"}, world.context)

    assert looked == {"answered": False, "status": "InProgress"}
    (key,) = _token_keys(world)
    record = json.loads(world.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert record["token"] == "tok-1" and record["jobArn"] == job["jobArn"]
    assert record["executionArn"] == EXECUTION_ARN
    assert sfn.answered == {}


def test_given_the_job_already_ended_when_the_run_waits_then_the_function_answers_its_own_token(world, sfn):
    world.bedrock.job_checks = 1
    run, job = _started(world)

    looked = await_job.handler({"run": run, "job": job, "token": "tok-1"}, world.context)

    assert looked == {"answered": True, "status": "Completed"}
    assert sfn.answered["tok-1"]["status"] == "Completed" and sfn.answered["tok-1"]["outputModelArn"]
    assert _token_keys(world) == []


def test_given_a_waiting_run_when_its_job_ends_then_the_event_resumes_it_once(world, sfn):
    world.bedrock.job_checks = 2
    run, job = _started(world)
    await_job.handler({"run": run, "job": job, "token": "tok-1"}, world.context)  # looks: InProgress

    first = job_state_changed.handler(_state_change(job["jobArn"]), world.context)
    again = job_state_changed.handler(_state_change(job["jobArn"]), world.context)

    assert first["resumed"] is True and first["executionArn"] == EXECUTION_ARN
    assert sfn.answered["tok-1"]["status"] == "Completed"
    assert again["resumed"] is False and "no run" in again["reason"]  # the token went with the first
    assert _token_keys(world) == []


def test_given_the_run_moved_on_when_a_late_event_arrives_then_nothing_is_resumed(world, sfn):
    world.bedrock.job_checks = 2
    run, job = _started(world)
    await_job.handler({"run": run, "job": job, "token": "tok-1"}, world.context)
    sfn.closed.add("tok-1")  # the backstop's retry timed this token out

    late = job_state_changed.handler(_state_change(job["jobArn"]), world.context)

    assert late["resumed"] is False and "late or duplicate" in late["reason"]
    assert sfn.answered == {}


def test_given_a_token_of_another_job_under_the_name_when_an_event_arrives_then_it_is_not_used(world, sfn):
    _run, job = _started(world)
    place = job_waits.token_location(world.settings, job["jobArn"])
    world.s3.put_object(Bucket=BUCKET, Key=place.key, Body=json.dumps({"token": "t", "jobArn": "arn:other"}))

    result = job_state_changed.handler(_state_change(job["jobArn"]), world.context)

    assert result["resumed"] is False and "another job" in result["reason"]
    assert sfn.answered == {}


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_given_a_job_still_running_when_its_event_arrives_then_nothing_happens(world, sfn, status):
    run, job = _started(world)
    await_job.handler({"run": run, "job": job, "token": "tok-1"}, world.context)

    result = job_state_changed.handler(_state_change(job["jobArn"], status), world.context)

    assert result["resumed"] is False and sfn.answered == {}
    assert len(_token_keys(world)) == 1
