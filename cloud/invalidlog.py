"""The cloud's log of invalid telemetry: a warning per topic at most once a minute (a broken
device sending every second must not flood the log), the rest at debug level; the topics
remembered are bounded."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("cloud.ingest")

MAX_TOPICS = 1000
INTERVAL_S = 60.0


class InvalidLog:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        interval_s: float = INTERVAL_S,
        max_topics: int = MAX_TOPICS,
    ) -> None:
        self._clock = clock
        self._interval_s = interval_s
        self._max_topics = max_topics
        self._logged: dict[str, float] = {}  # topic → when it was last warned of

    def note(self, topic: str, reason: str, invalid: int) -> None:
        """Log that a message on `topic` was invalid for `reason` (`invalid` so far)."""
        now = self._clock()
        last = self._logged.get(topic)
        if last is not None and now - last < self._interval_s:
            log.debug("invalid message on %s: %s", topic, reason)
            return
        if last is None and len(self._logged) >= self._max_topics:
            self._logged.clear()
        self._logged[topic] = now
        log.warning("invalid message on %s: %s (%d invalid so far)", topic, reason, invalid)
