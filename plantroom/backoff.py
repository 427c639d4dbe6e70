"""Jittered exponential backoff: the one rule every Plantroom process waits by.

After `failures` failures in a row the ceiling is `first_s · 2^failures`, capped at `max_s`,
and the wait is drawn uniformly from [ceiling/2, ceiling] ("equal jitter"). Half the ceiling
is a floor, so a process never hammers a peer that is down; the other half spreads the
retries of processes that lost the peer together, so they do not retry in step; the wait
never exceeds `max_s`, so a configured maximum is the longest anyone waits.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 32


def backoff_delay(
    failures: int, first_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """The wait after `failures` failures in a row (0 for the first retry's wait)."""
    ceiling = min(max_s, first_s * 2.0 ** min(max(failures, 0), _MAX_DOUBLINGS))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Backoff:
    """The waits of one run of failures: `next_delay()` per failure, `reset()` after a success."""

    def __init__(self, first_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if first_s <= 0 or max_s < first_s:
            raise ValueError(f"Backoff needs 0 < first_s <= max_s, got {first_s} and {max_s}")
        self.first_s = first_s
        self.max_s = max_s
        self._rng = rng  # None: the module's generator (seeding one per instance costs ~10 µs)
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures

    def next_delay(self) -> float:
        delay = backoff_delay(self._failures, self.first_s, self.max_s, self._rng)
        self._failures += 1
        return delay

    def reset(self) -> None:
        self._failures = 0
