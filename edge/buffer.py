"""Store-and-forward: every sample goes to disk first and leaves only once the broker has it.

The queue is one SQLite file in WAL mode. A sample gets its per-equipment `seq` in the same
transaction that stores it, so `seq` survives restarts and a gap in it always means a
sample was lost (and is counted here). Rows are deleted only when the broker acknowledged
them (PUBACK), so delivery is at least once; consumers write idempotently by timestamp.

Durability window. Writes are grouped into one transaction per `commit_interval_s` and only
committed rows are handed to the publisher, so nothing leaves the box before it is on disk.
`kill -9` loses at most the samples of the last `commit_interval_s` (none of which was
published); with `synchronous="FULL"` the same bound holds for a power cut, with
`"NORMAL"` (the default) a power cut may also lose commits since the last WAL checkpoint.

Bound. At `max_samples` rows the oldest *measurement* sample is dropped to make room. A
sample that carries an alarm or a state change is never dropped for a measurement: when
only such samples remain, a new measurement sample is refused instead, and alarm/state
samples may grow the queue up to `hard_limit_factor * max_samples` before the oldest of
them has to go (logged at ERROR). Every drop is counted and logged.

Full disk. When SQLite reports the disk full, samples wait in memory (`edge.buffer_hold`)
until a commit stores them. The SQLite file itself (schema, opening) is `edge.buffer_store`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Literal

from edge.buffer_hold import MAX_HELD, HeldSamples
from edge.buffer_stats import BufferStats
from edge.buffer_store import (
    COUNTERS,
    BufferedSample,
    Row,
    is_disk_full,
    oldest_ts,
    open_store,
    read_pending,
    save_counters,
    save_seqs,
)
from edge.telemetry_encoding import encode_telemetry
from plantroom.errors import ConfigError
from plantroom.schema import PointValue, Quality

log = logging.getLogger(__name__)


class SampleBuffer:
    """A bounded, ordered, on-disk queue of telemetry messages."""

    def __init__(
        self,
        path: Path,
        max_samples: int,
        *,
        commit_interval_s: float = 0.5,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        hard_limit_factor: float = 2.0,
        on_commit: Callable[[], None] | None = None,
        max_held: int = MAX_HELD,
    ) -> None:
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        if commit_interval_s < 0:
            raise ValueError("commit_interval_s must be >= 0")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        self.path = Path(path)
        self.max_samples = max_samples
        self.hard_limit = max(max_samples, int(max_samples * hard_limit_factor))
        self.commit_interval_s = commit_interval_s
        self.synchronous = synchronous
        self.on_commit = on_commit
        self._db: sqlite3.Connection | None = None
        self._in_tx = False
        self._last_commit = time.monotonic()
        self._count = 0
        self._committed_id = 0
        self._last_id = 0
        self._seqs: dict[str, int] = {}
        self._unsaved_seqs: dict[str, int] = {}  # next seqs to store with the next commit
        self._counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._unsaved_counters: set[str] = set()
        self._committed_count = 0
        self._tx_rows: list[Row] = []  # stored in the open transaction
        # waiting in memory for room on disk
        self._held = HeldSamples(self.path, max_held, self._drop)
        self._full = False

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> SampleBuffer:
        """Open (or create) the queue. An unreadable file is moved aside and replaced."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db, saved = open_store(self.path, self.synchronous)
        except (OSError, sqlite3.OperationalError) as exc:
            raise ConfigError(f"cannot open the edge buffer {self.path}: {exc}") from exc
        self._db = db
        self._count = self._committed_count = saved.count
        self._last_id = self._committed_id = saved.last_id
        self._seqs = saved.seqs
        self._counters = saved.counters
        return self

    def close(self) -> None:
        if self._db is None:
            return
        try:
            self.commit()
            self._held.closing()
            with self._disk_full_guard():
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()
            self._db = None

    def __enter__(self) -> SampleBuffer:
        return self.open()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"buffer {self.path} is not open")
        return self._db

    # -- transactions -------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self.db.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def commit(self) -> None:
        """Make everything written so far durable and visible to the publisher."""
        with self._disk_full_guard():
            if self._held:
                self._begin()
                held = self._held.take()
                self._tx_rows.extend(held)  # back to memory should this commit fail too
                for row in held:
                    self._insert(row, track=False)
            if self._in_tx:
                if self._unsaved_seqs:
                    save_seqs(self.db, self._unsaved_seqs.items())
                if self._unsaved_counters:
                    save_counters(
                        self.db, [(n, self._counters[n]) for n in sorted(self._unsaved_counters)]
                    )
                self.db.execute("COMMIT")
                self._in_tx = False
                self._unsaved_seqs.clear()
                self._unsaved_counters.clear()
                self._tx_rows.clear()
                self._committed_count = self._count
                if self._full:
                    self._full = False
                    self._held.disk_has_room()
        self._last_commit = time.monotonic()
        if self._committed_id != self._last_id:
            self._committed_id = self._last_id
            if self.on_commit is not None:
                self.on_commit()

    def maybe_commit(self) -> None:
        if time.monotonic() - self._last_commit >= self.commit_interval_s:
            self.commit()

    # -- the queue ----------------------------------------------------------------------

    def next_seq(self, equipment: str) -> int:
        return self._seqs.get(equipment, 0)

    def _bump(self, counter: str) -> int:
        """Count one event; stored with the next commit."""
        self._counters[counter] += 1
        self._unsaved_counters.add(counter)
        return self._counters[counter]

    def _drop(self, counter: str, what: str, level: int) -> None:
        """Count one dropped or refused sample; log the 1st, 10th, 100th, ... of each kind,
        so that a long outage cannot flood the log."""
        total = self._bump(counter)
        if str(total).rstrip("0") == "1":
            log.log(level, "buffer full: %s (%d so far)", what, total)

    def _take_seq(self, equipment: str) -> int:
        """The next seq of `equipment`; stored in the transaction that stores the sample."""
        if not self._in_tx and not self._full:
            raise RuntimeError("a seq is taken only inside the transaction that stores it")
        seq = self._seqs.get(equipment, 0)
        self._seqs[equipment] = self._unsaved_seqs[equipment] = seq + 1
        return seq

    def _drop_oldest(self, keep: int) -> bool:
        row = self.db.execute(
            "SELECT id FROM samples WHERE keep = ? ORDER BY id LIMIT 1", (keep,)
        ).fetchone()
        if row is None:
            return False
        self.db.execute("DELETE FROM samples WHERE id = ?", (row[0],))
        self._count -= 1
        return True

    def _make_room(self, keep: bool) -> bool:
        """Free a slot for a new sample; False when the new sample must be refused."""
        if self._count < self.max_samples:
            return True
        if self._drop_oldest(0):
            self._drop(
                "dropped_measurements", "dropped the oldest measurement sample", logging.WARNING
            )
            return True
        if not keep:
            self._drop(
                "refused_measurements",
                "only alarm/state samples left; refused a measurement sample",
                logging.WARNING,
            )
            return False
        if self._count < self.hard_limit:
            return True
        self._drop_oldest(1)
        self._drop(
            "dropped_keepers",
            f"{self._count} alarm/state samples reached the hard limit; dropped the oldest",
            logging.ERROR,
        )
        return True

    def append(
        self,
        equipment: str,
        topic: str,
        ts: int,
        points: Mapping[str, PointValue],
        quality: Mapping[str, Quality] | None = None,
        *,
        keep: bool = False,
    ) -> int:
        """Queue one sample; return its seq. `keep`: it carries an alarm or state change.

        The seq is consumed even when the sample has to be refused, so the loss shows as a
        gap downstream.
        """
        return self._queue(
            equipment, topic, ts, lambda seq: encode_telemetry(ts, seq, points, quality), keep
        )

    def append_encoded(
        self,
        key: str,
        topic: str,
        ts: int,
        encode: Callable[[int], bytes],
        *,
        keep: bool = False,
    ) -> int:
        """Queue the pre-encoded message `encode(seq)` under `key`'s seq counter; return the seq.

        For messages the agent builds itself, such as the health report: the seq comes from
        the same per-key counter, inside the same transaction that stores the row, exactly as
        `append` does for telemetry, and the same bound applies (with `keep=False` the message
        is a measurement, dropped at the size limit before any alarm or state sample).
        """
        return self._queue(key, topic, ts, encode, keep)

    def _queue(
        self, key: str, topic: str, ts: int, encode: Callable[[int], bytes], keep: bool
    ) -> int:
        if self._full:
            seq = self._take_seq(key)
            self._held.add((key, seq, ts, int(keep), topic, encode(seq)))
            self.maybe_commit()
            return seq
        self._begin()
        seq = self._take_seq(key)
        row = (key, seq, ts, int(keep), topic, encode(seq))
        stored = False
        with self._disk_full_guard():
            if self._make_room(keep):
                self._insert(row)
                stored = True
        if self._full and not stored:
            self._held.add(row)
        self.maybe_commit()
        return seq

    def _insert(self, row: Row, *, track: bool = True) -> None:
        cur = self.db.execute(
            "INSERT INTO samples (equipment, seq, ts, keep, topic, payload) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )
        self._last_id = int(cur.lastrowid or self._last_id)
        self._count += 1
        if track:
            self._tx_rows.append(row)

    # -- a full disk ----------------------------------------------------------------------

    @contextmanager
    def _disk_full_guard(self) -> Iterator[None]:
        """Turn SQLite's "database or disk is full" into holding samples in memory."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                raise
            self._spill(exc)

    def _spill(self, exc: sqlite3.Error) -> None:
        """Undo the open transaction; its samples wait in memory with those that follow."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        self._in_tx = False
        self._count = self._committed_count
        self._last_id = self._committed_id
        rows, self._tx_rows = self._tx_rows, []
        if not self._full:
            self._full = True
            self._held.disk_full(exc, self._bump("disk_full_events"))
        self._held.extend(rows)

    def pending(self, after_id: int = 0, limit: int = 100) -> list[BufferedSample]:
        """Committed samples after `after_id`, oldest first."""
        return read_pending(self.db, after_id, self._committed_id, limit)

    def ack(self, sample_id: int) -> None:
        """The broker has the sample: forget it."""
        self._begin()
        with self._disk_full_guard():
            cur = self.db.execute("DELETE FROM samples WHERE id = ?", (sample_id,))
            self._count -= cur.rowcount
        self.maybe_commit()

    def ack_through(self, sample_id: int) -> None:
        """The broker has every sample up to `sample_id` that was handed out: forget them.

        For a publisher that sends in id order and acknowledges in that order, so that no
        row at or below `sample_id` is still waiting for the broker.
        """
        if self._full:
            return  # the next ack_through after the disk has room deletes these too
        self._begin()
        with self._disk_full_guard():
            cur = self.db.execute("DELETE FROM samples WHERE id <= ?", (sample_id,))
            self._count -= cur.rowcount
        self.maybe_commit()

    @property
    def depth(self) -> int:
        return self._count

    @property
    def committed_id(self) -> int:
        return self._committed_id

    def stats(self) -> BufferStats:
        return BufferStats(
            depth=self._count + len(self._held),
            max_samples=self.max_samples,
            dropped_measurements=self._counters["dropped_measurements"],
            refused_measurements=self._counters["refused_measurements"],
            dropped_keepers=self._counters["dropped_keepers"],
            oldest_ts=oldest_ts(self.db),
            held=len(self._held),
            disk_full=self._full,
            disk_full_events=self._counters["disk_full_events"],
        )
