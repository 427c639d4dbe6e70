"""Fixtures of the cloud's tests; the helpers they are built on are in tests/cloud/harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stack.pgserver import Postgres
from stack.services import Mosquitto
from tests.cloud.harness import STAFF, Api, LiveSite, postgres_schema, serve, settings_for
from tests.cloud.rig import Rig


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app on tests/data/cloud-s1.yaml with two technicians, a supervisor and an engineer
    signed in. A module that needs other users defines its own `api`."""
    async with serve(settings_for(tmp_path), users=STAFF) as a:
        yield a


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean database per test, once on SQLite and once on PostgreSQL: a SQLite file, or a
    schema of its own on the session's PostgreSQL, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/db/cloud.sqlite"
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    with postgres_schema(postgres) as url:
        yield url


@pytest.fixture
def schema_url(postgres: Postgres) -> Iterator[str]:
    """A schema of its own on the session's PostgreSQL, dropped afterwards."""
    with postgres_schema(postgres) as url:
        yield url


@pytest.fixture
def live_site(tmp_path: Path, mosquitto: Mosquitto) -> LiveSite:
    """A site of its own (tests/data/tower-a.yaml) on the session's mosquitto."""
    return LiveSite(tmp_path, mosquitto)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The monitor of site s1 on a database of its own, fed by hand (tests/cloud/rig.py)."""
    r = Rig(tmp_path)
    yield r
    r.db.close()
