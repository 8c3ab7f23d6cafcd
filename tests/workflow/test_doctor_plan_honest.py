"""The doctor's run plan checks at least what a real run does: every permission the offline world granted a role
during real runs (the synthesized state machine, the real handlers, each call authorized against the role's
template policies; what Bedrock, Lambda and Step Functions do with their roles) is in the plan for that role, as the
same action on the same kind of resource; and every role a service was let assume is a trust the doctor checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from distill.janitor import expiry_tag
from distill.settings import parse_settings
from distill_cli.doctor.plan import (
    BEDROCK_ROLE,
    HANDLER_MODULES,
    ROLES,
    STATE_MACHINE_ROLE,
    Account,
    FunctionFacts,
    MachineFacts,
    RunPlan,
)
from distill_cli.offline.world import ACCOUNT, REGION, OfflinePipeline

SAMPLE = "samples/support-tickets.jsonl"
LOGS = "samples/invocation-logs"
Key = tuple[str, str, str]  # (role, action or "trust", resource shape or the trusted service)


def shape(resource: str, world: OfflinePipeline) -> str:
    """What kind of resource an ARN names, without the run's ids: the S3 prefix of an object, the Bedrock resource
    type, the kind of Step Functions resource, which function, which log group; anything else as it is."""
    bucket = world.bucket
    if resource.startswith(f"arn:aws:s3:::{bucket}/"):
        return "s3 object under " + resource.split("/", 1)[1].split("/", 1)[0] + "/"
    if resource == f"arn:aws:s3:::{bucket}":
        return "s3 bucket"
    parts = resource.split(":", 6)
    if resource.startswith("arn:aws:bedrock:"):
        return f"bedrock {parts[5].split('/', 1)[0]}" + (" (foundation)" if not parts[4] else "")
    if resource.startswith("arn:aws:states:"):
        return f"states {parts[5]}"
    if resource.startswith("arn:aws:lambda:"):
        return "function " + next(f.module for f in world.deployment.functions.values() if f.arn == resource)
    if resource.startswith("arn:aws:logs:") and ":log-stream:" in resource:
        return "log streams of " + resource.split(":log-group:", 1)[1].split(":log-stream:", 1)[0]
    return resource


def roles_of(world: OfflinePipeline) -> dict[str, str]:
    """role ARN -> the doctor's name for the role."""
    roles = {f.role_arn: f.module for f in world.deployment.functions.values()}
    roles[world.settings["bedrockRoleArn"]] = BEDROCK_ROLE
    roles[world.machine.role_arn] = STATE_MACHINE_ROLE
    return roles


def granted(world: OfflinePipeline) -> set[Key]:
    """Every permission the offline runs granted, and every role a service was let assume."""
    roles = roles_of(world)
    found = set()
    for grant in world.authorizer.grants:
        assert grant.principal in roles, f"a grant to a role the doctor does not know: {grant}"
        if grant.service == "(trust)":
            found.add((roles[grant.principal], "trust", grant.operation))
        else:
            found.add((roles[grant.principal], grant.requirement.action, shape(grant.requirement.resource, world)))
    return found


def plan_for(world: OfflinePipeline) -> RunPlan:
    """The plan doctor builds, from what the world deployed (as doctor reads it from AWS)."""
    (topic,) = world.deployment.topics.values()
    functions = {f.module: FunctionFacts(f.arn, f.log_group, f.traced, f.kms_key_arn or "")
                 for f in world.deployment.functions.values()}  # fmt: skip
    machine = MachineFacts(world.machine.arn, world.machine.definition, bool(world.machine.logs_to),
                           world.machine.traced)  # fmt: skip
    return RunPlan(parse_settings(json.dumps(world.settings)), Account(REGION, ACCOUNT), world.state_machine_arn,
                   topic_key=topic.kms_key or "", functions=functions, machine=machine)  # fmt: skip


def planned(world: OfflinePipeline, leave_out: str = "") -> set[Key]:
    plan = plan_for(world)
    roles = [role for role in plan.modules if role != leave_out]
    return ({(role, need.requirement.action, shape(need.requirement.resource, world))
             for role in roles for need in plan.needs(role)}
            | {(role, "trust", plan.trust(role)[0]) for role in roles})  # fmt: skip


