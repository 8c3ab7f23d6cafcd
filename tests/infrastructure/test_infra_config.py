"""cdk.json context -> PipelineConfig: defaults, string values from -c, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from stacks.config import CONTEXT_KEYS, ConfigError, PipelineConfig, from_context

CDK_JSON = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())


def test_given_cdk_json_when_read_then_it_lists_every_key_with_the_code_defaults():
    context = CDK_JSON["context"]
    assert set(CONTEXT_KEYS) <= set(context)
    assert {key: context[key] for key in CONTEXT_KEYS} == json.loads(msgspec.json.encode(PipelineConfig()))
    assert context["cli-telemetry"] is False
    assert CDK_JSON["notices"] is False
    # The CDK's CloudFormation validator fails the synth on an error instead of downgrading it to a warning.
    assert context["@aws-cdk/core:validateAgainstDefaultRules"] is True
    assert CDK_JSON["app"] == ".venv/bin/python app.py"


def test_given_no_context_when_read_then_the_reference_run_is_the_default():
    config = from_context({})
    assert (config.teacher_model_id, config.student_model_id, config.max_response_length) == (
        "amazon.nova-pro-v1:0", "amazon.nova-micro-v1:0:128k", 1000)  # fmt: skip
    assert config.stack_prefix == "Distill"
    assert config.execution_timeout_hours == 336


def test_given_command_line_strings_when_read_then_they_are_converted():
    config = from_context({
        "maxResponseLength": "2000",
        "executionTimeoutHours": "48",
        "polling": '{"firstWaitSeconds": 1, "maxWaitSeconds": 1}',
        "allowedDataBuckets": "raw-data-a, raw-data-b",
        "allowedStudentModels": '["amazon.nova-micro-v1:0:128k"]',
    })  # fmt: skip
    assert config.max_response_length == 2000
    assert config.execution_timeout_hours == 48
    assert (config.polling.first_wait_seconds, config.polling.max_wait_seconds) == (1, 1)
    assert config.allowed_data_buckets == ("raw-data-a", "raw-data-b")
    assert config.allowed_student_models == ("amazon.nova-micro-v1:0:128k",)


def test_given_cdk_own_context_keys_when_read_then_they_are_ignored():
    cdk_own = {"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:bundling-stacks": [], "cli-telemetry": False,
               "availability-zones:account=1:region=us-east-1": ["a"], "acknowledged-issue-numbers": [1]}  # fmt: skip
    assert from_context(cdk_own) == PipelineConfig()
    # Beside them, our own keys are still read, falsy values included.
    ours = {"complianceChecks": False, "allowedDataBuckets": [], "systemPrompt": "", "maxResponseLength": 2000}
    assert from_context({**cdk_own, **ours}) == PipelineConfig(
        compliance_checks=False, allowed_data_buckets=(), system_prompt="", max_response_length=2000
    )


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"teacherModelID": "x"}, "did you mean 'teacherModelId'"),
        ({"pollingFirstWaitSeconds": 5}, "did you mean 'polling'"),
        ({"polling": {"firstWait": 5}}, "unknown field `firstWait` - at `$.polling`"),
        ({"maxResponseLength": "lots"}, "at `$.maxResponseLength`"),
        ({"polling": {"firstWaitSeconds": 900, "maxWaitSeconds": 60}}, "maxWaitSeconds must be at least"),
        ({"logRetentionDays": 31}, "at `$.logRetentionDays`"),
        ({"teacherModelId": "amazon.titan-text-express-v1"}, "not in allowedTeacherModels"),
        ({"polling": "{not json"}, "polling is not valid JSON"),
    ],
)
def test_given_a_wrong_context_value_when_read_then_the_error_names_the_key(context, message):
    with pytest.raises(ConfigError, match=r"cdk\.json context") as caught:
        from_context(context)
    assert message in str(caught.value)


def test_given_every_allowed_log_retention_when_mapped_then_the_cdk_has_a_matching_value():
    from typing import get_args

    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from stacks.config import LogRetentionDays
    from stacks.constructs.log_groups import log_group

    allowed = get_args(LogRetentionDays)
    stack = Stack(App(), "Retention")
    for days in allowed:
        log_group(stack, f"Keep{days}", days=days, key=None, name=f"keep-{days}")
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    # What CloudWatch Logs is asked to keep is exactly the configured number of days, for every allowed value.
    kept = {g["Properties"]["LogGroupName"]: g["Properties"]["RetentionInDays"] for g in groups.values()}
    assert kept == {f"keep-{days}": days for days in allowed}
