"""Site leases on a real PostgreSQL: racing processes, the fence's row lock holding a takeover
back until the batch commits, and two coordinators sharing three sites and taking over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from cloud.cluster import leases
from cloud.db import Database
from stack.pgserver import Postgres
from tests.cloud.cluster.harness import share_and_take_over
from tests.cloud.harness import postgres_schema

pytestmark = pytest.mark.integration

TTL = timedelta(seconds=15)


@pytest.fixture
def pg(postgres: Postgres) -> Iterator[Database]:
    with postgres_schema(postgres) as url:
        database = Database(url)
        database.migrate()
        yield database
        database.close()


def test_of_processes_racing_for_a_free_site_one_wins_each_time(pg: Database) -> None:
    with pg.session() as s:
        leases.ensure_sites(s, ["north"], now=leases.db_now(s))
    for round_ in range(10):
        start = threading.Barrier(4)
        won: list[tuple[str, int]] = []

        def race(name: str, start: threading.Barrier, won: list[tuple[str, int]]) -> None:
            start.wait()
            with pg.session() as s:
                now = leases.db_now(s)
                epoch = leases.acquire(s, "north", name, now=now, ttl=TTL)
            if epoch is not None:
                won.append((name, epoch))

        threads = [
            threading.Thread(target=race, args=(f"p{i}-{round_}", start, won)) for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, won
        assert won[0][1] == round_ + 1
        with pg.session() as s:  # the winner lets go: the next round races again
            leases.release(s, "north", won[0][0], won[0][1], now=leases.db_now(s))


def test_a_takeover_waits_for_the_fenced_batch_to_commit(pg: Database) -> None:
    with pg.session() as s:
        now = leases.db_now(s)
        leases.ensure_sites(s, ["north"], now=now)
        assert leases.acquire(s, "north", "a", now=now - 2 * TTL, ttl=TTL) == 1  # expired
    with pg.session() as batch:
        leases.fence(batch, "north", "a", 1)  # the batch of "a" holds the row
        with pg.session() as s, pytest.raises(OperationalError, match="lock"):
            s.execute(text("SET LOCAL lock_timeout = '200ms'"))
            leases.acquire(s, "north", "b", now=leases.db_now(s), ttl=TTL)
    # the batch committed: now "b" takes the site over, and "a"'s next batch is refused
    with pg.session() as s:
        assert leases.acquire(s, "north", "b", now=leases.db_now(s), ttl=TTL) == 2
    with pg.session() as s, pytest.raises(leases.LeaseLost):
        leases.fence(s, "north", "a", 1)


async def test_two_coordinators_share_three_sites_and_take_over(pg: Database) -> None:
    await share_and_take_over(pg)
