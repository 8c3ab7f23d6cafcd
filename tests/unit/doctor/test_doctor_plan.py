"""The run plan from deployed settings: which roles need what, with a KMS key, with a profile teacher, and which
options the deployed allow-lists refuse. (tests/workflow/test_doctor_plan_honest.py compares it with real runs.)"""

from __future__ import annotations

import json

import pytest

from distill.errors import InvalidRunInput
from distill.settings import parse_settings
from distill_cli.doctor.pipeline import handler_module, role_name
from distill_cli.doctor.plan import BEDROCK_ROLE, HANDLER_MODULES, Account, RunPlan

ACCOUNT = Account("us-west-2", "123456789012")
MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:DistillPipeline-SM"
KEY = "arn:aws:kms:us-west-2:123456789012:key/project-key"
TOPIC = "arn:aws:sns:us-west-2:123456789012:DistillPipeline-Topic"


def settings(**extra: object):
    return parse_settings(json.dumps({"bucketName": "bkt", "bedrockRoleArn": "arn:aws:iam::123456789012:role/B",
                                      "notificationTopicArn": TOPIC,
                                      "allowedTeacherModels": ["amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1:0"],
                                      **extra}))  # fmt: skip


def actions(plan: RunPlan, module: str) -> set[tuple[str, str]]:
    return {(n.requirement.action, n.requirement.resource) for n in plan.needs(module)}


def test_given_an_arn_when_read_then_region_account_and_partition_come_from_it() -> None:
    assert Account.of_arn(MACHINE) == ACCOUNT
    assert Account.of_arn("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:x").partition == "aws-cn"
    with pytest.raises(ValueError, match="not a regional ARN"):
        Account.of_arn("arn:aws:iam::123456789012:role/r")


def test_given_deployed_settings_when_planned_then_every_role_has_its_calls_and_nothing_is_repeated() -> None:
    plan = RunPlan(settings(), ACCOUNT, MACHINE)

    assert plan.modules == (*HANDLER_MODULES, BEDROCK_ROLE)
    assert plan.needs("check_run_settings") == []
    for module in plan.modules[1:]:
        needs = plan.needs(module)
        assert needs, module
        keys = [(n.requirement.action, n.requirement.resource, sorted(n.requirement.context.items())) for n in needs]
        assert len(keys) == len(set(map(repr, keys))), module
    assert ("iam:PassRole", "arn:aws:iam::123456789012:role/B") in actions(plan, "start_job")
    assert ("states:StartExecution", MACHINE) in actions(plan, "start_from_drop")
    assert ("sns:Publish", TOPIC) in actions(plan, "finish_run")
    # Nothing encrypted with a customer managed key: no KMS permission is asked for.
    assert not any(a.startswith("kms:") for m in plan.modules for a, _ in actions(plan, m))


def test_given_the_run_resources_when_planned_then_they_carry_the_pipelines_tags() -> None:
    plan = RunPlan(settings(), ACCOUNT, MACHINE)

    (delete,) = [n for n in plan.needs("notify_failure")
                 if n.requirement.action == "bedrock:DeleteProvisionedModelThroughput"]  # fmt: skip

    assert delete.requirement.resource == plan.throughput_arn
    assert delete.requirement.context["aws:ResourceTag/created-by"] == "distill-pipeline"


def test_given_a_kms_key_when_planned_then_bucket_topic_and_model_key_permissions_are_asked_for() -> None:
    plan = RunPlan(settings(customModelKmsKeyArn=KEY), ACCOUNT, MACHINE)

    assert ("kms:GenerateDataKey", KEY) in actions(plan, "prepare_dataset")  # the bucket's key
    assert ("kms:Decrypt", KEY) in actions(plan, BEDROCK_ROLE)  # reading the training data
    assert {("kms:CreateGrant", KEY), ("kms:DescribeKey", KEY)} <= actions(plan, "start_job")  # encrypt the model
    assert ("kms:Decrypt", KEY) in actions(plan, "try_model")  # use the encrypted model
    assert ("kms:GenerateDataKey", KEY) in actions(plan, "finish_run")  # the topic, under kmsKeyArn too


def test_given_the_stacks_own_topic_key_when_planned_then_publishers_need_it() -> None:
    own = "arn:aws:kms:us-west-2:123456789012:key/topic-key"
    plan = RunPlan(settings(), ACCOUNT, MACHINE, topic_key=own)

    assert {("kms:GenerateDataKey", own), ("kms:Decrypt", own)} <= actions(plan, "notify_failure")
    assert not any(a.startswith("kms:") for a, _ in actions(plan, "prepare_dataset"))


def test_given_a_profile_teacher_when_planned_then_the_service_role_needs_the_profile_and_each_region() -> None:
    plan = RunPlan(settings(), ACCOUNT, MACHINE, teacher="us.amazon.nova-pro-v1:0")

    invoked = {r for a, r in actions(plan, BEDROCK_ROLE) if a == "bedrock:InvokeModel"}
    assert "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.amazon.nova-pro-v1:0" in invoked
    assert {f"arn:aws:bedrock:{r}::foundation-model/amazon.nova-pro-v1:0"
            for r in ("us-east-1", "us-east-2", "us-west-2")} <= invoked  # fmt: skip


def test_given_a_teacher_outside_the_allow_list_when_planned_then_it_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidRunInput, match="teacherModelId"):
        RunPlan(settings(), ACCOUNT, MACHINE, teacher="meta.llama3-70b-instruct-v1:0")


def test_given_an_unknown_module_when_its_calls_are_asked_for_then_the_known_ones_are_named() -> None:
    with pytest.raises(KeyError, match="await_job"):
        RunPlan(settings(), ACCOUNT, MACHINE).calls("no_such_handler")


def test_given_deployed_names_when_read_then_module_and_role_name_come_out() -> None:
    assert handler_module("handlers.start_job.handler") == "start_job"
    assert role_name("arn:aws:iam::123456789012:role/service-role/Name") == "Name"
