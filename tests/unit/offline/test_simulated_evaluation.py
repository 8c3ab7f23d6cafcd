"""The simulated Bedrock drives a student-vs-teacher evaluation: Converse answers as the served student, the
teacher and the judge, in the real API's shape, and the judge's scores follow ``student_quality``."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from distill.evaluation.calls import Call
from distill.evaluation.config import EvaluationRequest
from distill.evaluation.judge import Judgment, Malformed, build, inference_config, parse, student_is_a
from distill.evaluation.prompts import EvalPrompt
from distill.evaluation.results import PromptResult, evaluate
from distill.evaluation.verdict import Gate, Models, decide, summarize
from distill_cli.offline.bedrock import SimulatedBedrock, SimulatedBedrockRuntime

RUNTIME = botocore.session.get_session().get_service_model("bedrock-runtime")
METRICS = EvaluationRequest().scored_metrics
TEACHER = "amazon.nova-pro-v1:0"
PROMPTS = [f"Order {i}: my parcel has not arrived after {i % 9 + 2} days. What can I do about it?" for i in range(100)]


def _assert_converse_shape(answer: dict[str, Any]) -> None:
    report = ParamValidator().validate(answer, RUNTIME.operation_model("Converse").output_shape)
    assert not report.has_errors(), report.generate_report()


def _world(**options: Any) -> tuple[SimulatedBedrockRuntime, str]:
    """A runtime and the ARN of an Active deployment (the student)."""
    fake = SimulatedBedrock(**options)
    return SimulatedBedrockRuntime(fake), fake.seed_deployment("support-bot")


def _converse(runtime: SimulatedBedrockRuntime, model: str, user: str, system: str = "",
              max_tokens: int | None = None) -> dict[str, Any]:  # fmt: skip
    request: dict[str, Any] = {"modelId": model, "messages": [{"role": "user", "content": [{"text": user}]}]}
    if system:
        request["system"] = [{"text": system}]
    if max_tokens is not None:
        request["inferenceConfig"] = {"maxTokens": max_tokens}
    return runtime.converse(**request)


def _call(answer: dict[str, Any]) -> Call:
    """What the evaluation stage keeps of a Converse answer."""
    return Call(text=answer["output"]["message"]["content"][0]["text"], latency_ms=answer["metrics"]["latencyMs"],
                input_tokens=answer["usage"]["inputTokens"], output_tokens=answer["usage"]["outputTokens"])  # fmt: skip


def _text(answer: dict[str, Any]) -> str:
    return str(answer["output"]["message"]["content"][0]["text"])


def _evaluate(runtime: SimulatedBedrockRuntime, student: str, prompts: list[str]) -> list[PromptResult]:
    """The evaluation stage's work, with the real core: both answers, then the judge (the teacher) with retries."""
    config = inference_config(len(METRICS))

    def ask(system: str, user: str) -> Call:
        return _call(_converse(runtime, TEACHER, user, system, config["maxTokens"]))

    results = []
    for index, prompt in enumerate(prompts):
        answers = _call(_converse(runtime, student, prompt)), _call(_converse(runtime, TEACHER, prompt))
        results.append(evaluate(EvalPrompt(index=index, prompt=prompt), *answers, ask, METRICS))
    return results


