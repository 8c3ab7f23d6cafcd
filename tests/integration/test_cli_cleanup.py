"""distill cleanup deletes only what the pipeline created, only after confirmation, never data."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from distill import aws
from distill_cli.commands import cleanup
from distill_cli.offline.bedrock import SimulatedBedrock

MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/"


@pytest.fixture
def bedrock() -> Iterator[SimulatedBedrock]:
    fake = SimulatedBedrock(job_checks=0)
    # Three finished jobs give three custom models to provision.
    for n in range(3):
        fake.create_model_customization_job(
            jobName=f"job-{n}", customModelName=f"model-{n}", roleArn="arn:aws:iam::123456789012:role/r",
            baseModelIdentifier="amazon.nova-micro-v1:0:128k", trainingDataConfig={"s3Uri": "s3://bucket-x/d"},
            outputDataConfig={"s3Uri": "s3://bucket-x/o"}, clientRequestToken=f"t{n}",
        )  # fmt: skip
    with aws.clients_from(lambda service: fake):
        yield fake


def _provision(fake: SimulatedBedrock, name: str, tags: dict[str, str], commitment: str | None = None) -> str:
    model = next(fake.model_arn(j) for j in fake.jobs.values() if j.name == f"job-{name[-1]}")
    extra = {"commitmentDuration": commitment} if commitment else {}
    return fake.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=name, modelId=model, clientRequestToken=name,
        tags=[{"key": k, "value": v} for k, v in tags.items()], **extra,
    )["provisionedModelArn"]  # fmt: skip


def _args(**options: object) -> argparse.Namespace:
    return argparse.Namespace(**{"yes": False, "list": False, "unit_price": None, **options})


def test_given_tagged_and_foreign_throughput_when_cleanup_is_confirmed_then_only_the_tagged_one_is_deleted(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"})
    theirs = _provision(bedrock, "theirs-1", {"team": "search"})
    asked = []
    assert cleanup.run(_args(unit_price=21.18), ask=lambda q: asked.append(q) or "y") == 0
    assert bedrock.throughputs[ours].deleted
    assert not bedrock.throughputs[theirs].deleted
    assert asked == ["delete ours-0? [y/N] "]
    out = capsys.readouterr().out
    assert "$21.18/h" in out and "theirs-1" not in out


def test_given_the_user_declines_when_cleanup_asks_then_nothing_is_deleted(bedrock: SimulatedBedrock) -> None:
    ours = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"})
    assert cleanup.run(_args(), ask=lambda q: "n") == 0
    assert not bedrock.throughputs[ours].deleted


def test_given_list_only_when_cleanup_runs_then_nothing_is_deleted_and_everything_is_shown(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"})
    assert cleanup.run(_args(list=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert not bedrock.throughputs[ours].deleted
    assert ours in capsys.readouterr().out


def test_given_a_committed_throughput_when_cleanup_runs_with_yes_then_it_is_listed_but_kept(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    committed = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"}, commitment="OneMonth")
    hourly = _provision(bedrock, "ours-1", {"created-by": "distill-pipeline"})
    assert cleanup.run(_args(yes=True)) == 0
    assert not bedrock.throughputs[committed].deleted
    assert bedrock.throughputs[hourly].deleted
    assert "cannot be deleted before its term" in capsys.readouterr().out


def test_given_nothing_was_created_when_cleanup_runs_then_it_says_so(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cleanup.run(_args(yes=True)) == 0
    assert "nothing to clean up" in capsys.readouterr().out


def _deploy(fake: SimulatedBedrock, name: str, tags: dict[str, str]) -> str:
    model = next(fake.model_arn(j) for j in fake.jobs.values() if j.name == f"job-{name[-1]}")
    return fake.create_custom_model_deployment(
        modelDeploymentName=name, modelArn=model, clientRequestToken=name,
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )["customModelDeploymentArn"]  # fmt: skip


def test_given_tagged_and_foreign_deployments_when_cleanup_is_confirmed_then_only_the_tagged_one_is_deleted(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    throughput = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"})
    ours = _deploy(bedrock, "ours-od-1", {"created-by": "distill-pipeline"})
    theirs = _deploy(bedrock, "theirs-od-2", {"team": "search"})
    asked = []
    assert cleanup.run(_args(), ask=lambda q: asked.append(q) or ("y" if "od" in q else "n")) == 0
    assert asked == ["delete ours-0? [y/N] ", "delete ours-od-1? [y/N] "]
    assert bedrock.deployments[ours].deleted and not bedrock.deployments[theirs].deleted
    assert not bedrock.throughputs[throughput].deleted
    out = capsys.readouterr().out
    assert ours in out and "theirs-od-2" not in out
    assert "billed per token" in out
    assert "1 deleted, 1 kept" in out


def test_given_only_a_deployment_when_cleanup_lists_then_it_is_shown_and_kept(
    bedrock: SimulatedBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = _deploy(bedrock, "ours-od-0", {"created-by": "distill-pipeline"})
    assert cleanup.run(_args(list=True), ask=lambda q: pytest.fail("must not ask")) == 0
    assert not bedrock.deployments[ours].deleted
    out = capsys.readouterr().out
    assert ours in out and "on-demand deployment" in out and "nothing to clean up" not in out


def test_given_a_deployment_when_cleanup_runs_with_yes_then_it_is_deleted_with_the_throughput(
    bedrock: SimulatedBedrock,
) -> None:
    committed = _provision(bedrock, "ours-0", {"created-by": "distill-pipeline"}, commitment="OneMonth")
    ours = _deploy(bedrock, "ours-od-1", {"created-by": "distill-pipeline"})
    assert cleanup.run(_args(yes=True)) == 0
    assert bedrock.deployments[ours].deleted
    assert not bedrock.throughputs[committed].deleted
