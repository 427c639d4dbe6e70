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
the point has not reported, is not available, or is of the wrong type; a point the
equipment's profile does not provide at all is absent, pruned first: see `cloud.rules.absent`).
A rule does not change state on None. Every condition is evaluated in one of two modes:
`active=False` asks "should the alarm raise?", `active=True` asks "does the alarm still
hold?" — which is where hysteresis lives.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator

from cloud.rules.base import (
    ConditionBase,
    Context,
    Duration,
    PointName,
    Scalar,
    as_flag,
    as_number,
    soonest,
)
from cloud.rules.windowed import Increase, Rate, Trend


class PointIs(ConditionBase):
    """An alarm bit or boolean state: `{point: dry_run, is: true}`."""

    tag: ClassVar[str] = "is"
    point: PointName
    is_: bool = Field(alias="is")

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        flag = as_flag(ctx.values.get(self.point))
        return None if flag is None else flag == self.is_


class Threshold(ConditionBase):
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
        value = as_number(ctx.values.get(self.point))
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


class State(ConditionBase):
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


_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)\Z")
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


class Between(ConditionBase):
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

    def steady_until(self, ctx: Context) -> float:
        """The next minute of the site's clock: the window starts and ends on whole minutes."""
        local = datetime.fromtimestamp(ctx.now, ctx.timezone)
        return ctx.now - local.second - local.microsecond / 1e6 + 60.0

    @cached_property
    def minutes(self) -> tuple[int, int]:
        """The window's start and end, in minutes of the day."""
        return _minutes(self.between[0]), _minutes(self.between[1])

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        local = datetime.fromtimestamp(ctx.now, ctx.timezone)
        minute = local.hour * 60 + local.minute
        start, end = self.minutes
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


class Stale(ConditionBase):
    """No telemetry at all for a while: `{stale: 5m}`."""

    tag: ClassVar[str] = "stale"
    stale: Duration

    def time_dependent(self) -> bool:
        return True

    def steady_until(self, ctx: Context) -> float:
        """Fresh until `stale` after the last telemetry; never seen, nothing to judge until a
        sample comes (which judges it)."""
        return math.inf if ctx.last_seen is None else ctx.last_seen + self.stale

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        if ctx.last_seen is None:
            return None
        return ctx.now - ctx.last_seen > self.stale


EquipmentStatusName = Literal["online", "offline", "stale"]


class Status(ConditionBase):
    """Lost communication, as the edge reports it: `{status: offline}`."""

    tag: ClassVar[str] = "status"
    status: EquipmentStatusName | list[EquipmentStatusName]

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        if ctx.status not in ("online", "offline", "stale"):
            return None
        wanted = [self.status] if isinstance(self.status, str) else self.status
        return ctx.status in wanted


class AnyOf(ConditionBase):
    tag: ClassVar[str] = "any"
    any: list[Condition] = Field(min_length=1)

    @cached_property
    def in_order(self) -> tuple[ConditionBase, ...]:
        """The parts in the order they are judged (`cheap_first`)."""
        return cheap_first(self.any)

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        return _until(self.in_order, ctx, active, decisive=True)

    def points(self) -> frozenset[str]:
        return frozenset().union(*(c.points() for c in self.any))

    def history_points(self) -> dict[str, float]:
        return _merge_windows(self.any)

    def counter_points(self) -> frozenset[str]:
        return frozenset().union(*(c.counter_points() for c in self.any))

    def time_dependent(self) -> bool:
        return any(c.time_dependent() for c in self.any)

    @cached_property
    def timed(self) -> tuple[ConditionBase, ...]:
        return tuple(c for c in self.any if c.time_dependent())

    def steady_until(self, ctx: Context) -> float:
        return soonest(self.timed, ctx)


class AllOf(ConditionBase):
    tag: ClassVar[str] = "all"
    all: list[Condition] = Field(min_length=1)

    @cached_property
    def in_order(self) -> tuple[ConditionBase, ...]:
        """The parts in the order they are judged (`cheap_first`)."""
        return cheap_first(self.all)

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        return _until(self.in_order, ctx, active, decisive=False)

    def points(self) -> frozenset[str]:
        return frozenset().union(*(c.points() for c in self.all))

    def history_points(self) -> dict[str, float]:
        return _merge_windows(self.all)

    def counter_points(self) -> frozenset[str]:
        return frozenset().union(*(c.counter_points() for c in self.all))

    def time_dependent(self) -> bool:
        return any(c.time_dependent() for c in self.all)

    @cached_property
    def timed(self) -> tuple[ConditionBase, ...]:
        return tuple(c for c in self.all if c.time_dependent())

    def steady_until(self, ctx: Context) -> float:
        return soonest(self.timed, ctx)


def _until(
    parts: Sequence[ConditionBase], ctx: Context, active: bool, *, decisive: bool
) -> bool | None:
    """Judge `parts` in turn until one answers `decisive` (true for an `any`, false for an
    `all`), which is the answer; if none does: unknown if one was, else `not decisive`."""
    unknown = False
    for part in parts:
        result = part.evaluate(ctx, active)
        if result is decisive:
            return decisive
        if result is None:
            unknown = True
    return None if unknown else not decisive


def cheap_first(conditions: Sequence[ConditionBase]) -> tuple[ConditionBase, ...]:
    """The order `any` and `all` judge their parts in: those that read only values first,
    those that scan a window of history last, so that a part that decides the whole (a true
    one in an `any`, a false one in an `all`) spares the scans. The result is the same in
    any order: judging has no side effects."""
    return tuple(sorted(conditions, key=lambda c: bool(c.history_points())))


def _merge_windows(conditions: Sequence[ConditionBase]) -> dict[str, float]:
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
    if isinstance(value, ConditionBase):
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