# --- the three roles ------------------------------------------------------------------------------------------
def test_given_a_served_student_when_asked_then_it_answers_as_the_student_in_the_real_shape() -> None:
    runtime, student = _world(student_latency_ms=100)
    answer = _converse(runtime, student, PROMPTS[0])
    _assert_converse_shape(answer)
    assert _text(answer).startswith("(distilled model)")
    assert answer["stopReason"] == "end_turn"
    assert 85 <= answer["metrics"]["latencyMs"] <= 115
    usage = answer["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert runtime.converse_calls("student") == runtime.calls_of("Converse")


@pytest.mark.parametrize(
    "model",
    ["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0",
     "global.anthropic.claude-sonnet-4-20250514-v1:0",
     "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
     "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"],
)  # fmt: skip
def test_given_a_foundation_model_or_profile_when_asked_then_it_answers_as_the_teacher_in_the_real_shape(
    model: str,
) -> None:
    runtime, _ = _world(teacher_latency_ms=600)
    answer = _converse(runtime, model, PROMPTS[1], system="You are a support agent.")
    _assert_converse_shape(answer)
    assert _text(answer).startswith("(teacher)")
    assert 510 <= answer["metrics"]["latencyMs"] <= 690
    assert len(runtime.converse_calls("teacher")) == 1 and not runtime.converse_calls("student")


@pytest.mark.parametrize(
    ("model", "code"),
    [("acme.model-v1:0", "ValidationException"),  # no such provider
     ("nova-pro", "ValidationException"),  # not a model id
     ("eu.amazon.nova-pro-v1:0", "ValidationException"),  # a profile of another geography
     ("arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0", "ValidationException"),  # another Region
     ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/amazon.nova-pro-v1:0", "ValidationException"),
     ("arn:aws:bedrock:us-east-1::foundation-model/us.amazon.nova-pro-v1:0", "ValidationException"),
     ("arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456",
      "ValidationException"),  # a custom model is invoked through its deployment or throughput
     ("arn:aws:bedrock:us-east-1:123456789012:imported-model/abcdef123456", "ResourceNotFoundException"),
     ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456", "ResourceNotFoundException")],
)  # fmt: skip
def test_given_a_model_id_bedrock_would_refuse_when_asked_then_it_is_refused_with_its_code(
    model: str, code: str
) -> None:
    runtime, _ = _world()
    with pytest.raises(ClientError) as caught:
        _converse(runtime, model, PROMPTS[0])
    assert caught.value.response["Error"]["Code"] == code
    assert runtime.converse_calls() == []


@pytest.mark.parametrize("first", [True, False])
def test_given_the_rubric_when_the_judge_is_asked_then_its_reply_parses_and_finds_the_student_whichever_side_is_a(
    first: bool,
) -> None:
    runtime, student = _world(student_quality=0.5)
    prompt = next(p for p in PROMPTS if student_is_a(p) is first)
    rubric = build(prompt, _text(_converse(runtime, student, prompt)), _text(_converse(runtime, TEACHER, prompt)),
                   METRICS, "Answer as a support agent.")  # fmt: skip
    answer = _converse(runtime, TEACHER, rubric.user, rubric.system, inference_config(len(METRICS))["maxTokens"])
    _assert_converse_shape(answer)
    judgment = parse(_text(answer), rubric)
    assert isinstance(judgment, Judgment), judgment
    assert set(judgment.scores) == {m.name for m in METRICS}
    for score in judgment.scores.values():
        assert 4 <= score.teacher <= 5 and score.student < score.teacher  # half the teacher's: always below it
    assert len(runtime.converse_calls("judge")) == 1
    assert 765 <= answer["metrics"]["latencyMs"] <= 1035


@pytest.mark.parametrize("quality", [0.95, 0.5])
def test_given_a_student_quality_when_60_prompts_are_judged_then_each_metric_ratio_is_that_quality(
    quality: float,
) -> None:
    runtime, student = _world(student_quality=quality)
    results = _evaluate(runtime, student, PROMPTS[:60])
    assert all(r.scored for r in results)
    assert {r.student_is_a for r in results} == {True, False}
    for metric in METRICS:
        student_sum = sum(r.scores[metric.name].student for r in results if r.scores)
        teacher_sum = sum(r.scores[metric.name].teacher for r in results if r.scores)
        assert abs(student_sum / teacher_sum - quality) <= 0.05, (metric.name, student_sum / teacher_sum)
    counts = {role: len(runtime.converse_calls(role)) for role in ("student", "teacher", "judge")}
    assert counts == {"student": 60, "teacher": 60, "judge": 60}


@pytest.mark.parametrize(("quality", "passes"), [(0.95, True), (0.5, False)])
@pytest.mark.parametrize("count", [20, 100])
def test_given_a_student_quality_when_the_gate_of_0_9_decides_then_0_95_passes_and_0_5_fails(
    quality: float, passes: bool, count: int
) -> None:
    runtime, student = _world(student_quality=quality)
    results = _evaluate(runtime, student, PROMPTS[:count])
    names = tuple(m.name for m in METRICS)
    evaluation = summarize(results, names, Models("amazon.nova-micro-v1:0:128k", TEACHER, TEACHER), {})
    verdict = decide(evaluation, Gate(names, 0.9))
    assert verdict.passed is passes, verdict


def test_given_the_same_prompt_when_judged_again_then_the_scores_are_the_same() -> None:
    runtime, student = _world(student_quality=0.8)
    first = _evaluate(runtime, student, PROMPTS[:10])
    again = _evaluate(runtime, student, PROMPTS[:10])
    assert [r.scores for r in first] == [r.scores for r in again]


@pytest.mark.parametrize("malformed", [0, 2, 4])
def test_given_judge_malformed_when_judging_then_exactly_that_many_replies_are_malformed(malformed: int) -> None:
    runtime, student = _world(judge_malformed=malformed)
    rubrics = [build(p, _text(_converse(runtime, student, p)), _text(_converse(runtime, TEACHER, p)), METRICS)
               for p in PROMPTS[:6]]  # fmt: skip
    replies = [(r, _text(_converse(runtime, TEACHER, r.user, r.system))) for r in rubrics]
    parsed = [parse(text, rubric) for rubric, text in replies]
    assert [isinstance(p, Malformed) and p.kind == "not-json" for p in parsed] == [True] * malformed + [False] * (
        6 - malformed
    )
    # The judge's own retries: 4 malformed replies leave the first prompt unscored after 3 tries, then the second
    # prompt is scored on its second try.
    runtime, student = _world(judge_malformed=4)
    results = _evaluate(runtime, student, PROMPTS[:2])
    assert [(r.scored, r.judge_attempts) for r in results] == [(False, 3), (True, 2)]
    assert results[0].unscored.startswith("judge reply malformed (not-json)")


def test_given_max_tokens_when_an_answer_is_longer_then_it_is_cut_with_stop_reason_max_tokens() -> None:
    runtime, student = _world()
    for model in (student, TEACHER):
        whole = _converse(runtime, model, PROMPTS[2])
        cut = _converse(runtime, model, PROMPTS[2], max_tokens=10)
        _assert_converse_shape(cut)
        assert (whole["stopReason"], cut["stopReason"]) == ("end_turn", "max_tokens")
        assert cut["usage"]["outputTokens"] == 10 < whole["usage"]["outputTokens"]
        assert _text(whole).startswith(_text(cut)) and len(_text(cut).split()) <= 10 / 1.3
    # A judge cut short writes no complete JSON: the reply is malformed, as a real truncated judgment would be.
    rubric = build(PROMPTS[3], _text(_converse(runtime, student, PROMPTS[3])),
                   _text(_converse(runtime, TEACHER, PROMPTS[3])), METRICS)  # fmt: skip
    assert isinstance(parse(_text(_converse(runtime, TEACHER, rubric.user, rubric.system, 20)), rubric), Malformed)


def test_given_a_queued_throttle_when_conversing_then_it_is_raised_first_and_the_retry_answers() -> None:
    runtime, student = _world()
    runtime.fail_next("Converse", "ThrottlingException")
    with pytest.raises(ClientError) as caught:
        _converse(runtime, student, PROMPTS[0])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert _text(_converse(runtime, student, PROMPTS[0])).startswith("(distilled model)")
    assert len(runtime.calls_of("Converse")) == 2 and len(runtime.converse_calls("student")) == 1


def test_given_the_same_prompt_when_asked_twice_then_the_answers_are_the_same() -> None:
    runtime, student = _world()
    for model in (student, TEACHER):
        assert _converse(runtime, model, PROMPTS[4]) == _converse(runtime, model, PROMPTS[4])
    assert _text(_converse(runtime, TEACHER, PROMPTS[4])) != _text(_converse(runtime, TEACHER, PROMPTS[5]))


# --- promotion: UpdateCustomModelDeployment -------------------------------------------------------------------
BEDROCK = botocore.session.get_session().get_service_model("bedrock")


def _assert_shape(operation: str, answer: dict[str, Any]) -> None:
    report = ParamValidator().validate(answer, BEDROCK.operation_model(operation).output_shape)
    assert not report.has_errors(), report.generate_report()


def _new_job(fake: SimulatedBedrock, run_name: str) -> str:
    """A run's distillation job, as the pipeline starts it."""
    from distill import bedrock
    from distill.run_request import parse_request, resolve
    from distill.settings import PipelineSettings

    settings = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn="arn:aws:iam::123456789012:role/R")
    run = resolve(parse_request({"dataset": "incoming/x.jsonl"}), settings, run_name,
                  f"arn:aws:states:us-east-1:123456789012:execution:sm:{run_name}")  # fmt: skip
    request = bedrock.customization_job_request(run, settings.bedrock_role_arn)
    return str(fake.create_model_customization_job(**request)["jobArn"])


def _new_model(fake: SimulatedBedrock, run_name: str = "run-2") -> str:
    """The custom model a run's completed distillation job made (the model to promote)."""
    job = _new_job(fake, run_name)
    while (answer := fake.get_model_customization_job(jobIdentifier=job))["status"] == "InProgress":
        pass
    return str(answer["outputModelArn"])


def _look(fake: SimulatedBedrock, arn: str) -> dict[str, Any]:
    answer = fake.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    _assert_shape("GetCustomModelDeployment", answer)
    return answer


def test_given_a_seeded_deployment_when_looked_at_then_it_is_active_tagged_by_the_pipeline_and_serves() -> None:
    from distill.settings import PIPELINE_TAG

    fake = SimulatedBedrock()
    arn = fake.seed_deployment("support-bot")
    assert fake.calls == []  # made as if before the test: no call recorded
    answer = _look(fake, arn)
    assert (answer["status"], answer["modelDeploymentName"]) == ("Active", "support-bot")
    assert "updateDetails" not in answer  # none was asked for
    job = fake.completed_model(answer["modelArn"])
    assert job is not None  # a completed custom model of an earlier run
    _assert_shape("GetModelCustomizationJob", fake.get_model_customization_job(jobIdentifier=job.arn))
    tags = {t["key"]: t["value"] for t in fake.list_tags_for_resource(resourceARN=arn)["tags"]}
    assert tags[PIPELINE_TAG[0]] == PIPELINE_TAG[1] and tags["distill:run-id"] and tags["distill:execution"]
    assert [d["customModelDeploymentArn"] for d in fake.list_custom_model_deployments()["modelDeploymentSummaries"]
            ] == [arn]  # fmt: skip
    assert _text(_converse(SimulatedBedrockRuntime(fake), arn, "hello")).startswith("(distilled model)")
    with pytest.raises(ValueError, match="exists already"):
        fake.seed_deployment("support-bot")


@pytest.mark.parametrize("checks", [1, 2, 3])
def test_given_an_active_deployment_when_updated_then_it_serves_the_old_model_while_updating_then_the_new_one(
    checks: int,
) -> None:
    fake = SimulatedBedrock(job_checks=1, deployment_checks=checks)
    runtime = SimulatedBedrockRuntime(fake)
    arn = fake.seed_deployment("support-bot")
    old, new = fake.deployments[arn].model_arn, _new_model(fake)
    answer = fake.update_custom_model_deployment(customModelDeploymentIdentifier="support-bot", modelArn=new)
    _assert_shape("UpdateCustomModelDeployment", answer)
    assert answer["customModelDeploymentArn"] == arn
    for _ in range(checks):
        looked = _look(fake, arn)
        assert looked["status"] == "Active" and looked["modelArn"] == old
        assert looked["updateDetails"] == {"modelArn": new, "updateStatus": "Updating"}
        assert fake.deployments[arn].model_arn == old and _converse(runtime, arn, "hi")["stopReason"] == "end_turn"
    looked = _look(fake, arn)
    assert (looked["status"], looked["modelArn"]) == ("Active", new)
    assert looked["updateDetails"] == {"modelArn": new, "updateStatus": "UpdateCompleted"}
    assert "failureMessage" not in looked
    assert fake.list_custom_model_deployments()["modelDeploymentSummaries"][0]["modelArn"] == new
    assert _look(fake, arn)["updateDetails"]["updateStatus"] == "UpdateCompleted"  # and stays so


def test_given_update_fails_when_the_update_ends_then_it_is_update_failed_and_the_old_model_is_kept() -> None:
    from distill_cli.offline.bedrock import UPDATE_FAILURE

    fake = SimulatedBedrock(job_checks=1, deployment_checks=1, update_fails=True)
    arn = fake.seed_deployment("support-bot")
    old, new = fake.deployments[arn].model_arn, _new_model(fake)
    fake.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=new)
    assert _look(fake, arn)["updateDetails"]["updateStatus"] == "Updating"
    looked = _look(fake, arn)
    assert looked["updateDetails"] == {"modelArn": new, "updateStatus": "UpdateFailed"}
    assert (looked["status"], looked["modelArn"], looked["failureMessage"]) == ("Active", old, UPDATE_FAILURE)
    assert fake.deployments[arn].model_arn == old


