"""The SQLite file under the edge buffer: its schema, WAL mode, the seqs and counters saved
in it, the rows it hands out, and the replacement of a file that cannot be read."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    equipment TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    keep INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_keep ON samples (keep, id);
CREATE TABLE IF NOT EXISTS seqs (
    equipment TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

COUNTERS = ("dropped_measurements", "refused_measurements", "dropped_keepers", "disk_full_events")

Row = tuple[str, int, int, int, str, bytes]
"""One sample as stored: equipment, seq, ts, keep, topic, payload."""


def is_disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


@dataclass(frozen=True, slots=True)
class BufferedSample:
    id: int
    equipment: str
    seq: int
    ts: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class SavedState:
    """What the file holds at opening: its samples, the next seqs and the counters."""

    count: int
    last_id: int
    seqs: dict[str, int]
    counters: dict[str, int]


def open_store(path: Path, synchronous: str) -> tuple[sqlite3.Connection, SavedState]:
    """Open (or create) the file in WAL mode. An unreadable file is moved aside and replaced;
    an operational error (no such directory, locked, no WAL) is raised as it is."""
    try:
        return _connect(path, synchronous)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        log.error("buffer %s is unreadable (%s); moved aside to %s", path, exc, aside)
        path.rename(aside)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        return _connect(path, synchronous)


def _connect(path: Path, synchronous: str) -> tuple[sqlite3.Connection, SavedState]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL mode (got {mode})")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(SCHEMA)
        count = int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
        last_id = int(db.execute("SELECT coalesce(max(id), 0) FROM samples").fetchone()[0])
        seqs = {e: int(n) for e, n in db.execute("SELECT equipment, next_seq FROM seqs")}
        counters = dict.fromkeys(COUNTERS, 0)
        for name, value in db.execute("SELECT name, value FROM counters"):
            if name in counters:
                counters[name] = int(value)
    except BaseException:
        db.close()
        raise
    if count:
        log.info("buffer %s holds %d samples from before the restart", path, count)
    return db, SavedState(count, last_id, seqs, counters)


def save_seqs(db: sqlite3.Connection, seqs: Iterable[tuple[str, int]]) -> None:
    """Store the next seq of each key, in the open transaction."""
    db.executemany(
        "INSERT INTO seqs (equipment, next_seq) VALUES (?, ?) "
        "ON CONFLICT (equipment) DO UPDATE SET next_seq = excluded.next_seq",
        seqs,
    )


def save_counters(db: sqlite3.Connection, counters: Iterable[tuple[str, int]]) -> None:
    """Store counter values, in the open transaction."""
    db.executemany(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        counters,
    )


def read_pending(
    db: sqlite3.Connection, after_id: int, through_id: int, limit: int
) -> list[BufferedSample]:
    """The samples with `after_id < id <= through_id`, oldest first, at most `limit`."""
    rows = db.execute(
        "SELECT id, equipment, seq, ts, topic, payload FROM samples "
        "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
        (after_id, through_id, limit),
    ).fetchall()
    return [BufferedSample(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], bytes(r[5])) for r in rows]


def oldest_ts(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT ts FROM samples ORDER BY id LIMIT 1").fetchone()
    return int(row[0]) if row and row[0] is not None else None
