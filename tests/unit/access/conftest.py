from __future__ import annotations

import pytest

from tests.unit.access import sar


@pytest.fixture(scope="session")
def reference() -> sar.Reference:
    """The Service Authorization Reference, loaded once per session (the file is 13 MB)."""
    return sar.Reference(sar.load())
