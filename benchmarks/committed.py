"""When a cloud's work orders become visible in its SQLite file: a thread in the benchmark's
own process reads the file every `every_s` and notes the wall time it first sees each
equipment's first work order, so a benchmark knows when a work order was committed (to
within `every_s` and a read) without asking the cloud, whose CPU it may be measuring.

The reads are a reader of a WAL database: they never block the cloud's writer."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

QUERY = "SELECT id, equipment_id FROM work_orders WHERE id > ? ORDER BY id"


class CommitWatch:
    """`seen[equipment_id]`: the wall time its first work order was first read, committed."""

    def __init__(self, database: Path, every_s: float = 0.01) -> None:
        self.database = database
        self.every_s = every_s
        self.seen: dict[str, float] = {}
        self.reads = 0
        self.failed = 0  # reads that failed (the file not there yet, or busy): tried again
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-watch", daemon=True)

    def __enter__(self) -> CommitWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last = 0
        db: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.every_s):
                try:
                    if db is None:
                        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)
                    rows = db.execute(QUERY, (last,)).fetchall()
                except sqlite3.Error:
                    self.failed += 1
                    continue
                now = time.time()
                self.reads += 1
                for number, equipment in rows:
                    self.seen.setdefault(equipment, now)
                    last = number
        finally:
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
