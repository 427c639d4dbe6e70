"""Fixtures of the cloud's tests; the helpers they are built on are in tests/cloud/harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from tests.cloud.harness import Api, serve, settings_for

STAFF = {
    "tech1": Role.TECHNICIAN,
    "tech2": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "eng1": Role.ENGINEER,
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app on tests/data/cloud-s1.yaml with two technicians, a supervisor and an engineer
    signed in. A module that needs other users defines its own `api`."""
    async with serve(settings_for(tmp_path), users=STAFF) as a:
        yield a
