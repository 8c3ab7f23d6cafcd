from __future__ import annotations

import pytest

from tests.unit.offline.sfn_world import World


@pytest.fixture
def world() -> World:
    return World()
