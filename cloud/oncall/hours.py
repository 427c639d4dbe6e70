"""A team's working hours and its digest time (pure: no database), local time in the site's
zone: whether an instant is within them, and when routine jobs raised outside them are told.

Times are `HH:MM` texts; a working day may end at `24:00`. Days are ISO weekday numbers,
Monday 1 to Sunday 7.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7  # days looked ahead for the next working period: each week has one, if any day is set


def minutes(text: str, *, field: str, end: bool = False) -> int:
    """Minutes after midnight of an `HH:MM` text; `24:00` only where `end`."""
    match = _HHMM.match(text)
    value = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not match or value > 1440 or (value == 1440 and not end):
        latest = "24:00" if end else "23:59"
        raise ValueError(f"{field}: {text!r} is not a time of day from 00:00 to {latest} (HH:MM)")
    return value


def clock_time(text: str, *, field: str) -> time:
    m = minutes(text, field=field)
    return time(m // 60, m % 60)


def weekdays(days: Iterable[int], *, field: str) -> frozenset[int]:
    found = frozenset(days)
    if not found or not found <= set(range(1, 8)):
        raise ValueError(f"{field}: give one or more ISO weekdays, 1 (Monday) to 7 (Sunday)")
    return found


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """`minute` minutes after the local midnight starting `day`, in UTC (24:00 is next day's
    midnight)."""
    if minute == 1440:
        day, minute = day + timedelta(days=1), 0
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Hours:
    """Working hours: from `start` to `end` (minutes after midnight) on `days`."""

    start: int
    end: int
    days: frozenset[int]
    zone: ZoneInfo

    @classmethod
    def of(cls, start: str, end: str, days: Iterable[int], zone: ZoneInfo) -> Hours:
        first = minutes(start, field="hours_start")
        last = minutes(end, field="hours_end", end=True)
        if last <= first:
            raise ValueError(f"hours_end: {end} must come after hours_start {start}")
        return cls(first, last, weekdays(days, field="work_days"), zone)

    def _periods(self, at: datetime) -> Iterable[tuple[datetime, datetime]]:
        """The working periods from the day before `at` (local) on, for a week and a day."""
        today = at.astimezone(self.zone).date()
        for n in range(-1, WEEK + 1):
            day = today + timedelta(days=n)
            if day.isoweekday() in self.days:
                yield _at(day, self.start, self.zone), _at(day, self.end, self.zone)

    def within(self, at: datetime) -> bool:
        return any(start <= at < end for start, end in self._periods(at))

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when within the hours, else when the next working period starts."""
        for start, end in self._periods(at):
            if at < end:
                return max(start, at)
        raise AssertionError("every week has a working day")  # `days` is never empty


def next_digest(at: datetime, digest_at: str, days: Iterable[int], zone: ZoneInfo) -> datetime:
    """The first digest time (local `digest_at` on one of `days`) at or after `at`."""
    minute = minutes(digest_at, field="digest_at")
    allowed = weekdays(days, field="work_days")
    today = at.astimezone(zone).date()
    for n in range(WEEK + 1):
        day = today + timedelta(days=n)
        when = _at(day, minute, zone)
        if day.isoweekday() in allowed and when >= at:
            return when
    raise AssertionError("every week has a working day")
