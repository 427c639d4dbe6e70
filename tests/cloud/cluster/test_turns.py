"""Turns and holds on a real PostgreSQL: a tick waits for the same ticker's tick in another
process (and gives up, naming it, after the wait), one process holds a stream until it lets
go or its connection dies; on SQLite both simply run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cloud.cluster.turns import Holder, TurnTimeout, holding, turn
from cloud.db import Database
from stack.pgserver import Postgres
from tests.cloud.harness import postgres_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def two(postgres: Postgres) -> Iterator[tuple[Database, Database]]:
    """Two processes' engines on one schema."""
    with postgres_schema(postgres) as url:
        first, second = Database(url), Database(url)
        yield first, second
        first.close()
        second.close()


def test_a_turn_waits_for_the_other_process_and_gives_up_after_the_wait(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    order: list[str] = []
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with turn(first, "cloud-sla"):
            order.append("first in")
            inside.set()
            leave.wait(timeout=30)
            order.append("first out")

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert inside.wait(timeout=30)
        too_early = pytest.raises(TurnTimeout, match="cloud-sla: another process held its turn")
        with too_early, turn(second, "cloud-sla", wait_s=0.2):
            order.append("second too early")
        with turn(second, "cloud-pm", wait_s=0.2):  # another ticker's turn is its own
            order.append("pm")
        waiter = threading.Thread(target=lambda: _second(second, order))
        waiter.start()
        leave.set()
        waiter.join(timeout=30)
    finally:
        leave.set()
        thread.join(timeout=30)
    assert order == ["first in", "pm", "first out", "second in"]


def _second(db: Database, order: list[str]) -> None:
    with turn(db, "cloud-sla"):
        order.append("second in")


def test_one_process_holds_until_it_lets_go_or_loses_its_connection(
    two: tuple[Database, Database],
) -> None:
    first, second = Holder(two[0], "cloud-notify"), Holder(two[1], "cloud-notify")
    assert first.try_hold() and first.held
    assert not second.try_hold() and not second.held
    assert first.still_held()
    # what each process tells in its health: the one holding sends
    assert (holding(two[0]), holding(two[1])) == (["cloud-notify"], [])
    first.release()
    assert second.try_hold() and not first.try_hold()
    assert (holding(two[0]), holding(two[1])) == ([], ["cloud-notify"])
    # the holder's connection dies (the process is killed, the network cut): the lock goes too
    with two[0].engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND pid <> pg_backend_pid()"  # the one lock held now: second's
            )
        )
    assert not second.still_held()
    assert first.try_hold()
    first.release()


def test_on_sqlite_the_one_process_always_has_its_turn(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    try:
        with turn(db, "cloud-sla"), turn(db, "cloud-sla"):
            pass
        holder = Holder(db, "cloud-notify")
        assert holder.try_hold() and holder.still_held()
        holder.release()
        assert not holder.held
        with pytest.raises(ValueError, match="1 to 64 characters"):
            Holder(db, "x" * 65)
    finally:
        db.close()
