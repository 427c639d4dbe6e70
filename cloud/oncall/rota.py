"""Rota arithmetic (pure: no database): whose shift it is at an instant, the shift's bounds in
the site's time zone, and which override or swap takes precedence.

A rota turns over an ordered list of people, one shift each, `daily` or `weekly`. Shift 0
starts on `starts_on` at the hand-over time, local time in the rota's zone; shift n starts
`n` days (or weeks) of the calendar later at the same wall-clock time, so a shift that spans
a daylight-saving change is an hour shorter or longer than 24 h (or 168 h), and hand-over
stays at, say, 08:00 all year. Shifts before `starts_on` count backwards the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Rotation(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


PERIOD_DAYS = {Rotation.DAILY: 1, Rotation.WEEKLY: 7}


@dataclass(frozen=True, slots=True)
class Plan:
    """A rota's turn-over: who, in which order, how often, from when, in which zone. `backup`
    is an explicit backup for every shift (else the next person in the rotation)."""

    members: tuple[int, ...]
    rotation: Rotation
    handover: time
    zone: ZoneInfo
    starts_on: date
    backup: int | None = None


@dataclass(frozen=True, slots=True)
class Cover:
    """One person covering a time range (an override, or one half of a swap); among covers
    that overlap, the one set last (highest `seq`) wins."""

    user: int
    starts_at: datetime
    ends_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class Shift:
    """One shift: its number (0 is the one starting on `starts_on`), its bounds (UTC), the
    person the rotation gives it and the backup."""

    index: int
    starts_at: datetime
    ends_at: datetime
    scheduled: int | None
    backup: int | None


def local_start(plan: Plan, day: date) -> datetime:
    """The hand-over instant on `day` (local), in UTC. A hand-over in a spring-forward gap
    happens at the wall-clock time read with the offset before the change (zoneinfo's fold 0)."""
    return datetime.combine(day, plan.handover, tzinfo=plan.zone).astimezone(UTC)


def shift_index(plan: Plan, at: datetime) -> int:
    """The number of the shift under way at `at` (an aware datetime)."""
    local = at.astimezone(plan.zone)
    day = local.date()
    if local_start(plan, day) > at.astimezone(UTC):
        day -= timedelta(days=1)  # before today's hand-over: yesterday's shift goes on
    days = (day - plan.starts_on).days
    return days // PERIOD_DAYS[plan.rotation]


def shift(plan: Plan, index: int) -> Shift:
    """Shift `index`: its bounds and its people."""
    period = PERIOD_DAYS[plan.rotation]
    first = plan.starts_on + timedelta(days=index * period)
    start = local_start(plan, first)
    end = local_start(plan, first + timedelta(days=period))
    if not plan.members:
        return Shift(index, start, end, None, plan.backup)
    n = len(plan.members)
    scheduled = plan.members[index % n]
    backup = plan.backup
    if backup is None or backup == scheduled:
        backup = plan.members[(index + 1) % n] if n > 1 else None
    return Shift(index, start, end, scheduled, backup)


def shift_at(plan: Plan, at: datetime) -> Shift:
    return shift(plan, shift_index(plan, at))


def covering(covers: Sequence[Cover], at: datetime) -> Cover | None:
    """The cover in force at `at`: of those whose range holds it, the one set last."""
    found = [c for c in covers if c.starts_at <= at < c.ends_at]
    return max(found, key=lambda c: c.seq) if found else None


@dataclass(frozen=True, slots=True)
class Duty:
    """Who is on call at an instant: the person on duty and the backup, the shift, and the
    cover that put the person there (None: the rotation did)."""

    primary: int | None
    backup: int | None
    shift: Shift
    cover: Cover | None


def duty(plan: Plan, covers: Sequence[Cover], at: datetime) -> Duty:
    """Overrides and swaps come before the rotation; the backup stays the rotation's (or the
    rota's own), unless that is the person now covering, when it is whom the rotation gave."""
    current = shift_at(plan, at)
    cover = covering(covers, at)
    if cover is None:
        return Duty(current.scheduled, current.backup, current, None)
    backup = current.backup
    if backup == cover.user:
        backup = current.scheduled if current.scheduled != cover.user else None
    return Duty(cover.user, backup, current, cover)
