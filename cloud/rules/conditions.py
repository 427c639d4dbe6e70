"""The condition language of fault rules.

A condition is a small mapping; the key it carries says what it is:

    {point: dry_run, is: true}                          alarm bit / boolean state
    {point: discharge_pressure, above: 6.5, clear_below: 6.0}   threshold with hysteresis
    {point: discharge_pressure, below: 1.0, clear_above: 1.5}
    {point: run_state, equals: fault}                   one state
    {point: panel_state, in: [fire, fault]}             one of several states
    {point: alarm_code, not_in: [none, dry_run]}        any state but these
    {point: sump_level, rate_above: 5, per: 1m, window: 5m}     rate of change
    {point: vibration, trend_above: 0.3, per: 1d, window: 2d}   least-squares trend
    {point: starts, increase_above: 12, window: 1h}     counter delta over a window
    {point: trips, increase_below: 1, window: 5m}       counter that did not move
    {between: ["09:00", "16:00"]}                       site local time of day
    {stale: 5m}                                         no telemetry for that long
    {status: offline}  /  {status: [offline, stale]}    lost communication
    {any: [<condition>, ...]}  /  {all: [<condition>, ...]}

Evaluation is three-valued: True (the fault is there), False (it is not) or None (cannot tell:
the point is missing, not available, or of the wrong type). A rule does not change state on
None. Every condition is evaluated in one of two modes: `active=False` asks "should the alarm
raise?", `active=True` asks "does the alarm still hold?" — which is where hysteresis lives.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

Scalar = bool | int | float | str | None
PointName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `250ms`, `5m`, `1h30m`, `2d`. Negative durations are refused."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 30s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(
                f"{value!r} is not a duration; write e.g. 30s, 5m, 1h30m, 2d or a number of seconds"
            )
    else:
        raise ValueError("a duration is a number of seconds or a text like 30s, 5m, 1h")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration {value!r} must be zero or more")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


@dataclass(frozen=True, slots=True)
class Context:
    """What a condition may look at: one piece of equipment, now."""

    now: float
    values: Mapping[str, Scalar]
    last_seen: float | None
    status: str
    # point → (time, value) samples, oldest first; a value holds until the next sample
    history: Mapping[str, Sequence[tuple[float, float]]]
    timezone: tzinfo = UTC  # the site's, for time-of-day conditions


def _number(value: Scalar) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _flag(value: Scalar) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


class _Condition(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    tag: ClassVar[str]

    @abstractmethod
    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        """True: the fault is there; False: it is not; None: cannot tell."""

    def points(self) -> frozenset[str]:
        """The points this condition reads."""
        point = getattr(self, "point", None)
        return frozenset({point}) if isinstance(point, str) else frozenset()

    def history_points(self) -> dict[str, float]:
        """Points whose history this condition needs, with the window it needs."""
        return {}

    def counter_points(self) -> frozenset[str]:
        """History points read as counters: a fall is a reset and must not be smoothed away."""
        return frozenset()

    def time_dependent(self) -> bool:
        """True if the result can change with time alone, without new telemetry."""
        return False


class PointIs(_Condition):
    """An alarm bit or boolean state: `{point: dry_run, is: true}`."""

    tag: ClassVar[str] = "is"
    point: PointName
    is_: bool = Field(alias="is")

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        flag = _flag(ctx.values.get(self.point))
        return None if flag is None else flag == self.is_


class Threshold(_Condition):
    """`above` (clears below `clear_below`, default `above`) or `below` (clears above
    `clear_above`, default `below`)."""

    tag: ClassVar[str] = "threshold"
    point: PointName
    above: float | None = None
    below: float | None = None
    clear_below: float | None = None
    clear_above: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        if self.above is not None:
            if self.clear_above is not None:
                raise ValueError("`clear_above` goes with `below`; with `above` use `clear_below`")
            if self.clear_below is not None and self.clear_below > self.above:
                raise ValueError(
                    f"clear_below ({self.clear_below}) must not be more than above ({self.above})"
                )
        if self.below is not None:
            if self.clear_below is not None:
                raise ValueError("`clear_below` goes with `above`; with `below` use `clear_above`")
            if self.clear_above is not None and self.clear_above < self.below:
                raise ValueError(
                    f"clear_above ({self.clear_above}) must not be less than below ({self.below})"
                )
        return self

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        value = _number(ctx.values.get(self.point))
        if value is None:
            return None
        if self.above is not None:
            if active and self.clear_below is not None:
                return value >= self.clear_below
            return value > self.above
        assert self.below is not None
        if active and self.clear_above is not None:
            return value <= self.clear_above
        return value < self.below


class State(_Condition):
    """`{point: run_state, equals: fault}`, `{point: panel_state, in: [fire, fault]}` or
    `{point: alarm_code, not_in: [none, dry_run]}` (any value but those, e.g. a code the
    library has no rule of its own for)."""

    tag: ClassVar[str] = "state"
    point: PointName
    equals: bool | int | float | str | None = None
    in_: list[bool | int | float | str] | None = Field(default=None, alias="in", min_length=1)
    not_in: list[bool | int | float | str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> State:
        given = [self.equals is not None, self.in_ is not None, self.not_in is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of `equals`, `in` or `not_in`")
        return self

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        value = ctx.values.get(self.point)
        if value is None:
            return None
        if self.not_in is not None:
            return not _matches(value, self.not_in)
        wanted = [self.equals] if self.in_ is None else self.in_
        return _matches(value, wanted)


def _matches(value: Scalar, wanted: Sequence[bool | int | float | str | None]) -> bool:
    return any(value == w and isinstance(value, bool) == isinstance(w, bool) for w in wanted)


def _value_at(samples: Sequence[tuple[float, float]], at: float) -> tuple[float, float] | None:
    """The sample in force at `at` (the newest one not after it), or None."""
    found = None
    for sample in samples:
        if sample[0] > at:
            break
        found = sample
    return found


class Rate(_Condition):
    """Rate of change over a window: `{point: sump_level, rate_above: 5, per: 1m, window: 5m}`.

    The rate is (value now - value at the window's start) / window, scaled to `per`. Values
    hold until they change (report by exception). Until the history covers half the window
    the rate is unknown.
    """

    tag: ClassVar[str] = "rate"
    point: PointName
    rate_above: float | None = None
    rate_below: float | None = None
    per: Duration = 60.0
    window: Duration = 300.0

    @model_validator(mode="after")
    def _one_side(self) -> Rate:
        if (self.rate_above is None) == (self.rate_below is None):
            raise ValueError("give exactly one of `rate_above` or `rate_below`")
        if self.window <= 0 or self.per <= 0:
            raise ValueError("`window` and `per` must be more than zero")
        return self

    def history_points(self) -> dict[str, float]:
        return {self.point: self.window}

    def time_dependent(self) -> bool:
        return True

    def rate(self, ctx: Context) -> float | None:
        now_value = _number(ctx.values.get(self.point))
        samples = ctx.history.get(self.point, ())
        if now_value is None or not samples:
            return None
        start = ctx.now - self.window
        base = _value_at(samples, start)
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


class Increase(_Condition):
    """Counter delta over a window: `{point: starts, increase_above: 12, window: 1h}`, or a
    counter that hardly moved: `{point: trips, increase_below: 1, window: 5m}`.

    Counter resets (the value going down) count the new value as increase from zero. A
    partial window that already passed `increase_above` fires (and one that already reached
    `increase_below` is false); otherwise the result is unknown until the history covers the
    whole window.
    """

    tag: ClassVar[str] = "increase"
    point: PointName
    increase_above: float | None = None
    increase_below: float | None = None
    window: Duration

    @model_validator(mode="after")
    def _window(self) -> Increase:
        if (self.increase_above is None) == (self.increase_below is None):
            raise ValueError("give exactly one of `increase_above` or `increase_below`")
        if self.window <= 0:
            raise ValueError("`window` must be more than zero")
        return self

    def history_points(self) -> dict[str, float]:
        return {self.point: self.window}

    def counter_points(self) -> frozenset[str]:
        return frozenset({self.point})

    def time_dependent(self) -> bool:
        return True

    def increase(self, ctx: Context) -> tuple[float, bool] | None:
        """The increase seen in the window, and whether the history covers all of it."""
        samples = ctx.history.get(self.point, ())
        if not samples:
            return None
        start = ctx.now - self.window
        base = _value_at(samples, start)
        covered = base is not None
        previous = base[1] if base is not None else samples[0][1]
        total = 0.0
        for at, value in samples:
            if at <= start:
                continue
            total += value - previous if value >= previous else value
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


class Trend(_Condition):
    """A least-squares trend over a window: `{point: vibration, trend_above: 0.3, per: 1d,
    window: 2d, ignore_below: 0.5}`.

    The slope of a straight line fitted to the samples of the window, scaled to `per`.
    Samples below `ignore_below` are left out (a stopped pump's vibration says nothing about
    its bearings), and while the value now is below it the trend is unknown. The trend is
    unknown until at least `min_samples` samples span half the window.
    """

    tag: ClassVar[str] = "trend"
    point: PointName
    trend_above: float | None = None
    trend_below: float | None = None
    per: Duration = 3600.0
    window: Duration
    ignore_below: float | None = None
    min_samples: int = Field(default=10, ge=3, le=10_000)

    @model_validator(mode="after")
    def _one_side(self) -> Trend:
        if (self.trend_above is None) == (self.trend_below is None):
            raise ValueError("give exactly one of `trend_above` or `trend_below`")
        if self.window <= 0 or self.per <= 0:
            raise ValueError("`window` and `per` must be more than zero")
        return self

    def history_points(self) -> dict[str, float]:
        return {self.point: self.window}

    def time_dependent(self) -> bool:
        return True

    def slope(self, ctx: Context) -> float | None:
        now_value = _number(ctx.values.get(self.point))
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


_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _minutes(text: Any) -> int:
    if not isinstance(text, str) or not _TIME_OF_DAY.match(text):
        raise ValueError(f"{text!r} is not a time of day; write HH:MM, e.g. 07:30")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _time_of_day(text: Any) -> str:
    _minutes(text)
    assert isinstance(text, str)
    return text


TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]


class Between(_Condition):
    """Site local time of day: `{between: ["19:00", "06:00"], days: [mon, tue]}`.

    True from the first time (included) to the second (excluded), across midnight when the
    second is earlier; `days` (optional) are the days the window starts on. Time comes from
    the engine's clock in the site's timezone (the inventory's `site.timezone`).
    """

    tag: ClassVar[str] = "between"
    between: tuple[TimeOfDay, TimeOfDay]
    days: list[Weekday] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _not_empty(self) -> Between:
        if self.between[0] == self.between[1]:
            raise ValueError("`between` needs two different times")
        return self

    def time_dependent(self) -> bool:
        return True

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        local = datetime.fromtimestamp(ctx.now, ctx.timezone)
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.between[0]), _minutes(self.between[1])
        day = local.weekday()
        if start < end:
            inside = start <= minute < end
        elif minute >= start:
            inside = True
        else:
            inside = minute < end
            day = (day - 1) % 7  # the window started the day before
        if inside and self.days is not None:
            return _WEEKDAYS[day] in self.days
        return inside


class Stale(_Condition):
    """No telemetry at all for a while: `{stale: 5m}`."""

    tag: ClassVar[str] = "stale"
    stale: Duration

    def time_dependent(self) -> bool:
        return True

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        if ctx.last_seen is None:
            return None
        return ctx.now - ctx.last_seen > self.stale


EquipmentStatusName = Literal["online", "offline", "stale"]


class Status(_Condition):
    """Lost communication, as the edge reports it: `{status: offline}`."""

    tag: ClassVar[str] = "status"
    status: EquipmentStatusName | list[EquipmentStatusName]

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        if ctx.status not in ("online", "offline", "stale"):
            return None
        wanted = [self.status] if isinstance(self.status, str) else self.status
        return ctx.status in wanted


class AnyOf(_Condition):
    tag: ClassVar[str] = "any"
    any: list[Condition] = Field(min_length=1)

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        results = [c.evaluate(ctx, active) for c in self.any]
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None

    def points(self) -> frozenset[str]:
        return frozenset().union(*(c.points() for c in self.any))

    def history_points(self) -> dict[str, float]:
        return _merge_windows(self.any)

    def counter_points(self) -> frozenset[str]:
        return frozenset().union(*(c.counter_points() for c in self.any))

    def time_dependent(self) -> bool:
        return any(c.time_dependent() for c in self.any)


class AllOf(_Condition):
    tag: ClassVar[str] = "all"
    all: list[Condition] = Field(min_length=1)

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        results = [c.evaluate(ctx, active) for c in self.all]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None

    def points(self) -> frozenset[str]:
        return frozenset().union(*(c.points() for c in self.all))

    def history_points(self) -> dict[str, float]:
        return _merge_windows(self.all)

    def counter_points(self) -> frozenset[str]:
        return frozenset().union(*(c.counter_points() for c in self.all))

    def time_dependent(self) -> bool:
        return any(c.time_dependent() for c in self.all)


def _merge_windows(conditions: Sequence[_Condition]) -> dict[str, float]:
    out: dict[str, float] = {}
    for condition in conditions:
        for point, window in condition.history_points().items():
            out[point] = max(window, out.get(point, 0.0))
    return out


# Which key makes a mapping which condition; checked in this order.
_KEYS: tuple[tuple[str, str], ...] = (
    ("any", "any"),
    ("all", "all"),
    ("stale", "stale"),
    ("status", "status"),
    ("is", "is"),
    ("above", "threshold"),
    ("below", "threshold"),
    ("between", "between"),
    ("equals", "state"),
    ("in", "state"),
    ("not_in", "state"),
    ("rate_above", "rate"),
    ("rate_below", "rate"),
    ("trend_above", "trend"),
    ("trend_below", "trend"),
    ("increase_above", "increase"),
    ("increase_below", "increase"),
)
CONDITION_KEYS = ", ".join(dict.fromkeys(k for k, _ in _KEYS))


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, _Condition):
        return value.tag
    if isinstance(value, dict):
        for key, tag in _KEYS:
            if key in value:
                return tag
    return None


Condition = Annotated[
    Annotated[PointIs, Tag("is")]
    | Annotated[Threshold, Tag("threshold")]
    | Annotated[State, Tag("state")]
    | Annotated[Rate, Tag("rate")]
    | Annotated[Increase, Tag("increase")]
    | Annotated[Trend, Tag("trend")]
    | Annotated[Between, Tag("between")]
    | Annotated[Stale, Tag("stale")]
    | Annotated[Status, Tag("status")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[AllOf, Tag("all")],
    Discriminator(
        _condition_tag,
        custom_error_type="unknown_condition",
        custom_error_message=f"a condition is a mapping with one of the keys: {CONDITION_KEYS}",
    ),
]

AnyOf.model_rebuild()
AllOf.model_rebuild()
