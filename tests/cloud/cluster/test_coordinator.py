"""Two coordinators on one SQLite file share three sites 2/1; one stops renewing (as a process
that hangs or dies) → its own work stops when its leases run out and the other takes its sites;
a normal stop hands the sites over at once; a fenced batch after a takeover fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.alarms import system
from cloud.alarms.unwatched import UNWATCHED
from cloud.cluster import leases
from cloud.cluster.coordinator import Coordinator
from cloud.db import Database
from plantroom.clustersettings import ClusterSettings
from tests.cloud.cluster.harness import TTL_S, Works, share_and_take_over
from tests.harness import wait_for_async


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    database.migrate()
    yield database
    database.close()


async def test_two_share_three_sites_and_the_survivor_takes_over(db: Database) -> None:
    await share_and_take_over(db)


async def test_a_site_no_one_holds_for_over_the_ttl_raises_a_system_alarm(db: Database) -> None:
    works = Works()
    settings = ClusterSettings(cloud_process_id="a", cloud_lease_ttl_s=TTL_S)
    # this process serves north only; south and west are other processes' (none running)
    async with Coordinator(db, ["north"], settings, works) as a:
        with db.session() as session:
            leases.ensure_sites(session, ["south"], now=leases.db_now(session))
        await wait_for_async(
            lambda: a.stats.unwatched == ["south"], "south unwatched", within=TTL_S * 4
        )
        with db.session() as session:
            assert system.active_subjects(session, UNWATCHED) == ["site:south"]
        # a process serving south appears and takes it: the alarm clears
        other = ClusterSettings(cloud_process_id="b", cloud_lease_ttl_s=TTL_S)
        async with Coordinator(db, ["south"], other, Works()):
            await wait_for_async(lambda: _cleared(db), "the alarm cleared", within=TTL_S * 4)


def _cleared(db: Database) -> bool:
    with db.session() as session:
        return not system.active_subjects(session, UNWATCHED)
