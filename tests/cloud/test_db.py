"""The SQLite writer lock (one writer at a time across processes), migrations taken in turn,
and the list indexes of migration 0003."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from cloud import db as cloud_db
from cloud.db import Database, sqlite_writer


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cloud.sqlite"


def test_writers_of_two_databases_on_one_file_take_turns(tmp_path: Path) -> None:
    """Two `Database`s on one file hold separate lock files handles, as two processes do."""
    first, second = Database(url(tmp_path)), Database(url(tmp_path))
    try:
        assert first.writer is not None and second.writer is not None
        assert sqlite_writer(first.engine) is first.writer
        got: list[float] = []
        released = 0.0

        def other() -> None:
            assert second.writer is not None
            with second.writer.hold():
                got.append(time.monotonic())

        with first.writer.hold():
            waiter = threading.Thread(target=other)
            waiter.start()
            time.sleep(0.2)  # the other writer is kept waiting this long, not a sync point
            assert not got
            released = time.monotonic()
        waiter.join(timeout=10)
        assert not waiter.is_alive()
        assert got and got[0] >= released
        assert got[0] - released < 0.1  # woken promptly, not after a long sleep
    finally:
        first.close()
        second.close()


def test_a_writer_held_too_long_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    first, second = Database(url(tmp_path)), Database(url(tmp_path))
    try:
        assert first.writer is not None and second.writer is not None
        with first.writer.hold():
            started = time.monotonic()
            with second.writer.hold(wait_s=0.2):
                waited = time.monotonic() - started
        assert 0.2 <= waited < 2
    finally:
        first.close()
        second.close()


def test_the_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    database = Database(url(tmp_path))
    try:
        assert database.writer is not None
        assert Path(database.writer.path) == tmp_path / "cloud.sqlite-writer"
    finally:
        database.close()


def test_engines_not_opened_by_database_have_no_writer_lock() -> None:
    engine = create_engine("sqlite://")
    try:
        assert sqlite_writer(engine) is None
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_in_turn(tmp_path: Path) -> None:
    """API workers start at once and each migrates: one does, the others find it done."""
    databases = [Database(url(tmp_path)) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(database: Database) -> None:
        try:
            database.migrate()
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(d,)) for d in databases]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        indexes = {i["name"] for i in inspect(databases[0].engine).get_indexes("work_orders")}
        assert {
            "ix_work_orders_status_building_created_at",
            "ix_work_orders_status_kind_created_at",
            "ix_work_orders_status_priority_created_at",
        } <= indexes
    finally:
        for d in databases:
            d.close()


def test_a_status_and_building_list_is_read_from_one_index(tmp_path: Path) -> None:
    database = Database(url(tmp_path))
    try:
        database.migrate()
        with database.engine.connect() as connection:
            plan = connection.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT count(*) FROM (SELECT id FROM work_orders "
                    "WHERE status IN ('open') AND building = 'b1')"
                )
            ).all()
        assert "COVERING INDEX ix_work_orders_status_building_created_at" in str(plan)
    finally:
        database.close()


def test_sqlite_connections_are_memory_mapped(tmp_path: Path) -> None:
    database = Database(url(tmp_path))
    try:
        with database.engine.connect() as connection:
            mapped = connection.execute(text("PRAGMA mmap_size")).scalar()
        assert mapped == cloud_db.SQLITE_MMAP_BYTES
    finally:
        database.close()
