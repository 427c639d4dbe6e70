"""When a device is polled: the arithmetic of one device's poll schedule, without I/O.

A profile point's poll class is `fast` (every poll interval), `normal` (`normal_every` times
that) or `slow` (`slow_every` times that). A device's **cycle** is the interval of the fastest
class its profile uses. Each device starts at a random offset within its cycle (`offset`),
so devices on one link do not poll in lock-step. A poll reads every class due within half a
cycle of its start, so classes that fall due close together share one poll.

A poll is **on schedule** when it starts no later than `ON_SCHEDULE_TOLERANCE` (10 %) of the
cycle after its due time (`lateness` ≤ `tolerance`). When a poll finishes after the
on-schedule window of a class's next due time has closed, those due times are skipped, not
caught up: the class is next due at the first due time whose window is still open, and the
skipped due times of the cycle's class are counted. While a device is offline every class is
due at the retry time the caller chose (`retry_at`), and nothing counts as skipped.

Times are plain numbers of seconds on any monotonic clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from plantroom.profiles import Poll

ON_SCHEDULE_TOLERANCE = 0.1


def class_intervals(fast_s: float, normal_every: int, slow_every: int) -> dict[Poll, float]:
    """The interval of each poll class: the fast interval and its multiples."""
    return {Poll.FAST: fast_s, Poll.NORMAL: fast_s * normal_every, Poll.SLOW: fast_s * slow_every}


class PollSchedule:
    """The due times of one device's poll classes.

    `planned` is the due time of the next poll: the earliest due time of any class.
    """

    __slots__ = ("classes", "cycle", "cycle_class", "intervals", "next_due", "planned", "tolerance")

    def __init__(self, intervals: Mapping[Poll, float], classes: Iterable[Poll]) -> None:
        wanted = set(classes)
        present = tuple(c for c in Poll if c in wanted)
        if not present:
            raise ValueError("a poll schedule needs at least one poll class")
        bad = [c.value for c in present if not intervals[c] > 0]
        if bad:
            raise ValueError(f"poll intervals must be > 0 (poll class {', '.join(bad)})")
        self.classes = present
        self.intervals = {c: intervals[c] for c in present}
        self.cycle_class = min(present, key=self.intervals.__getitem__)
        self.cycle = self.intervals[self.cycle_class]
        self.tolerance = self.cycle * ON_SCHEDULE_TOLERANCE
        self.next_due = dict.fromkeys(present, 0.0)
        self.planned = 0.0

    def offset(self, rng: random.Random) -> float:
        """Where in its cycle the device's first poll falls: 0 .. one cycle, at random."""
        return rng.uniform(0, self.cycle)

    def start(self, now: float) -> None:
        """Every class is due at `now` (the first poll)."""
        self.retry_at(now)

    def due(self, now: float, *, retrying: bool = False) -> tuple[Poll, ...]:
        """The classes a poll starting at `now` reads: those due within half a cycle (every
        class when `retrying` an offline device)."""
        if retrying:
            return self.classes
        early = self.cycle / 2
        return tuple(c for c in self.classes if now >= self.next_due[c] - early)

    def lateness(self, started: float) -> float:
        """How long after its due time a poll started at `started` (negative: early)."""
        return started - self.planned

    def polled(self, due: Iterable[Poll], finished: float) -> int:
        """Move the classes just polled to their next due time whose on-schedule window is
        still open at `finished`; return how many due times of the cycle were skipped."""
        skipped = 0
        tolerance = self.tolerance
        for c in due:
            interval = self.intervals[c]
            nd = self.next_due[c] + interval
            if nd + tolerance < finished:  # overran: skip ticks whose window closed
                missed = int((finished - tolerance - nd) // interval) + 1
                nd += missed * interval
                if c is self.cycle_class:
                    skipped += missed
            self.next_due[c] = nd
        self.planned = min(self.next_due.values())
        return skipped

    def retry_at(self, at: float) -> None:
        """Every class is due at `at` (an offline device's next attempt)."""
        self.planned = at
        for c in self.classes:
            self.next_due[c] = at
