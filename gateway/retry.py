"""How the gateway retries InfluxDB and its broker (the waits follow `plantroom.backoff`)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from plantroom.backoff import Backoff


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the gateway waits between attempts.

    `first_s` doubles per failure up to `max_s`, with the jitter of `plantroom.backoff`, so
    replicas that lost InfluxDB together do not retry in step. `max_s` is short (5 s) because
    a gateway's peers are few (its InfluxDB, its broker) and a probe costs them nothing: the
    live view in Grafana is back within seconds of InfluxDB's return, not half a minute later.
    `direct_attempts` is how many times a fresh batch is tried before it is spilled to the
    disk buffer.
    """

    first_s: float = 0.2
    max_s: float = 5.0
    direct_attempts: int = 3

    def __post_init__(self) -> None:
        if self.first_s <= 0 or self.max_s < self.first_s:
            raise ValueError("RetryPolicy needs 0 < first_s <= max_s")
        if self.direct_attempts < 1:
            raise ValueError("RetryPolicy.direct_attempts must be at least 1")

    def backoff(self, rng: random.Random | None = None) -> Backoff:
        """A fresh run of waits under this policy."""
        return Backoff(self.first_s, self.max_s, rng=rng)
