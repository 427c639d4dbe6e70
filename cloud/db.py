"""The database connection: engine, sessions and migrations.

SQLite (the default) is opened in WAL mode with foreign keys on, a busy timeout and the file
memory-mapped, its parent directory created; any other SQLAlchemy URL (PostgreSQL) is used as
given. The schema is owned by the Alembic migrations shipped in `cloud/migrations/`.

SQLite takes one writer at a time. Writers of one process queue on a lock and are woken at
once; writers of other processes (several API workers, the CLI) would otherwise find the file
locked and wait in SQLite's busy handler, which sleeps up to 100 ms between tries. So
`sqlite_writer` also takes an advisory lock on a file beside the database
(`<database>-writer`), whose holder's release is seen within half a millisecond.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud import tables  # noqa: F401  (maps every domain's tables before a session opens)
from plantroom.errors import ConfigError, ServiceError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Pages read through the OS page cache shared by every connection and process, rather than
# copied into each connection's own cache (2 MB by default).
SQLITE_MMAP_BYTES = 256 * 2**20
# Request threads (40 in the API's thread pool) each hold a connection only briefly, but
# under load more than the default pool of 5 (+10 overflow) are in use at once; a SQLite
# connection is a file handle.
SQLITE_POOL_SIZE = 20
SQLITE_MAX_OVERFLOW = 20
WRITER_POLL_S = 0.0005
MIGRATION_WAIT_S = 600.0  # how long a process waits for another's migration to finish
MIGRATION_LOCK_KEY = 0x706C616E74  # PostgreSQL advisory lock taken while migrating


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"PLANTROOM_DATABASE_URL: not a database URL: {url!r}") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    finally:
        cursor.close()


def json_text(value: Any) -> str:
    """A JSON column's text. orjson, several times faster than the standard library on numbers
    (rule state is full of them); what it refuses (an integer beyond 64 bits) is written by
    the standard library, as before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file its folder is created and its pragmas set."""
    parsed = _parse_url(url)
    kwargs: dict[str, Any] = {"json_serializer": json_text}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ConfigError(
                f"PLANTROOM_DATABASE_URL: {url!r} is not a SQLite file; the cloud service shares "
                "its database between threads, use e.g. sqlite:///var/cloud/plantroom.sqlite"
            )
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"PLANTROOM_DATABASE_URL: cannot create the folder {folder}: {exc.strerror or exc}"
            ) from exc
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        kwargs["pool_size"] = SQLITE_POOL_SIZE
        kwargs["max_overflow"] = SQLITE_MAX_OVERFLOW
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"PLANTROOM_DATABASE_URL: cannot use {url!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine | None = None) -> Config:
    """The Alembic configuration for the shipped migrations, bound to `engine` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema up to the newest migration. Processes that start together (API
    workers) take turns: on PostgreSQL under a transaction-scoped advisory lock, on SQLite
    under the writer lock of a `Database` (`Database.migrate`)."""
    cfg = alembic_config(engine)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:  # a migration that copies a table must not cascade its deletes
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    if not sqlite:
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": MIGRATION_LOCK_KEY},
                        )
                    cfg.attributes["connection"] = connection
                    command.upgrade(cfg, "head")
                    if sqlite:
                        _check_references(connection)
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    except (SQLAlchemyError, CommandError) as exc:
        raise ServiceError(f"database {engine.url!r}: migration failed: {exc}") from exc


MAX_BROKEN_SHOWN = 5


def _check_references(connection: Connection) -> None:
    """Raise (so the migration rolls back) if a row refers to one that is not there: SQLite
    does not check while its foreign keys are off."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = "; ".join(f"{r[0]} row {r[1]} → {r[2]}" for r in broken[:MAX_BROKEN_SHOWN])
        raise CommandError(f"{len(broken)} rows refer to rows that are not there: {shown}")


class SqliteWriter:
    """One writer at a time on a SQLite file: a thread lock for this process's threads, then
    an advisory lock (`flock`) on `<database>-writer` for other processes."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writer"
        self._threads = threading.Lock()
        self._fd: int | None = None

    @contextmanager
    def hold(self, wait_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> Iterator[None]:
        """Hold the lock. A holder in another process is waited for up to `wait_s` (the busy
        timeout); after that the write goes ahead and SQLite's own busy timeout is the bound,
        as it is for writers that take no lock."""
        with self._threads:
            locked = self._lock_file(wait_s)
            try:
                yield
            finally:
                if locked and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _lock_file(self, wait_s: float) -> bool:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                log.warning("SQLite writer lock %s: %s; writers wait on SQLite", self.path, exc)
                return False
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    log.warning(
                        "SQLite writer lock %s held for too long; writing anyway", self.path
                    )
                    return False
                time.sleep(WRITER_POLL_S)

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


_WRITERS: weakref.WeakKeyDictionary[Engine, SqliteWriter] = weakref.WeakKeyDictionary()


def sqlite_writer(engine: Engine) -> SqliteWriter | None:
    """The writer lock of a `Database`'s SQLite engine; None for other databases, which take
    concurrent writers as they come."""
    return _WRITERS.get(engine)


class Database:
    """The engine and a session factory, created once per process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.writer: SqliteWriter | None = None
        # connections kept out of the pool for as long as they hold a lock
        # (`cloud.cluster.turns.Holder`): closed with the database however their holder ends
        self.kept: set[Connection] = set()
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            self.writer = SqliteWriter(str(Path(self.engine.url.database).expanduser()))
            _WRITERS[self.engine] = self.writer

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def migrate(self) -> None:
        if self.writer is None:
            migrate(self.engine)
            return
        with self.writer.hold(MIGRATION_WAIT_S):
            migrate(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("database ping failed: %s", exc)
            return False
        return True

    def close(self) -> None:
        for connection in list(self.kept):
            connection.close()
        self.kept.clear()
        self.engine.dispose()
        if self.writer is not None:
            self.writer.close()
