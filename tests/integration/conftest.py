"""Handlers run for real against moto's S3 and the simulated Bedrock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws_world import World, aws_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with aws_world(monkeypatch) as created:
        yield created
