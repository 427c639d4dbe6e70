"""Coordinators on a test database: three sites, the shortest lease, a record of the work
each started and stopped, and the scenario of two sharing the sites and one taking over."""

from __future__ import annotations

import pytest

from cloud.cluster.coordinator import Coordinator, Fence
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
    """Starts a site's work for the coordinator and keeps a log of starts and stops."""

    def __init__(self) -> None:
        self.running: dict[str, Work] = {}
        self.log: list[str] = []

    async def __call__(self, site: str, fence: Fence) -> Work:
        work = Work(site, fence, self.log)
        self.running[site] = work
        self.log.append(f"start {site}")
        return work


def coordinator(db: Database, name: str, works: Works) -> Coordinator:
    """Process `name`'s coordinator of the three sites on `db`, with the shortest lease."""
    settings = ClusterSettings(cloud_process_id=name, cloud_lease_ttl_s=TTL_S)
    return Coordinator(db, SITES, settings, works)


def held_by(a: Coordinator, b: Coordinator) -> tuple[int, int]:
    """How many sites `a` and `b` hold."""
    return len(a.held()), len(b.held())


async def share_and_take_over(db: Database) -> None:
    """Two coordinators on `db` share the three sites 2/1; one stops renewing and the other
    takes its sites once their leases run out, its fence refusing what the first would still
    commit; a normal stop drains and releases."""
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
