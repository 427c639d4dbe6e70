"""Two coordinators on one SQLite file share three sites 2/1; one stops renewing (as a process
that hangs or dies) → its own work stops when its leases run out and the other takes its sites;
a normal stop hands the sites over at once; a fenced batch after a takeover fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.alarms import system
from cloud.cluster import leases
from cloud.cluster.coordinator import UNWATCHED, Coordinator, Fence
from cloud.cluster.leases import LeaseLost
from cloud.db import Database
from plantroom.clustersettings import ClusterSettings
from tests.harness import wait_for_async

SITES = ["north", "south", "west"]
TTL_S = 3.0  # the shortest allowed: a takeover within about 4 s


class Work:
    """A site's work as the coordinator sees it: started with a fence, stopped with or
    without draining."""

    def __init__(self, site: str, fence: Fence, log: list[str]) -> None:
        self.site = site
        self.fence = fence
        self.log = log
        self.stopped: bool | None = None  # drained?

    async def stop(self, *, drain: bool) -> None:
        self.stopped = drain
        self.log.append(f"stop {self.site} drain={drain}")


class Works:
    def __init__(self) -> None:
        self.running: dict[str, Work] = {}
        self.log: list[str] = []

    async def __call__(self, site: str, fence: Fence) -> Work:
        work = Work(site, fence, self.log)
        self.running[site] = work
        self.log.append(f"start {site}")
        return work


def coordinator(db: Database, name: str, works: Works) -> Coordinator:
    settings = ClusterSettings(cloud_process_id=name, cloud_lease_ttl_s=TTL_S)
    return Coordinator(db, SITES, settings, works)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    database.migrate()
    yield database
    database.close()


def held_by(a: Coordinator, b: Coordinator) -> tuple[int, int]:
    return len(a.held()), len(b.held())


async def test_two_share_three_sites_and_the_survivor_takes_over(db: Database) -> None:
    works_a, works_b = Works(), Works()
    async with coordinator(db, "a", works_a) as a:
        assert sorted(a.held()) == SITES  # alone: everything, before entering returns
        async with coordinator(db, "b", works_b) as b:
            await wait_for_async(lambda: held_by(a, b) == (2, 1), "a 2/1 split", within=TTL_S * 4)
            given = next(iter(b.held()))
            assert works_a.running[given].stopped is True  # a drained it, then released it
            assert set(a.held()) | set(b.held()) == set(SITES)

            # a stops renewing: its work stops when its leases run out on its own clock, and
            # b takes its sites once they expire
            assert a._task is not None
            a._task.cancel()
            await wait_for_async(
                lambda: held_by(a, b) == (0, 3), "b to take every site", within=TTL_S * 4
            )
            assert all(works_a.running[s].stopped is False for s in SITES if s != given)
            # a's fence refuses what a would still commit
            with db.session() as session, pytest.raises(LeaseLost):
                works_a.running[SITES[0] if SITES[0] != given else SITES[1]].fence(session)
            for site in SITES:
                with db.session() as session:
                    works_b.running[site].fence(session)
            assert b.stats.unwatched == []
        # b stopped normally: drained and released
        assert all(w.stopped is True for w in works_b.running.values())


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
