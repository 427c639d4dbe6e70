"""Jittered exponential backoff, shared by the InfluxDB writer and the MQTT connection."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the gateway waits between attempts.

    `first_s` doubles per failure up to `max_s`; each wait is drawn uniformly from
    [wait/2, wait] ("equal jitter") so replicas that lost InfluxDB together do not retry in
    step. `max_s` is short (5 s) because a gateway's peers are few (its InfluxDB, its broker)
    and a probe costs them nothing: the live view in Grafana is back within seconds of
    InfluxDB's return, not half a minute later. `direct_attempts` is how many times a fresh
    batch is tried before it is spilled to the disk buffer.
    """

    first_s: float = 0.2
    max_s: float = 5.0
    direct_attempts: int = 3

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.max_s < self.first_s:
            raise ValueError("RetryPolicy needs 0 < first_s <= max_s")
        if self.direct_attempts < 1:
            raise ValueError("RetryPolicy.direct_attempts must be at least 1")


class Backoff:
    """The waits of one run of failures; `reset()` after a success."""

    def __init__(self, policy: RetryPolicy, rng: random.Random | None = None) -> None:
        self._policy = policy
        self._rng = rng or random.Random()
        self._failures = 0

    @property
    def failures(self) -> int:
        return self._failures

    def next_delay(self) -> float:
        ceiling = min(self._policy.max_s, self._policy.first_s * 2 ** min(self._failures, 30))
        self._failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self._failures = 0
