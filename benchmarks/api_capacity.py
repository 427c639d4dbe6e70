"""The API benchmark's arithmetic: one run's figures, the search for the capacity (the highest
rate served within the target), and how soon the answers are back to normal after overload."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.api_load import Sample
from benchmarks.measure import percentile


@dataclass(frozen=True, slots=True)
class Figures:
    """What one rate's requests (of one phase) came to: `served` are answered 200, `shed`
    503, `errors` anything else (by what); latencies are of the served."""

    rate: float
    requests: int
    served: int
    shed: int
    errors: dict[str, int] = field(default_factory=dict)
    p50: float = math.nan
    p90: float = math.nan
    p99: float = math.nan
    max: float = math.nan

    @property
    def shed_share(self) -> float:
        return self.shed / self.requests if self.requests else 0.0

    def met(self, target_ms: float, max_shed: float) -> bool:
        """Served within the target: p99 at most `target_ms`, at most `max_shed` of the
        requests answered 503, and no other failure."""
        return (
            self.served > 0
            and self.p99 <= target_ms
            and self.shed_share <= max_shed
            and not self.errors
        )


def figures(samples: Sequence[Sample], rate: float) -> Figures:
    served = [s.ms for s in samples if s.served]
    errors: dict[str, int] = {}
    for s in samples:
        if not s.served and not s.shed:
            errors[s.what] = errors.get(s.what, 0) + 1
    shed = sum(s.shed for s in samples)
    if not served:
        return Figures(rate, len(samples), 0, shed, errors)
    return Figures(
        rate,
        len(samples),
        len(served),
        shed,
        errors,
        percentile(served, 50),
        percentile(served, 90),
        percentile(served, 99),
        max(served),
    )


@dataclass(slots=True)
class Search:
    """The capacity, by steps: from `first` up by `growth` until a step misses (down by it
    while none has met), then halving the gap between the highest met and the lowest missed
    until they are within `precision` of each other; `max_steps` at most. A step that misses
    is run once more at its rate before it counts as missed: a step is a few seconds, and a
    few slow requests in it (a database checkpoint, the machine's other work) are not the
    rate's doing."""

    first: float
    growth: float
    precision: float
    max_steps: int
    met: float | None = None  # the highest rate that met the target
    missed: float | None = None  # the lowest rate that missed it
    steps: int = 0
    again: float | None = None  # a rate that missed once, to be run once more
    retried: set[float] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.first <= 0 or self.growth <= 1 or self.precision <= 1 or self.max_steps < 1:
            raise ValueError(
                f"search: first > 0, growth > 1, precision > 1, max_steps ≥ 1; got {self.first}, "
                f"{self.growth}, {self.precision}, {self.max_steps}"
            )

    def next_rate(self) -> float | None:
        """The rate of the next step; None when the search is done."""
        if self.steps >= self.max_steps:
            return None
        if self.again is not None:
            return self.again
        if self.missed is None:
            return self.first if self.met is None else self.met * self.growth
        if self.met is None:
            return self.missed / self.growth
        if self.missed / self.met <= self.precision:
            return None
        return (self.met + self.missed) / 2

    def record(self, rate: float, met: bool) -> None:
        self.steps += 1
        self.again = None
        if met:
            self.met = rate if self.met is None else max(self.met, rate)
        elif rate not in self.retried:
            self.retried.add(rate)
            self.again = rate
        else:
            self.missed = rate if self.missed is None else min(self.missed, rate)


@dataclass(frozen=True, slots=True)
class Recovery:
    """After the load dropped: how many requests were not served within the target (shed,
    failed or late), and when the last of them was due, in seconds after the drop (0 when
    none was); `settled` is False when that was among the phase's last requests, so the
    phase ended before the answers were back to normal."""

    bad: int
    last_bad_s: float
    settled: bool


def recovery(samples: Sequence[Sample], target_ms: float, tail: int = 10) -> Recovery:
    """`samples` of the phase after the drop, in the order they were due."""
    ordered = sorted(samples, key=lambda s: s.due_s)
    bad = [n for n, s in enumerate(ordered) if not (s.served and s.ms <= target_ms)]
    if not bad:
        return Recovery(0, 0.0, True)
    last = bad[-1]
    return Recovery(len(bad), ordered[last].due_s, last < len(ordered) - tail)
