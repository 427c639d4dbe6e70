"""Rate limits of the public report form, per client address and per place (the equipment,
by site and id, or the building a location code names).

In-process: each API process counts on its own (several workers each allow the limit), and
the counts start again on restart. A sliding window of the last `window_s` seconds per key,
in a bounded table (the keys least recently used are forgotten first)."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from datetime import datetime

MAX_KEYS = 10_000  # addresses and locations remembered at most, per limiter


class SlidingWindow:
    """At most `limit` hits per key within any `window_s` seconds."""

    def __init__(self, limit: int, window_s: float, *, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str, now: datetime) -> int:
        """Seconds until `key` may be hit again; 0 when it may be now (nothing counted)."""
        t = now.timestamp()
        with self._lock:
            hits = self._recent(key, t)
            if len(hits) < self.limit:
                return 0
            return max(1, math.ceil(hits[0] + self.window_s - t))

    def hit(self, key: str, now: datetime) -> None:
        t = now.timestamp()
        with self._lock:
            self._recent(key, t).append(t)
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)

    def _recent(self, key: str, t: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        while hits and hits[0] <= t - self.window_s:
            hits.popleft()
        return hits


class ReportLimits:
    """Both limits of the public form; `check` answers the wait in seconds (0: go ahead)."""

    def __init__(self, *, per_address: int, per_location: int, window_s: float) -> None:
        self.address = SlidingWindow(per_address, window_s)
        self.location = SlidingWindow(per_location, window_s)

    def check(self, address: str, location: str, now: datetime) -> tuple[int, str | None]:
        """(seconds to wait, which limit: address or location), or (0, None) when a report
        may go ahead; nothing is counted until `record`."""
        for limiter, name, key in (
            (self.address, "address", address),
            (self.location, "location", location.lower()),
        ):
            wait = limiter.wait(key, now)
            if wait:
                return wait, name
        return 0, None

    def record(self, address: str, location: str, now: datetime) -> None:
        """Count a report taken in against both limits."""
        self.address.hit(address, now)
        self.location.hit(location.lower(), now)
