"""Conditions over a window of a point's history: rate of change, counter increase and
least-squares trend (`cloud.rules.conditions` has the language they belong to)."""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field, model_validator

from cloud.rules.base import ConditionBase, Context, Duration, PointName, as_number


def value_at(samples: Sequence[tuple[float, float]], at: float) -> tuple[float, float] | None:
    """The sample in force at `at` (the newest one not after it), or None."""
    found = None
    for sample in samples:
        if sample[0] > at:
            break
        found = sample
    return found


RESET_FRACTION = 1 / 8  # a counter that falls to at most this share of its value was reset


def rise(previous: float, value: float) -> float:
    """How much a counter rose from `previous` to `value`.

    A fall to near zero, at most `RESET_FRACTION` of the value before it, is a reset (cleared
    at the panel, a controller restarted, a register wrapped round): the counter counted up
    again from zero, so the new value is its rise. Any other fall adds nothing and the count
    goes on from the new value: a controller replaced by one whose counter reads lower, or a
    count restored from an older save, has not just started thousands of times."""
    if value >= previous:
        return value - previous
    return value if 0 <= value <= previous * RESET_FRACTION else 0.0


class CounterSamples(deque[tuple[float, float]]):
    """A counter's samples, oldest first, with beside each the counter's rise since the first
    one (`rises`), so that its increase over a window is one subtraction, not a pass over
    every sample of the window. Kept in step by `append`, `pop` and `popleft`, the only
    changes the engine makes (it replaces the newest sample by popping it); `Increase` makes
    the pass when they are not in step. Samples must come in time order."""

    __slots__ = ("rises",)

    def __init__(self, maxlen: int) -> None:
        super().__init__(maxlen=maxlen)
        self.rises: deque[float] = deque(maxlen=maxlen)

    def append(self, sample: tuple[float, float], /) -> None:
        self.rises.append(self.rises[-1] + rise(self[-1][1], sample[1]) if self else 0.0)
        super().append(sample)

    def popleft(self) -> tuple[float, float]:
        if self.rises:
            self.rises.popleft()
        return super().popleft()

    def pop(self) -> tuple[float, float]:  # type: ignore[override]  # as typeshed's deque.pop
        if self.rises:
            self.rises.pop()
        return super().pop()


def _time(sample: tuple[float, float]) -> float:
    return sample[0]


class OverWindow(ConditionBase):
    """A condition on one point's history over `window` seconds, which can therefore change
    with time alone, without new telemetry."""

    point: PointName
    window: Duration

    def history_points(self) -> dict[str, float]:
        return {self.point: self.window}

    def time_dependent(self) -> bool:
        return True

    def steady_until(self, ctx: Context) -> float:
        """When the window's start next passes a sample (`inf` when none is left ahead of it):
        until then the samples the condition reads, and so its result, stay the same (an
        increase, whether the window is covered, a trend's fit; a rate is the exception). The
        engine trims a window down to the sample in force at its start, so the first sample
        at or after the start is one of the first two; where another rule keeps a longer
        window of the same point, it is searched for."""
        samples = ctx.history.get(self.point, ())
        start = ctx.now - self.window
        for sample in itertools.islice(samples, 2):
            if sample[0] >= start:
                return sample[0] + self.window
        if len(samples) <= 2:
            return math.inf
        ahead = bisect_left(samples, start, key=_time)
        return samples[ahead][0] + self.window if ahead < len(samples) else math.inf

    def _check(
        self, above: float | None, below: float | None, key: str, per: float | None = None
    ) -> None:
        """Exactly one of `<key>_above` and `<key>_below`; the window (and `per`) above zero."""
        if (above is None) == (below is None):
            raise ValueError(f"give exactly one of `{key}_above` or `{key}_below`")
        if per is None:
            if self.window <= 0:
                raise ValueError("`window` must be more than zero")
        elif self.window <= 0 or per <= 0:
            raise ValueError("`window` and `per` must be more than zero")


