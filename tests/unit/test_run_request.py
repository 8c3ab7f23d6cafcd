"""The execution input: defaults, allow-lists, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from distill import naming
from distill.errors import InvalidRunInput
from distill.run_request import parse_request, resolve, run_from_state, to_state
from distill.settings import PipelineSettings

SETTINGS = PipelineSettings(
    bucket_name="distill-data-bucket",
    allowed_log_buckets=("team-logs/bedrock/",),
    bedrock_role_arn="arn:aws:iam::123456789012:role/BedrockDistillRole",
    allowed_student_models=("amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k"),
    allowed_data_buckets=("partner-bucket",),
)
EXECUTION = ("console-run-1", "arn:aws:states:us-east-1:123456789012:execution:Distill:console-run-1")


def _resolve(raw: Any):
    return resolve(parse_request(raw), SETTINGS, *EXECUTION)


def test_given_only_a_dataset_when_resolved_then_the_reference_run_defaults_apply() -> None:
    run = _resolve({"dataset": "s3://distill-data-bucket/incoming/tickets.jsonl"})
    assert run.teacher_model_id == "amazon.nova-pro-v1:0"
    assert run.student_model_id == "amazon.nova-micro-v1:0:128k"
    assert run.max_response_length == 1000
    assert run.serving == "none"
    assert run.provisioned_throughput is None and run.on_demand_deployment is None
    assert run.source == "s3://distill-data-bucket/incoming/tickets.jsonl"
    assert run.dataset_uri == f"s3://distill-data-bucket/datasets/{run.run_id}/train.jsonl"
    assert run.output_uri == f"s3://distill-data-bucket/jobs/{run.run_id}/"
    assert run.tags["distill:execution"] == "console-run-1"


def test_given_a_key_instead_of_a_uri_when_resolved_then_it_is_taken_in_the_project_bucket() -> None:
    assert _resolve({"dataset": "incoming/a/"}).source == "s3://distill-data-bucket/incoming/a/"


def test_given_provisioning_without_commitment_when_resolved_then_no_commitment_is_planned() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "provisionedThroughput": {}})
    assert run.serving == "provisioned-throughput" and run.on_demand_deployment is None
    assert run.provisioned_throughput is not None
    assert run.provisioned_throughput.model_units == 1
    assert run.provisioned_throughput.commitment is None


def test_given_an_on_demand_deployment_when_resolved_then_a_named_deployment_is_planned() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {}})
    assert run.serving == "on-demand" and run.provisioned_throughput is None
    plan = run.on_demand_deployment
    assert plan is not None
    assert plan.deployment_name == naming.deployment_name(run.run_id)
    assert plan.client_request_token == naming.client_request_token(EXECUTION[1], "custom-model-deployment")
    assert plan.client_request_token != run.client_request_token
    assert run.run_id in plan.description
    assert to_state(run)["serving"] == "on-demand"
    assert to_state(run)["onDemandDeployment"]["deploymentName"] == plan.deployment_name


def test_given_a_deployment_description_when_resolved_then_it_is_kept() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {"description": "support bot v2"}})
    assert run.on_demand_deployment is not None
    assert run.on_demand_deployment.description == "support bot v2"


def test_given_both_ways_of_serving_when_resolved_then_the_error_names_both_fields() -> None:
    with pytest.raises(InvalidRunInput) as caught:
        _resolve({"dataset": "incoming/x.jsonl", "provisionedThroughput": {}, "onDemandDeployment": {}})
    assert "provisionedThroughput" in str(caught.value) and "onDemandDeployment" in str(caught.value)


@pytest.mark.parametrize(
    "raw", [{}, {"provisionedThroughput": {"modelUnits": 2}}, {"onDemandDeployment": {"description": "d"}}]
)
def test_given_a_resolved_run_when_it_round_trips_through_the_state_then_nothing_changes(raw: dict[str, Any]) -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", **raw})
    assert run_from_state(to_state(run)) == run


def test_given_a_resolved_run_with_a_commitment_when_it_round_trips_through_the_state_then_nothing_changes() -> None:
    run = _resolve(
        {"dataset": "incoming/x.jsonl", "provisionedThroughput": {"modelUnits": 2, "commitment": "OneMonth"}}
    )
    assert run_from_state(to_state(run)) == run


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({}, "$.dataset"),
        ({"dataset": "incoming/x.jsonl", "invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/"}},
         "$.dataset"),
        ({"invocationLogs": {"s3Uri": "s3://team-logs/other/"}}, "$.invocationLogs.s3Uri"),
        ({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/incoming/"}}, "$.invocationLogs.s3Uri"),
        ({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/../incoming/"}},
         "$.invocationLogs.s3Uri"),
        ({"invocationLogs": {"s3Uri": "not-a-uri"}}, "$.invocationLogs.s3Uri"),
        ({"invocationLogs": {}}, "`s3Uri`"),
        ({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/", "usePromptResponse": "yes"}},
         "$.invocationLogs.usePromptResponse"),
        ({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/",
                             "requestMetadataFilters": {"equals": {"team": "a"}, "notEquals": {"b": "c"}}}},
         "$.invocationLogs.requestMetadataFilters"),
        ({"invocationLogs": {"s3Uri": "s3://distill-data-bucket/invocation-logs/",
                             "requestMetadataFilters": {"andAll": []}}},
         "$.invocationLogs.requestMetadataFilters.andAll"),
        ({"dataset": "incoming/x.jsonl", "teacher": "x"}, "`teacher`"),
        ({"dataset": 7}, "$.dataset"),
        ({"dataset": "incoming/x.jsonl", "maxResponseLength": "1000"}, "$.maxResponseLength"),
        ({"dataset": "incoming/x.jsonl", "maxResponseLength": 0}, "$.maxResponseLength"),
        ({"dataset": "incoming/x.jsonl", "onInvalidRecords": "ignore"}, "$.onInvalidRecords"),
        ({"dataset": "incoming/x.jsonl", "inputFormat": "csv"}, "$.inputFormat"),
        (
            {"dataset": "incoming/x.jsonl", "provisionedThroughput": {"modelUnits": 0}},
            "$.provisionedThroughput.modelUnits",
        ),
        (
            {"dataset": "incoming/x.jsonl", "provisionedThroughput": {"commitment": "OneYear"}},
            "$.provisionedThroughput.commitment",
        ),
        ({"dataset": "incoming/x.jsonl", "provisionedThroughput": {"units": 1}}, "`units`"),
        ({"dataset": "incoming/x.jsonl", "onDemandDeployment": {"modelUnits": 1}}, "`modelUnits`"),
        (
            {"dataset": "incoming/x.jsonl", "onDemandDeployment": {"description": ""}},
            "$.onDemandDeployment.description",
        ),
        ({"dataset": "incoming/x.jsonl", "onDemandDeployment": {"description": "a\nb"}}, "$.onDemandDeployment"),
        ({"dataset": "incoming/x.jsonl", "onDemandDeployment": True}, "$.onDemandDeployment"),
        ({"dataset": "s3://other-bucket/incoming/x.jsonl"}, "$.dataset"),
        ({"dataset": "s3://distill-data-bucket/datasets/x.jsonl"}, "$.dataset"),
        ({"dataset": "s3://distill-data-bucket/incoming/../reports/x"}, "$.dataset"),
        ({"dataset": "s3://Bad_Bucket/x"}, "$.dataset"),
        ({"dataset": "incoming/x.jsonl", "teacherModelId": "anthropic.claude-3-opus"}, "$.teacherModelId"),
        ({"dataset": "incoming/x.jsonl", "studentModelId": "amazon.nova-pro-v1:0:300k"}, "$.studentModelId"),
        ({"dataset": "incoming/x.jsonl", "jobName": "bad name; rm -rf"}, "$.jobName"),
        ({"dataset": "incoming/x.jsonl", "customModelName": "a--b"}, "$.customModelName"),
        ({"dataset": "incoming/x.jsonl", "tags": {"aws:x": "1"}}, "$.tags"),
        ({"dataset": "incoming/x.jsonl", "tags": {"team": "a<b>"}}, "$.tags.team"),
        ({"dataset": "incoming/x.jsonl", "systemPrompt": "x" * 20_001}, "$.systemPrompt"),
    ],
)
def test_given_bad_input_when_resolved_then_the_error_names_the_field(raw: dict[str, Any], names: str) -> None:
    with pytest.raises(InvalidRunInput) as caught:
        _resolve(raw)
    assert names in str(caught.value)


def test_given_a_non_object_input_when_parsed_then_it_is_refused() -> None:
    with pytest.raises(InvalidRunInput, match="JSON object"):
        parse_request(["incoming/x.jsonl"])


def test_given_an_allow_listed_bucket_when_resolved_then_the_dataset_may_live_there() -> None:
    assert (
        _resolve({"dataset": "s3://partner-bucket/exports/data.jsonl"}).source
        == "s3://partner-bucket/exports/data.jsonl"
    )


def test_given_user_tags_when_resolved_then_they_are_kept_beside_the_pipeline_tags() -> None:
    tags = _resolve({"dataset": "incoming/x.jsonl", "tags": {"team": "ml-platform"}}).tags
    assert tags["team"] == "ml-platform"
    assert tags["created-by"] == "distill-pipeline"


def test_given_invocation_logs_when_resolved_then_the_run_trains_from_them_with_the_filter_as_the_api_takes_it() -> None:
    run = _resolve({"invocationLogs": {"s3Uri": "s3://team-logs/bedrock/AWSLogs", "usePromptResponse": True,
                                       "requestMetadataFilters": {"equals": {"team": "support"}}}})
    assert run.source_kind == "invocation-logs"
    assert run.source == "s3://team-logs/bedrock/AWSLogs/"
    plan = run.invocation_logs
    assert plan is not None and plan.use_prompt_response
    assert plan.training_data_config() == {"invocationLogsConfig": {
        "invocationLogSource": {"s3Uri": "s3://team-logs/bedrock/AWSLogs/"}, "usePromptResponse": True,
        "requestMetadataFilters": {"equals": {"team": "support"}}}}
    assert run.dataset_uri == f"s3://distill-data-bucket/datasets/{run.run_id}/train.jsonl"
    assert run_from_state(to_state(run)) == run


def test_given_a_dataset_when_resolved_then_the_source_kind_is_dataset() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl"})
    assert run.source_kind == "dataset" and run.invocation_logs is None


def test_given_a_served_run_when_resolved_then_it_is_evaluated_by_default_with_the_teacher_as_judge() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {}})
    plan = run.evaluation
    assert plan is not None and plan.judge_model_id == run.teacher_model_id
    assert plan.holdout_uri == f"s3://distill-data-bucket/datasets/{run.run_id}/train.holdout.jsonl"
    assert plan.prompts_uri == f"s3://distill-data-bucket/reports/{run.run_id}/evaluation/prompts.jsonl"
    assert plan.dataset_uri is None and plan.promote_to is None
    assert run_from_state(to_state(run)) == run


def test_given_nothing_served_when_resolved_then_the_evaluation_is_skipped_saying_why() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl"})
    assert run.evaluation is None and "not served" in run.evaluation_skipped


def test_given_evaluation_false_when_resolved_then_there_is_none_and_no_reason() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "provisionedThroughput": {}, "evaluation": False})
    assert run.evaluation is None and run.evaluation_skipped == ""


def test_given_promote_to_without_serving_when_resolved_then_the_student_is_served_on_demand_to_compare() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "evaluation": {"promoteTo": "support-bot"}})
    assert run.serving == "on-demand" and run.evaluation is not None
    assert run.evaluation.promote_to == "support-bot"


def test_given_a_separate_evaluation_file_when_resolved_then_nothing_is_held_out() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {},
                    "evaluation": {"dataset": "incoming/eval.jsonl"}})  # fmt: skip
    assert run.evaluation is not None
    assert run.evaluation.dataset_uri == "s3://distill-data-bucket/incoming/eval.jsonl"
    assert run.evaluation.holdout_uri is None


@pytest.mark.parametrize(
    ("evaluation", "names"),
    [
        ({"minQualityRatio": "high"}, "$.evaluation.minQualityRatio"),
        ({"judgeModelId": "anthropic.claude-3-opus"}, "$.evaluation.judgeModelId"),
        ({"promoteTo": "bad name!"}, "$.evaluation.promoteTo"),
        ({"dataset": "s3://other-bucket/eval.jsonl"}, "$.evaluation.dataset"),
        ({"gateMetrics": ["tone"]}, "$.evaluation"),
        ({"unknown": 1}, "$.evaluation"),
        ("yes", "$.evaluation"),
    ],
)
def test_given_bad_evaluation_settings_when_resolved_then_the_error_names_the_field(evaluation, names) -> None:
    with pytest.raises(InvalidRunInput) as caught:
        _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {}, "evaluation": evaluation})
    assert names in str(caught.value)


def test_given_the_student_as_judge_when_resolved_then_it_is_refused() -> None:
    settings = PipelineSettings(bucket_name="distill-data-bucket", bedrock_role_arn=SETTINGS.bedrock_role_arn,
                                allowed_teacher_models=("amazon.nova-pro-v1:0", "amazon.nova-micro-v1:0:128k"))  # fmt: skip
    raw = {"dataset": "incoming/x.jsonl", "onDemandDeployment": {}, "evaluation": {"judgeModelId": "amazon.nova-micro-v1:0:128k"}}
    with pytest.raises(InvalidRunInput, match="must not be the student"):
        resolve(parse_request(raw), settings, *EXECUTION)


def test_given_a_serving_ttl_when_resolved_then_it_is_kept_for_the_serving_tags() -> None:
    run = _resolve({"dataset": "incoming/x.jsonl", "onDemandDeployment": {}, "servingTtlHours": 48})
    assert run.serving_ttl_hours == 48 and run_from_state(to_state(run)) == run


@pytest.mark.parametrize("raw", [
    {"dataset": "incoming/x.jsonl", "servingTtlHours": 4},
    {"dataset": "incoming/x.jsonl", "servingTtlHours": 4, "provisionedThroughput": {"commitment": "OneMonth"}},
    {"dataset": "incoming/x.jsonl", "servingTtlHours": 0, "onDemandDeployment": {}},
])  # fmt: skip
def test_given_a_serving_ttl_that_cannot_apply_when_resolved_then_the_error_names_it(raw) -> None:
    with pytest.raises(InvalidRunInput, match=r"servingTtlHours"):
        _resolve(raw)
