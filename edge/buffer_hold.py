"""The samples the edge buffer holds in memory while its disk is full.

When SQLite reports the disk full, the open transaction is rolled back and its samples, and
every sample queued after it, wait here (at most `max_held`, with the same policy as on disk:
measurements make room, alarm/state samples never do) while each commit tries to store them
again. The condition is logged at ERROR once, counted (`disk_full_events`) and shown by
`SampleBuffer.stats()` (`disk_full`, `held`); once a commit succeeds the held samples are on
disk in their order and publishing goes on. A kill -9 while the disk is full loses the held
ones. Their seqs were taken when they were queued, so none is handed out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from edge.buffer_store import Row

log = logging.getLogger(__name__)

MAX_HELD = 10_000

OnDrop = Callable[[str, str, int], None]
"""Called for each sample dropped or refused: (counter, what happened, log level)."""


class HeldSamples:
    """Samples waiting in memory for room on disk, oldest first, bounded as on disk: the
    oldest held measurement makes room first; an alarm/state sample is never dropped for a
    measurement, and alarm/state samples alone may fill twice `max_held`."""

    def __init__(self, path: Path, max_held: int, on_drop: OnDrop) -> None:
        self.path = path
        self.max_held = max_held
        self._on_drop = on_drop
        self._rows: list[Row] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: Row) -> None:
        held = self._rows
        if len(held) >= self.max_held:
            oldest = next((i for i, r in enumerate(held) if not r[3]), None)
            if oldest is not None:
                del held[oldest]
                self._on_drop(
                    "dropped_measurements",
                    "disk full, dropped the oldest held measurement sample",
                    logging.WARNING,
                )
            elif not row[3]:
                self._on_drop(
                    "refused_measurements",
                    "disk full, only alarm/state samples held; refused a measurement sample",
                    logging.WARNING,
                )
                return
            elif len(held) >= 2 * self.max_held:
                del held[0]
                self._on_drop(
                    "dropped_keepers",
                    "disk full, held alarm/state samples reached the limit; dropped the oldest",
                    logging.ERROR,
                )
        held.append(row)

    def extend(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(row)

    def take(self) -> list[Row]:
        """Every held sample, oldest first; the hold is empty afterwards."""
        rows, self._rows = self._rows, []
        return rows

    def disk_full(self, exc: BaseException, events: int) -> None:
        """The disk has just filled up (the `events`-th time): logged at ERROR once."""
        log.error(
            "buffer %s: %s; holding samples in memory (up to %d) until the disk has room "
            "(%d such events so far)",
            self.path,
            exc,
            self.max_held,
            events,
        )

    def disk_has_room(self) -> None:
        log.warning("buffer %s: the disk has room again; held samples stored", self.path)

    def closing(self) -> None:
        """The buffer closes; what is still held is lost."""
        if self._rows:
            log.error(
                "buffer %s closed on a full disk: %d held samples lost", self.path, len(self._rows)
            )