@pytest.fixture(scope="module")
def offline_runs(synthesized) -> Iterator[Callable[[], list[OfflinePipeline]]]:
    """Four real offline runs (provisioned throughput, on-demand, from invocation logs, a failed throughput with
    the cost guard) and one run started by dropping the file: the worlds stay open for the module's tests."""
    worlds: list[OfflinePipeline] = []

    def open_runs() -> list[OfflinePipeline]:
        if worlds:
            return worlds
        serving = OfflinePipeline(synthesized=synthesized, job_checks=1, throughput_checks=1).__enter__()
        worlds.append(serving)
        # Bedrock refuses the first start for its quota: that run backs off and queues again.
        serving.bedrock.fail_next("CreateModelCustomizationJob", "ServiceQuotaExceededException")
        for run_input in ({"provisionedThroughput": {}}, {"onDemandDeployment": {}}):
            result = serving.run({"dataset": serving.upload(SAMPLE), **run_input})
            assert result.status == "SUCCEEDED", result.message
        logs = {"s3Uri": serving.upload_tree(LOGS, "invocation-logs/"), "usePromptResponse": True,
                "requestMetadataFilters": {"equals": {"use-case": "support"}}}  # fmt: skip
        result = serving.run({"invocationLogs": logs, "onDemandDeployment": {}})
        assert result.status == "SUCCEEDED", result.message
        # A good student promoted behind an existing deployment; a weak one whose serving is removed.
        name = "support-bot"
        serving.bedrock.seed_deployment(name)
        result = serving.run({"dataset": serving.upload(SAMPLE), "evaluation": {"promoteTo": name}})
        assert result.status == "SUCCEEDED", result.message
        # The hourly janitor: an expired deployment of the pipeline is deleted, an idle one warned about.
        expires = expiry_tag(datetime.fromtimestamp(serving.scheduler.now(), UTC) - timedelta(hours=2), 1)
        serving.bedrock.seed_deployment("expired", tags=expires)
        serving.bedrock.seed_deployment("idle")
        (swept,) = serving.on_schedule(after_hours=1)
        assert swept.ok and swept.result["deleted"], swept.error
        weak = OfflinePipeline(synthesized=synthesized, job_checks=1, throughput_checks=1,
                               student_quality=0.5).__enter__()  # fmt: skip
        worlds.append(weak)
        result = weak.run({"dataset": weak.upload(SAMPLE), "provisionedThroughput": {}})
        assert result.error == "StudentBelowTeacher", result.message
        failing = OfflinePipeline(synthesized=synthesized, job_checks=1, throughput_fails=True).__enter__()
        worlds.append(failing)
        result = failing.run({"dataset": failing.upload(SAMPLE), "provisionedThroughput": {}})
        assert result.status == "FAILED" and result.deliveries, result.message
        (delivery,) = failing.drop(SAMPLE)
        assert delivery.ok and delivery.result["started"] is True, delivery
        return worlds

    yield open_runs
    for world in reversed(worlds):
        world.__exit__(None, None, None)


def test_given_real_offline_runs_when_the_plan_is_built_from_their_settings_then_it_covers_every_grant(offline_runs):
    worlds = offline_runs()
    granted_keys = set().union(*(granted(world) for world in worlds))
    planned_keys = set().union(*(planned(world) for world in worlds))

    missing = sorted(granted_keys - planned_keys)

    assert not missing, "granted offline but not in the doctor's plan:\n" + "\n".join(map(str, missing))
    # Every role a run uses was exercised, so the comparison is not vacuous.
    assert {role for role, action, _ in granted_keys if action == "trust"} == set(ROLES)
    assert {role for role, action, _ in granted_keys if action != "trust"} == set(ROLES)


def test_given_the_deployed_functions_when_listed_then_the_plan_knows_exactly_their_handler_modules(offline_runs):
    (world, *_) = offline_runs()

    assert {f.module for f in world.deployment.functions.values()} == set(HANDLER_MODULES)


def test_given_a_plan_missing_an_entry_when_compared_then_the_grant_it_misses_is_named(offline_runs):
    """The check itself can fail: a plan without start_from_drop's calls misses what the drop run was granted."""
    worlds = offline_runs()
    granted_keys = set().union(*(granted(world) for world in worlds))
    partial = set().union(*(planned(world, leave_out="start_from_drop") for world in worlds))

    missing = granted_keys - partial

    assert ("start_from_drop", "states:StartExecution", "states stateMachine") in missing
