"""When a PM plan falls due: calendar arithmetic and counters, as pure functions.

Calendar due dates lie on a grid: `anchor + k * every` (k ≥ 0). A new plan's anchor is its
`start` (the first due date) or the day it is first applied (first due one interval later).
After a job is done, `schedule_from: completion` moves the anchor to the day it was done;
`plan` keeps the grid and takes its first date after the job's due date that is not before
the day it was done (cycles missed while a job stayed open are skipped, not raised late).
Fixed dates (`dates:`) are their own grid.

Meters count use from telemetry counters: each reading adds what the counter moved since the
last one. A counter that goes down was reset (the new value is the use since the reset), or,
when the plan gives its `rollover` and the fall is more than half of it, wrapped around.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from cloud.pm.model import EffectivePlan, FixedDate, Interval

MAX_GRID_STEPS = 100_000


def grid_next(
    anchor: date, every: Interval, *, after: date | None = None, not_before: date | None = None
) -> date:
    """The first grid date (`anchor + k * every`, k ≥ 0) later than `after` and not before
    `not_before`."""
    floor = max(
        (d for d in (after + timedelta(days=1) if after else None, not_before) if d is not None),
        default=anchor,
    )
    k = max(0, int((floor - anchor).days / every.approx_days()) - 2)
    for _ in range(MAX_GRID_STEPS):
        candidate = every.after(anchor, k)
        if candidate >= floor:
            return candidate
        k += 1
    raise ValueError(f"no due date within {MAX_GRID_STEPS} steps of {every} from {anchor}")


def next_fixed(dates: list[FixedDate], not_before: date) -> date | None:
    found = [d for d in (f.on_or_after(not_before) for f in dates) if d is not None]
    return min(found) if found else None


def first_due(plan: EffectivePlan, today: date) -> tuple[date, date | None]:
    """A new schedule: its anchor and its first calendar due date (None: meter only)."""
    p = plan.plan
    if p.dates is not None:
        return today, next_fixed(p.dates, p.start or today)
    if p.every is None:
        return today, None
    if p.start is not None:
        return p.start, p.start
    return today, p.every.after(today)


def after_done(
    plan: EffectivePlan,
    *,
    anchor: date,
    next_due: date | None,
    last_due: date | None,
    calendar_raised: bool,
    done_on: date,
    cancelled: bool,
) -> tuple[date, date | None]:
    """The anchor and next calendar due date once the open job is finished."""
    p = plan.plan
    if p.dates is not None:
        floor = done_on
        if calendar_raised and last_due is not None:
            floor = max(floor, last_due + timedelta(days=1))
        return anchor, next_fixed(p.dates, floor)
    if p.every is None:
        return anchor, None
    if plan.schedule_from == "completion" and not cancelled:
        return done_on, p.every.after(done_on)
    after = last_due if calendar_raised else None
    if not calendar_raised and next_due is not None and next_due >= done_on:
        return anchor, next_due  # a use-triggered job leaves the plan's rhythm alone
    return anchor, grid_next(anchor, p.every, after=after, not_before=done_on)


def start_of_day(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def calendar_fires(plan: EffectivePlan, next_due: date | None, now: datetime, tz: tzinfo) -> bool:
    """Due within the lead time: from local midnight of the due date minus `lead`."""
    if next_due is None:
        return False
    return now >= start_of_day(next_due, tz) - timedelta(seconds=plan.lead)


# -- meters ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterState:
    raw: float | None  # the last reading
    total: float  # use counted since tracking began
    base: float  # `total` at the last service

    @property
    def used(self) -> float:
        return self.total - self.base

    def as_dict(self) -> dict[str, float | None]:
        return {"raw": self.raw, "total": self.total, "base": self.base}

    @classmethod
    def of(cls, data: Any) -> MeterState:
        if not isinstance(data, Mapping):
            return cls(None, 0.0, 0.0)
        raw = data.get("raw")
        total = data.get("total")
        base = data.get("base")
        return cls(
            float(raw) if isinstance(raw, int | float) else None,
            float(total) if isinstance(total, int | float) else 0.0,
            float(base) if isinstance(base, int | float) else 0.0,
        )


def advance_meter(state: MeterState, raw: float, rollover: float | None) -> MeterState:
    """Count a new reading of the counter."""
    if state.raw is None:
        return MeterState(raw, state.total, state.base)
    if raw >= state.raw:
        delta = raw - state.raw
    elif rollover is not None and state.raw - raw > rollover / 2:
        delta = rollover - state.raw + raw  # wrapped around
    else:
        delta = raw  # reset: counting again from zero
    return MeterState(raw, state.total + delta, state.base)


def serviced(state: MeterState) -> MeterState:
    """The use counts again from now."""
    return MeterState(state.raw, state.total, state.total)


def meter_due(plan: EffectivePlan, meters: Mapping[str, MeterState]) -> tuple[str, float] | None:
    """The point that reached `every - lead` first, with its use; None if none did."""
    meter = plan.plan.meter
    if meter is None:
        return None
    best: tuple[str, float] | None = None
    for point in meter.points:
        state = meters.get(point)
        if state is None:
            continue
        if state.used >= meter.every - meter.lead and (best is None or state.used > best[1]):
            best = (point, state.used)
    return best
