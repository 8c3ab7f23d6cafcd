"""What Lambda, Step Functions and Bedrock do with the roles (doctor's services module), what doctor reads from a
function's configuration, and the trust check."""

from __future__ import annotations

import json
from typing import Any

from distill.settings import parse_settings
from distill_cli.doctor import iam, services
from distill_cli.doctor.pipeline import function_facts
from distill_cli.doctor.plan import BEDROCK_ROLE, STATE_MACHINE_ROLE, Account, FunctionFacts, MachineFacts, RunPlan

ACCOUNT = Account("eu-west-1", "123456789012")
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:SM"
FN = "arn:aws:lambda:eu-west-1:123456789012:function:"


def actions(needs: list[Any]) -> list[tuple[str, str]]:
    return [(n.requirement.action, n.requirement.resource) for n in needs]


def test_given_a_traced_function_with_an_encrypted_environment_when_planned_then_logs_traces_and_key_are_needed():
    facts = FunctionFacts(f"{FN}start", "/distill/start", traced=True, environment_key="arn:aws:kms:eu-west-1:1:key/k")

    needs = services.function_needs(ACCOUNT, facts)

    stream = "arn:aws:logs:eu-west-1:123456789012:log-group:/distill/start:log-stream:doctor-check"
    assert actions(needs) == [("logs:CreateLogStream", stream), ("logs:PutLogEvents", stream),
                              ("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*"),
                              ("kms:Decrypt", "arn:aws:kms:eu-west-1:1:key/k")]  # fmt: skip
    assert all(n.requirement.context["aws:SecureTransport"] == "true" for n in needs)


def test_given_a_state_machine_when_planned_then_it_invokes_only_the_functions_its_definition_names() -> None:
    functions = {"start_job": FunctionFacts(f"{FN}start", "/g"), "start_from_drop": FunctionFacts(f"{FN}drop", "/g")}
    machine = MachineFacts(MACHINE, json.dumps({"States": {"A": {"Resource": f"{FN}start"}}}), logs=True)

    needs = services.machine_needs(ACCOUNT, machine, functions)

    assert ("lambda:InvokeFunction", f"{FN}start") in actions(needs)
    assert not any(resource == f"{FN}drop" for _, resource in actions(needs))
    assert {a for a, _ in actions(needs)} >= set(services.LOG_DELIVERY)
    assert not any(a.startswith("xray:") for a, _ in actions(needs))  # not traced


def test_given_each_role_when_asked_who_assumes_it_then_the_service_and_its_confused_deputy_keys() -> None:
    job = "arn:aws:bedrock:eu-west-1:123456789012:model-customization-job/x/1"

    assert services.trust(BEDROCK_ROLE, ACCOUNT, MACHINE, job) == (
        "bedrock.amazonaws.com", {"aws:SourceAccount": "123456789012", "aws:SourceArn": job})
    assert services.trust(STATE_MACHINE_ROLE, ACCOUNT, MACHINE, job) == (
        "states.amazonaws.com", {"aws:SourceAccount": "123456789012", "aws:SourceArn": MACHINE})
    assert services.trust("start_job", ACCOUNT, MACHINE, job) == ("lambda.amazonaws.com", {})


def test_given_a_function_configuration_without_logging_config_when_read_then_it_logs_to_the_default_group() -> None:
    facts = function_facts({"FunctionName": "f", "FunctionArn": f"{FN}f", "TracingConfig": {"Mode": "PassThrough"}})

    assert facts == FunctionFacts(f"{FN}f", "/aws/lambda/f", traced=False, environment_key="")


class Roles:
    """GetRole with a given trust policy (as boto3 returns it: decoded)."""

    def __init__(self, trust: dict[str, Any]) -> None:
        self.trust = trust

    def get_role(self, RoleName: str) -> dict[str, Any]:
        return {"Role": {"RoleName": RoleName, "AssumeRolePolicyDocument": self.trust}}


def trust_policy(service: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_given_a_bedrock_role_trusting_another_account_when_checked_then_trust_fails_naming_the_keys() -> None:
    settings = parse_settings(json.dumps({"bucketName": "bkt", "bedrockRoleArn": "arn:aws:iam::123456789012:role/B"}))
    plan = RunPlan(settings, ACCOUNT, MACHINE)
    elsewhere = Roles(trust_policy("bedrock.amazonaws.com", StringEquals={"aws:SourceAccount": "999999999999"}))
    here = Roles(trust_policy("bedrock.amazonaws.com", StringEquals={"aws:SourceAccount": "123456789012"}))

    row = iam.trust_check(elsewhere, plan, BEDROCK_ROLE, settings.bedrock_role_arn)

    assert row is not None and row.status == "FAIL" and row.check == "trust: Bedrock service role"
    assert "bedrock.amazonaws.com may not assume arn:aws:iam::123456789012:role/B with aws:SourceAccount " \
           "123456789012" in row.detail
    assert iam.trust_check(here, plan, BEDROCK_ROLE, settings.bedrock_role_arn) is None
    assert iam.trust_check(Roles(trust_policy("lambda.amazonaws.com")), plan, "start_job", "arn:aws:iam::1:role/F") \
        is None