def _deployment_in(fake: SimulatedBedrock, state: str) -> str:
    """A deployment of a new model that is Creating or Failed (one look in: deployment_checks=2)."""
    fake.deployment_fails = state == "Failed"
    created = fake.create_custom_model_deployment(modelDeploymentName=f"d-{state.lower()}",
                                                  modelArn=_new_model(fake, f"run-{state}"))  # fmt: skip
    arn = str(created["customModelDeploymentArn"])
    for _ in range(0 if state == "Creating" else 2):
        fake.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert _look(fake, arn)["status"] == state
    return arn


@pytest.mark.parametrize(
    ("case", "code"),
    [("no such deployment", "ResourceNotFoundException"), ("deleted deployment", "ResourceNotFoundException"),
     ("Creating", "ValidationException"), ("Failed", "ValidationException"), ("Updating", "ValidationException"),
     ("no such model", "ResourceNotFoundException"), ("model of an unfinished job", "ResourceNotFoundException")],
)  # fmt: skip
def test_given_a_deployment_or_model_that_cannot_be_updated_when_updating_then_bedrocks_error_is_raised(
    case: str, code: str
) -> None:
    fake = SimulatedBedrock(job_checks=1, deployment_checks=2)
    seeded = fake.seed_deployment("support-bot")
    new = _new_model(fake)
    target = "other-bot" if case == "no such deployment" else seeded
    if case in ("Creating", "Failed"):
        target = _deployment_in(fake, case)
    elif case == "deleted deployment":
        fake.delete_custom_model_deployment(customModelDeploymentIdentifier=seeded)
    elif case == "Updating":
        fake.update_custom_model_deployment(customModelDeploymentIdentifier=seeded, modelArn=new)
    elif case == "no such model":
        new = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdef123456"
    elif case == "model of an unfinished job":
        fake.job_checks = 5
        new = fake.model_arn(fake.jobs[_new_job(fake, "run-3")])
    with pytest.raises(ClientError) as caught:
        fake.update_custom_model_deployment(customModelDeploymentIdentifier=target, modelArn=new)
    assert caught.value.response["Error"]["Code"] == code
    assert fake.deployments[seeded].model_arn != new
