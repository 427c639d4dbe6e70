"""Periodic work done once however many cloud processes share the database: a ticker's tick
runs in its turn, and a stream with one sender is sent by the process that holds it.

    turn(db, "cloud-sla")      the tick holds the ticker's lock while it runs; the same
                               ticker's tick in another process waits for it, then reads
                               what it committed (so finds that work done)
    Holder(db, "notify")       held for as long as the process keeps it (try, never wait):
                               the notifier's pumps run only in the process holding it

Both are PostgreSQL session-level advisory locks taken on a connection of their own, named for
the ticker and the database schema (two deployments in one database do not share them). A
process that dies, or loses its connection, lets go of its locks with the connection, so
another process takes over at its next tick. On SQLite (one process by design) neither
does anything: the tick just runs, and the one process always holds.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from cloud.db import Database

log = logging.getLogger(__name__)

TURN_WAIT_S = 60.0  # how long a tick waits for the same ticker's tick in another process
MAX_NAME = 64

_KEY = "hashtextextended(:name || '@' || current_schema(), 0)"


_HOLDERS: weakref.WeakSet[Holder] = weakref.WeakSet()  # this process's, for `holding`


class TurnTimeout(RuntimeError):
    """The same ticker in another process held its turn for longer than the wait."""


def _check(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"lock name {name!r}: 1 to {MAX_NAME} characters")
    return name


def shared(db: Database) -> bool:
    """Whether other processes may share this database (PostgreSQL)."""
    return db.engine.dialect.name == "postgresql"


def _unlock(connection: Connection, name: str) -> None:
    try:
        connection.execute(text(f"SELECT pg_advisory_unlock({_KEY})"), {"name": name})
        connection.commit()
    except SQLAlchemyError as exc:  # the connection broke: the lock went with it
        log.warning("lock %s: not released (%s); the connection is closed with it", name, exc)


@contextmanager
def turn(db: Database, name: str, *, wait_s: float = TURN_WAIT_S) -> Iterator[None]:
    """Run the block in `name`'s turn: no other process runs a block of the same name at the
    same time. TurnTimeout when the other one held it longer than `wait_s`."""
    _check(name)
    if not shared(db):
        yield
        return
    with db.engine.connect() as connection:
        try:
            with connection.begin():  # the wait is bounded; the lock outlives the transaction
                connection.execute(
                    text("SELECT set_config('lock_timeout', :ms, true)"),
                    {"ms": f"{int(wait_s * 1000)}ms"},
                )
                connection.execute(text(f"SELECT pg_advisory_lock({_KEY})"), {"name": name})
        except OperationalError as exc:
            raise TurnTimeout(
                f"{name}: another process held its turn for over {wait_s:g} s"
            ) from exc
        try:
            yield
        finally:
            _unlock(connection, name)


def holding(db: Database) -> list[str]:
    """The names this process holds on `db` now (what it alone sends), for its health."""
    return sorted(h.name for h in list(_HOLDERS) if h._db is db and h.held)


class Holder:
    """One process at a time holds `name`, on a connection kept open while it does. Used from
    one thread (the one that calls `try_hold`, `still_held` and `release`)."""

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self.name = _check(name)
        self._connection: Connection | None = None
        self._held = False
        _HOLDERS.add(self)

    @property
    def held(self) -> bool:
        return self._held

    def try_hold(self) -> bool:
        """Take `name` if no other process holds it; whether this one does now."""
        if self._held:
            return True
        if not shared(self._db):
            self._held = True
            return True
        connection = self._db.engine.connect()
        try:
            got = connection.scalar(
                text(f"SELECT pg_try_advisory_lock({_KEY})"), {"name": self.name}
            )
            connection.commit()
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection, self._held = connection, True
        self._db.kept.add(connection)  # closed with the database if never released
        log.info("%s: this process holds it", self.name)
        return True

    def still_held(self) -> bool:
        """False (and let go) when the connection the lock lives on was lost."""
        if not self._held or self._connection is None:
            return self._held
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except SQLAlchemyError as exc:
            log.error("%s: connection lost, no longer held: %s", self.name, exc)
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            _unlock(self._connection, self.name)
        self._drop()

    def _drop(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            self._db.kept.discard(connection)
            try:
                connection.close()
            except SQLAlchemyError as exc:
                log.debug("%s: closing its connection: %s", self.name, exc)
