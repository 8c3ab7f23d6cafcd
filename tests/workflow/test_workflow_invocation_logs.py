"""A run that distils from Bedrock's invocation logs: the preview selects what the job will, the job reads the
logs itself under the Bedrock role, and a selection Bedrock would refuse stops the run before a job exists.
(That each read grant is needed, the preview's and the Bedrock role's, is tested in test_workflow_strictness.)"""

from __future__ import annotations

import json
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "invocation-logs"
SUPPORT = {"equals": {"use-case": "support"}}
TOO_NARROW = {"andAll": [{"equals": {"use-case": "support"}}, {"equals": {"priority": "high"}}]}


def _logs_run(pipeline, filters, **more):
    uri = pipeline.upload_tree(SAMPLE, "invocation-logs/")
    return pipeline.run({"invocationLogs": {"s3Uri": uri, "requestMetadataFilters": filters, **more}})


def test_given_support_logs_when_run_then_the_job_trains_on_the_logs_with_the_filter(offline):
    pipeline = offline()

    result = _logs_run(pipeline, SUPPORT, usePromptResponse=True)

    assert result.status == "SUCCEEDED", result.message
    states = result.states_entered()
    assert "Preview the invocation logs" in states and "Prepare dataset" not in states
    (request,) = pipeline.bedrock.calls_of("CreateModelCustomizationJob")
    assert request["trainingDataConfig"] == {"invocationLogsConfig": {
        "invocationLogSource": {"s3Uri": f"s3://{pipeline.bucket}/invocation-logs/"},
        "usePromptResponse": True, "requestMetadataFilters": SUPPORT}}  # fmt: skip
    # The preview counted what the sample's README documents for this filter, and kept a copy of the selection.
    preview = pipeline.read_json(next(k for k in pipeline.keys("reports/") if k.endswith("invocation-logs-preview.json")))
    assert preview["profile"]["selected"]["records"] == 169
    assert preview["profile"]["selected"]["withTeacherResponse"] == 160
    copy = next(k for k in pipeline.keys("datasets/") if k.endswith("/train.jsonl"))
    first = json.loads(pipeline.s3.get_object(Bucket=pipeline.bucket, Key=copy)["Body"].read().splitlines()[0])
    assert first["schemaVersion"] == "bedrock-conversation-2024"
    # The summary says where the data came from and how much the filter selected.
    (published,) = pipeline.published()
    assert "Records selected:    169 of 301 read; 160 answered by the teacher" in published["Message"]
    assert pipeline.denials == []


def test_given_a_filter_that_selects_too_little_when_run_then_it_fails_before_any_job_naming_the_keys(offline):
    pipeline = offline()

    result = _logs_run(pipeline, TOO_NARROW)

    assert result.status == "FAILED"
    assert result.states_entered()[-2:] == ["Preview the invocation logs", "Notify failure"] or \
        "Preview the invocation logs" in result.states_entered()  # fmt: skip
    assert "Start distillation job" not in result.states_entered()
    assert pipeline.bedrock.calls_of("CreateModelCustomizationJob") == []
    assert "REJECTED" in result.message and "at least 100" in result.message
    # ... naming the metadata keys that do exist, so the filter can be fixed.
    assert "'use-case'" in result.message and "'priority'" in result.message


def test_given_logs_outside_the_allowed_prefixes_when_run_then_the_input_is_refused_naming_the_field(offline):
    pipeline = offline()
    pipeline.upload_tree(SAMPLE, "incoming/logs/")

    result = pipeline.run({"invocationLogs": {"s3Uri": f"s3://{pipeline.bucket}/incoming/logs/"}})

    assert result.status == "FAILED"
    assert "$.invocationLogs.s3Uri" in result.message and "allowedInvocationLogBuckets" in result.message
    assert pipeline.bedrock.calls_of("CreateModelCustomizationJob") == []

