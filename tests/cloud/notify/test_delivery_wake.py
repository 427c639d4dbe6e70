"""A job told by the SLA ticker is sent at once: the ticker wakes the delivery worker after a
pass that wrote notifications, rather than the message waiting for the worker's next pass,
and the worker's routine checks do not queue for SQLite's write lock when there is nothing
to write."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from cloud.enums import Role
from cloud.notify import outbox
from cloud.requests import updates
from cloud.sla.escalator import Escalator
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.harness import Recorder, contact, deliverer
from tests.harness import wait_for_async

NEVER_S = 3600.0  # the delivery worker's own pass: far beyond the test's deadline
DEADLINE_S = 30.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users={"tech1": Role.TECHNICIAN}) as a:
        yield a


def test_the_ticker_calls_on_told_only_after_a_pass_that_told_someone(api: Api) -> None:
    escalator = Escalator(api.db, api.state.sla, clock=api.clock)
    calls: list[int] = []
    escalator.on_told = lambda: calls.append(1)
    escalator.tick()
    assert calls == []  # nothing to tell
    contact(api, "tech1", "email", "t1@example.com")
    api.fault("p1", "pump.dry_run")
    assert escalator.tick().dispatched == 1
    assert calls == [1]
    escalator.tick()
    assert calls == [1]  # the job was told already


async def test_a_dispatched_job_is_sent_without_waiting_for_the_next_pass(api: Api) -> None:
    contact(api, "tech1", "email", "t1@example.com")
    sender = Recorder()
    worker = deliverer(api, sender, interval=NEVER_S)
    escalator = Escalator(api.db, api.state.sla, clock=api.clock)
    escalator.on_told = worker.ticker.wake
    async with worker:
        # its first pass, at once, finds nothing; the next would be an hour later
        await wait_for_async(lambda: worker.stats.ticks >= 1, "the first pass", DEADLINE_S)
        api.fault("p1", "pump.dry_run")
        assert escalator.tick().dispatched == 1
        await wait_for_async(lambda: sender.sent, "the message sent", DEADLINE_S)
    [(channel, address, _, _)] = sender.sent
    assert (channel, address) == ("email", "t1@example.com")


def test_a_pass_with_nothing_stopped_takes_no_write_lock(api: Api, tmp_path: Path) -> None:
    """The delivery worker's check for rows cut short, made every pass, reads: with another
    connection holding SQLite's write lock it answers at once instead of queueing for it."""
    other = sqlite3.connect(tmp_path / "db" / "cloud.sqlite", timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # the telemetry's transaction, say
        stale = api.clock() - timedelta(seconds=30)
        with api.db.session() as session:
            assert outbox.settle_stopped(session, now=api.clock(), stale_before=stale) == 0
        with api.db.session() as session:
            assert updates.settle_stopped(session, stale_before=stale) == 0
    finally:
        other.rollback()
        other.close()
