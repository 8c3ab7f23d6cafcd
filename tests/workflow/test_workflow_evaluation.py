"""Is the student good enough? The synthesized state machine compares the served student with its teacher on
held-out prompts, promotes a good one behind an existing deployment, and removes a weak one's serving."""

from __future__ import annotations

import json

import pytest

from tests.support.screenshot import CHROMIUM, NO_CHROMIUM, assert_report_screenshot
from tests.workflow.conftest import write_dataset

EVALUATION_STATES = ["Evaluate the student?", "Prepare the evaluation", "Are there prompts to evaluate?",
                     "Answer and judge the held-out prompts", "Decide the verdict", "Did the student earn it?"]  # fmt: skip


def _live(pipeline) -> list[str]:
    """Serving that still exists (and bills): throughput or deployments not deleted."""
    return [s.arn for s in [*pipeline.bedrock.throughputs.values(), *pipeline.bedrock.deployments.values()]
            if not s.deleted]  # fmt: skip


def _report(pipeline, name: str):
    (key,) = [k for k in pipeline.keys("reports/") if k.endswith(f"/{name}")]
    return key, pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()


def test_given_a_good_student_and_promote_to_when_run_then_it_passes_and_serves_behind_the_same_arn(
    offline, dataset_file
):
    pipeline = offline(student_quality=0.95)
    existing = pipeline.bedrock.seed_deployment("support-bot")
    before = pipeline.bedrock.deployments[existing].model_arn

    result = pipeline.run({"dataset": pipeline.upload(dataset_file), "evaluation": {"promoteTo": "support-bot"}})

    assert result.status == "SUCCEEDED", result.message
    states = [s for s in result.states_entered() if s != "Answer and judge a batch"]  # (the Map's iterations)
    assert states[states.index("Try the distilled model") + 1:][:6] == EVALUATION_STATES
    assert "Promote the student" in states and "Remove the evaluation serving" in states
    # Clients keep calling the same ARN; it now serves this run's model, and nothing else is left serving.
    promoted = pipeline.bedrock.deployments[existing]
    assert promoted.model_arn == result.output["customModelArn"] != before
    assert _live(pipeline) == [existing]
    (update,) = pipeline.bedrock.calls_of("UpdateCustomModelDeployment")
    assert update == {"customModelDeploymentIdentifier": "support-bot", "modelArn": result.output["customModelArn"]}
    # The held-out prompts were not trained on: 120 records, 20 held out (the minimum), 100 trained.
    (job,) = pipeline.bedrock.calls_of("CreateModelCustomizationJob")
    train_key = job["trainingDataConfig"]["s3Uri"].split("/", 3)[3]
    trained = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=train_key)["Body"].read().decode().splitlines()
    held = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=train_key.replace("train.jsonl", "train.holdout.jsonl"))
    held_lines = held["Body"].read().decode().splitlines()
    assert (len(trained), len(held_lines)) == (100, 20) and not set(trained) & set(held_lines)
    # The summary and the notification carry the verdict.
    summary = json.loads(_report(pipeline, "summary.json")[1])
    assert summary["evaluation"]["verdict"]["passed"] is True
    assert summary["evaluation"]["promotedTo"] == existing
    (notice,) = pipeline.published()
    assert "Evaluation:          PASSED" in notice["Message"] and f"Promoted:            {existing}" in notice["Message"]


def test_given_a_weak_student_when_run_then_it_fails_below_the_teacher_and_leaves_no_serving(offline, dataset_file):
    pipeline = offline(student_quality=0.5)

    result = pipeline.run({"dataset": pipeline.upload(dataset_file), "provisionedThroughput": {}})

    assert result.status == "FAILED" and result.error == "StudentBelowTeacher"
    assert "correctness 0.5" in result.cause and "< 0.9" in result.cause
    assert result.states_entered()[-2:] == ["Remove the student's serving", "Student below teacher"]
    assert _live(pipeline) == []
    # The evidence stays: the custom model, the verdict and the report.
    assert any(j.outcome == "completed" for j in pipeline.bedrock.jobs.values())
    verdict = json.loads(_report(pipeline, "verdict.json")[1])
    assert verdict["passed"] is False and verdict["metrics"]["correctness"]["ratio"] < 0.6
    assert b"Not promoted: StudentBelowTeacher" in _report(pipeline, "report.html")[1]
    # The failure notice names the error and the numbers.
    notices = [n for n in pipeline.published() if "StudentBelowTeacher" in n["Message"]]
    assert notices and "correctness 0.5" in notices[0]["Message"]


def test_given_a_failing_update_when_promoting_then_the_run_fails_and_the_old_model_keeps_serving(
    offline, dataset_file
):
    pipeline = offline(update_fails=True)
    existing = pipeline.bedrock.seed_deployment("support-bot")
    before = pipeline.bedrock.deployments[existing].model_arn

    result = pipeline.run({"dataset": pipeline.upload(dataset_file), "evaluation": {"promoteTo": "support-bot"}})

    assert result.status == "FAILED" and result.error == "PromotionFailed"
    assert pipeline.bedrock.deployments[existing].model_arn == before


def test_given_throttling_and_a_malformed_judge_when_evaluated_then_batches_retry_and_nothing_counts_as_a_win(
    offline, tmp_path
):
    pipeline = offline(judge_malformed=2)
    pipeline.runtime.fail_next("Converse", "ThrottlingException")
    dataset = write_dataset(tmp_path / "tickets.jsonl", records=160)  # 40 held out, 120 trained

    result = pipeline.run({"dataset": pipeline.upload(dataset), "onDemandDeployment": {},
                           "evaluation": {"holdout": {"minimum": 40}}})  # fmt: skip

    assert result.status == "SUCCEEDED", result.message
    # 40 prompts in 4 batches of 10; the throttled batch ran twice; the Map ran at most 4 at once (its cap).
    batches = [e for e in result.history if e["type"] == "MapIterationStarted"]
    assert len(batches) == 4
    in_flight, most = 0, 0
    for event in result.history:
        in_flight += {"MapIterationStarted": 1, "MapIterationSucceeded": -1}.get(event["type"], 0)
        most = max(most, in_flight)
    assert most == 4  # evaluationConcurrency (cdk.json): every batch at once here, never more
    retried = [e for e in result.history if e["type"] == "LambdaFunctionFailed"]
    assert len(retried) == 1 and "BedrockThrottled" in json.dumps(retried[0], default=str)
    verdict = json.loads(_report(pipeline, "verdict.json")[1])
    assert verdict["prompts"] == 40 and verdict["scored"] == 40  # the malformed replies were asked again
    assert verdict["judgeCalls"] == 42


def test_given_evaluation_off_when_run_then_no_evaluation_state_is_entered(offline, dataset_file):
    pipeline = offline()

    result = pipeline.run({"dataset": pipeline.upload(dataset_file), "onDemandDeployment": {}, "evaluation": False})

    assert result.status == "SUCCEEDED", result.message
    assert "Prepare the evaluation" not in result.states_entered()
    assert not [k for k in pipeline.keys("datasets/") if "holdout" in k]


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_given_a_run_that_failed_the_gate_when_its_report_is_opened_then_the_loss_curve_and_scores_show(
    offline, dataset_file, tmp_path
):
    pipeline = offline(student_quality=0.5)
    pipeline.run({"dataset": pipeline.upload(dataset_file), "onDemandDeployment": {}})
    page = tmp_path / "report.html"
    page.write_bytes(_report(pipeline, "report.html")[1])

    assert_report_screenshot(page, tmp_path)
