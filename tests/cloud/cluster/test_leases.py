"""The lease statements on a migrated SQLite database: acquire, renew, release, fence, view.
(The race between processes on PostgreSQL: test_cluster_postgres.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.cluster import leases
from cloud.cluster.leases import LeaseLost
from cloud.db import Database

NOW = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
TTL = timedelta(seconds=15)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    database.migrate()
    with database.session() as session:
        leases.ensure_sites(session, ["north", "south"], now=NOW)
    yield database
    database.close()


def test_one_holder_at_a_time_and_a_new_epoch_at_each_takeover(db: Database) -> None:
    with db.session() as s:
        assert leases.acquire(s, "north", "a", now=NOW, ttl=TTL) == 1
        assert leases.acquire(s, "north", "b", now=NOW + timedelta(seconds=5), ttl=TTL) is None
        assert leases.renew(s, "north", "a", 1, now=NOW + timedelta(seconds=5), ttl=TTL)
        # renewed until NOW + 20 s: b still cannot take it at NOW + 16 s
        assert leases.acquire(s, "north", "b", now=NOW + timedelta(seconds=16), ttl=TTL) is None
        later = NOW + timedelta(seconds=21)
        assert leases.acquire(s, "north", "b", now=later, ttl=TTL) == 2
        # a's renewal and fence find the lease taken
        assert not leases.renew(s, "north", "a", 1, now=later, ttl=TTL)
        with pytest.raises(LeaseLost, match="'north' \\(epoch 1\\)"):
            leases.fence(s, "north", "a", 1)
        leases.fence(s, "north", "b", 2)
        assert not leases.release(s, "north", "a", 1, now=later)
        assert leases.release(s, "north", "b", 2, now=later)
        lease = next(x for x in leases.view(s, now=later).leases if x.site == "north")
        assert (lease.holder, lease.epoch, lease.held(later)) == (None, 2, False)
        # released: free at once, before its expiry
        assert leases.acquire(s, "north", "a", now=later, ttl=TTL) == 3


def test_an_expired_lease_no_one_took_is_still_renewable_by_its_holder(db: Database) -> None:
    with db.session() as s:
        assert leases.acquire(s, "south", "a", now=NOW, ttl=TTL) == 1
        assert leases.renew(s, "south", "a", 1, now=NOW + timedelta(seconds=30), ttl=TTL)
        assert leases.acquire(s, "south", "b", now=NOW + timedelta(seconds=31), ttl=TTL) is None


def test_the_view_has_the_live_members_and_every_site(db: Database) -> None:
    with db.session() as s:
        leases.beat(s, "a", now=NOW, ttl=TTL)
        leases.beat(s, "b", now=NOW - timedelta(seconds=20), ttl=TTL)  # its last beat: expired
        leases.ensure_sites(s, ["north", "west"], now=NOW)  # north again: no second row
        found = leases.view(s, now=NOW)
    assert found.members == ("a",)
    assert [x.site for x in found.leases] == ["north", "south", "west"]
    assert all(x.holder is None and x.epoch == 0 for x in found.leases)
    with db.session() as s:
        leases.beat(s, "a", now=NOW + timedelta(hours=2), ttl=TTL)  # b is forgotten
        leases.leave(s, "a")
        assert leases.view(s, now=NOW).members == ()