class Rate(OverWindow):
    """Rate of change over a window: `{point: sump_level, rate_above: 5, per: 1m, window: 5m}`.

    The rate is (value now - value at the window's start) / window, scaled to `per`. Values
    hold until they change (report by exception). Until the history covers half the window
    the rate is unknown.
    """

    tag: ClassVar[str] = "rate"
    rate_above: float | None = None
    rate_below: float | None = None
    per: Duration = 60.0
    window: Duration = 300.0

    @model_validator(mode="after")
    def _one_side(self) -> Rate:
        self._check(self.rate_above, self.rate_below, "rate", self.per)
        return self

    def steady_until(self, ctx: Context) -> float:
        """Judged at every tick: the span the rate is taken over grows with the clock."""
        return ctx.now

    def rate(self, ctx: Context) -> float | None:
        now_value = as_number(ctx.values.get(self.point))
        samples = ctx.history.get(self.point, ())
        if now_value is None or not samples:
            return None
        start = ctx.now - self.window
        base = value_at(samples, start)
        if base is None:
            base = samples[0]
            if ctx.now - base[0] < self.window / 2:
                return None
        span = ctx.now - max(base[0], start)
        if span <= 0:
            return None
        return (now_value - base[1]) / span * self.per

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        rate = self.rate(ctx)
        if rate is None:
            return None
        if self.rate_above is not None:
            return rate > self.rate_above
        assert self.rate_below is not None
        return rate < self.rate_below


class Increase(OverWindow):
    """Counter delta over a window: `{point: starts, increase_above: 12, window: 1h}`, or a
    counter that hardly moved: `{point: trips, increase_below: 1, window: 5m}`.

    A counter reset (a fall to near zero, see `rise`) counts the new value as increase from
    zero; any other fall counts nothing. A partial window that already passed
    `increase_above` fires (and one that already reached `increase_below` is false);
    otherwise the result is unknown until the history covers the whole window.
    """

    tag: ClassVar[str] = "increase"
    increase_above: float | None = None
    increase_below: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Increase:
        self._check(self.increase_above, self.increase_below, "increase")
        return self

    def counter_points(self) -> frozenset[str]:
        return frozenset({self.point})

    def increase(self, ctx: Context) -> tuple[float, bool] | None:
        """The increase seen in the window, and whether the history covers all of it."""
        samples = ctx.history.get(self.point, ())
        if not samples:
            return None
        start = ctx.now - self.window
        if isinstance(samples, CounterSamples) and len(samples.rises) == len(samples):
            if len(samples) < 2 or samples[1][0] > start:  # as the engine trims it: no search
                base_index = 0 if samples[0][0] <= start else -1
            else:
                base_index = bisect_right(samples, start, key=_time) - 1  # the sample in force
            rises = samples.rises
            return rises[-1] - rises[max(base_index, 0)], base_index >= 0
        base = value_at(samples, start)
        covered = base is not None
        previous = base[1] if base is not None else samples[0][1]
        total = 0.0
        for at, value in samples:
            if at <= start:
                continue
            total += rise(previous, value)
            previous = value
        return total, covered

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        seen = self.increase(ctx)
        if seen is None:
            return None
        total, covered = seen
        if self.increase_above is not None:
            if total > self.increase_above:
                return True
            return False if covered else None
        assert self.increase_below is not None
        if total >= self.increase_below:
            return False
        return True if covered else None


class Trend(OverWindow):
    """A least-squares trend over a window: `{point: vibration, trend_above: 0.3, per: 1d,
    window: 2d, ignore_below: 0.5}`.

    The slope of a straight line fitted to the samples of the window, scaled to `per`.
    Samples below `ignore_below` are left out (a stopped pump's vibration says nothing about
    its bearings), and while the value now is below it the trend is unknown. The trend is
    unknown until at least `min_samples` samples span half the window.
    """

    tag: ClassVar[str] = "trend"
    trend_above: float | None = None
    trend_below: float | None = None
    per: Duration = 3600.0
    ignore_below: float | None = None
    min_samples: int = Field(default=10, ge=3, le=10_000)

    @model_validator(mode="after")
    def _one_side(self) -> Trend:
        self._check(self.trend_above, self.trend_below, "trend", self.per)
        return self

    def slope(self, ctx: Context) -> float | None:
        now_value = as_number(ctx.values.get(self.point))
        if now_value is None:
            return None
        floor = self.ignore_below
        if floor is not None and now_value < floor:
            return None
        start = ctx.now - self.window
        points = [
            (at, value)
            for at, value in ctx.history.get(self.point, ())
            if at >= start and (floor is None or value >= floor)
        ]
        if len(points) < self.min_samples or points[-1][0] - points[0][0] < self.window / 2:
            return None
        n = len(points)
        mean_t = sum(at for at, _ in points) / n
        mean_v = sum(value for _, value in points) / n
        var_t = sum((at - mean_t) ** 2 for at, _ in points)
        if var_t <= 0:
            return None
        cov = sum((at - mean_t) * (value - mean_v) for at, value in points)
        return cov / var_t * self.per

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        slope = self.slope(ctx)
        if slope is None:
            return None
        if self.trend_above is not None:
            return slope > self.trend_above
        assert self.trend_below is not None
        return slope < self.trend_below
