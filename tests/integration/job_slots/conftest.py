"""Fixtures of the job-slot tests (tests/support/job_slot_world.py): the fakes, wired into distill.aws."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws_world import World
from tests.support.job_slot_world import ServiceQuotas, StepFunctions, use_clients


@pytest.fixture
def sfn() -> StepFunctions:
    return StepFunctions()


@pytest.fixture
def quotas() -> ServiceQuotas:
    return ServiceQuotas()


@pytest.fixture
def slots(world: World, sfn: StepFunctions, quotas: ServiceQuotas) -> Iterator[World]:
    use_clients(world, world.s3, sfn, quotas)
    yield world
