"""A preventive-maintenance plan: what to do, to which equipment, and when it falls due.

    - id: pump.monthly_check            # <kind or building>.<name>, unique
      title: Pump monthly check
      kind: pump                        # elevator | pump | lighting | fire_panel | building,
                                        # or a register-only kind (cloud/assets/kinds.py)
      match: {system: sump}             # optional: only equipment with these tags
      every: 1mo                        # calendar: 1d, 2w, 15d, 1mo, 3mo, 1y
      dates: ["04-01"]                  # or fixed dates: MM-DD every year, or YYYY-MM-DD once
      meter:                            # and/or use: whichever falls due first
        points: [run_hours]             # counters from telemetry (the first to reach it)
        every: 500                      # units of the counter since the last service
        lead: 25                        # raise this much use before
        rollover: 42949672.96           # where the counter wraps, if it does
      lead: 3d                          # raise the work order this long before the due date
      schedule_from: completion         # completion | plan
      priority: low                     # emergency | urgent | normal | low
      checklist:                        # steps; a step may ask for a reading (steps.py)
        - Check joints for leaks
        - step: Discharge pressure
          reading: {unit: bar, min: 2.5, max: 4.5}
      sign_off: required                # a signature is required to resolve (default: none)
      maintenance_mode: while_in_progress  # the equipment is in maintenance while the job is
                                        # in progress (default: none; docs/pm.md)
      team: lift-contractor             # the team that does it, when a team of that name
                                        # exists (e.g. an outside contractor's); else routed

`schedule_from: completion` counts the next due date from the day the last one was done;
`plan` keeps the plan's own rhythm (a late job does not move the next one). Use always counts
from the last service.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cloud.assets.kinds import ALL_KINDS, is_asset_kind
from cloud.enums import Priority
from cloud.pm.steps import PlanStep
from cloud.rules.base import Duration, PointName

_INTERVAL = re.compile(r"^\s*(\d+)\s*(d|w|mo|y)\s*\Z")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})\Z")

PlanId = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$", max_length=64)
]


def _scope(kind: str) -> str:
    """A telemetry kind, a register-only kind (cloud.assets.kinds) or `building`."""
    if kind != "building" and kind not in ALL_KINDS:
        raise ValueError(
            f"{kind!r} is not a kind of equipment nor `building` (known: {', '.join(ALL_KINDS)})"
        )
    return kind


Scope = Annotated[str, AfterValidator(_scope)]


TeamRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", max_length=64)]
ScheduleFrom = Literal["completion", "plan"]


class Interval(BaseModel):
    """A calendar interval: `n` days, weeks, months or years."""

    model_config = ConfigDict(frozen=True)

    n: int = Field(ge=1, le=1000)
    unit: Literal["d", "w", "mo", "y"]

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"

    def after(self, start: date, times: int = 1) -> date:
        """`start` plus `times` intervals; a month-end is kept in range (Jan 31 + 1mo = Feb 28)."""
        if self.unit == "d":
            return start + timedelta(days=self.n * times)
        if self.unit == "w":
            return start + timedelta(weeks=self.n * times)
        months = self.n * times * (12 if self.unit == "y" else 1)
        return add_months(start, months)

    def approx_days(self) -> float:
        return self.n * {"d": 1.0, "w": 7.0, "mo": 30.44, "y": 365.25}[self.unit]


def add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def _interval(value: Any) -> Any:
    if isinstance(value, str):
        match = _INTERVAL.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not an interval; write e.g. 1d, 2w, 15d, 1mo, 3mo or 1y"
            )
        return {"n": int(match.group(1)), "unit": match.group(2)}
    return value


class FixedDate(BaseModel):
    """`MM-DD` (every year) or `YYYY-MM-DD` (once)."""

    model_config = ConfigDict(frozen=True)

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    year: int | None = None

    def on_or_after(self, start: date) -> date | None:
        """The first occurrence not before `start` (None: a one-off date already passed)."""
        if self.year is not None:
            once = date(self.year, self.month, self.day)
            return once if once >= start else None
        for year in (start.year, start.year + 1, start.year + 2):
            day = min(self.day, calendar.monthrange(year, self.month)[1])
            candidate = date(year, self.month, day)
            if candidate >= start:
                return candidate
        return None


def _fixed_date(value: Any) -> Any:
    if isinstance(value, date):
        return {"year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, str):
        text = value.strip()
        match = _MONTH_DAY.match(text)
        if match:
            month, day = int(match.group(1)), int(match.group(2))
            if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
                raise ValueError(f"{value!r} is not a day of the year")
            return {"month": month, "day": day}
        try:
            once = date.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date; write MM-DD (every year) or YYYY-MM-DD (once)"
            ) from None
        return {"year": once.year, "month": once.month, "day": once.day}
    return value


class Meter(BaseModel):
    """Use from telemetry counters: due after `every` units since the last service."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: list[PointName] = Field(min_length=1, max_length=16)
    every: float = Field(gt=0)
    lead: float = Field(default=0.0, ge=0)
    rollover: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _one_point(cls, data: Any) -> Any:
        if isinstance(data, dict) and "point" in data:
            if "points" in data:
                raise ValueError("give `point` or `points`, not both")
            data = {**data, "points": [data["point"]]}
            del data["point"]
        return data

    @model_validator(mode="after")
    def _lead_below_every(self) -> Meter:
        if self.lead >= self.every:
            raise ValueError(f"meter lead ({self.lead:g}) must be less than every ({self.every:g})")
        return self


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lead: Duration = 0.0
    schedule_from: ScheduleFrom = "completion"
    priority: Priority = Priority.LOW


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PlanId
    title: Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
    kind: Scope
    description: str | None = None
    match: dict[str, str] = Field(default_factory=dict, description="equipment tags to match")
    every: Annotated[Interval | None, BeforeValidator(_interval)] = None
    dates: list[Annotated[FixedDate, BeforeValidator(_fixed_date)]] | None = Field(
        default=None, min_length=1
    )
    meter: Meter | None = None
    start: date | None = Field(
        default=None, description="first due date (default: one interval on)"
    )
    lead: Duration | None = None
    schedule_from: ScheduleFrom | None = None
    priority: Priority | None = None
    checklist: list[PlanStep] = Field(min_length=1, max_length=100)
    sign_off: Literal["required", "none"] = Field(
        default="none", description="required: the job resolves only once signed off"
    )
    maintenance_mode: Literal["none", "while_in_progress"] = Field(
        default="none",
        description="while_in_progress: its equipment is in maintenance while the job is",
    )
    team: TeamRef | None = Field(
        default=None,
        description="the team its jobs go to when one of that name exists; else as routed",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _triggers(self) -> Plan:
        if not self.id.startswith(f"{self.kind}."):
            raise ValueError(f"plan id {self.id!r} must start with its kind: {self.kind}.<name>")
        if self.every is not None and self.dates is not None:
            raise ValueError("give `every` or `dates`, not both")
        if self.every is None and self.dates is None and self.meter is None:
            raise ValueError("a plan needs a trigger: `every`, `dates` or `meter` (or both)")
        if self.meter is not None and self.kind == "building":
            raise ValueError(
                "a building-wide plan has no counters: `meter` needs an equipment kind"
            )
        if self.meter is not None and is_asset_kind(self.kind):
            raise ValueError(
                f"{self.kind!r} is a register-only kind, with no telemetry: `meter` needs a "
                "connected kind"
            )
        if self.match and self.kind == "building":
            raise ValueError("`match` selects equipment by tags; a building-wide plan has none")
        return self

    def applies(self, kind: str, tags: dict[str, Any]) -> bool:
        return self.kind == kind and all(tags.get(k) == v for k, v in self.match.items())


class PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: Defaults | None = None
    plans: list[Plan] = Field(default_factory=list)


class EffectivePlan(BaseModel):
    """A plan with the defaults filled in."""

    model_config = ConfigDict(frozen=True)

    plan: Plan
    lead: float
    schedule_from: ScheduleFrom
    priority: Priority

    @property
    def id(self) -> str:
        return self.plan.id
