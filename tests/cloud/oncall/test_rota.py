"""Rota arithmetic on plain data: daily and weekly turns, hand-over, a zone with daylight
saving (Europe/London) and one without (Asia/Hong_Kong), covers' precedence, working hours
and the digest time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cloud.oncall.hours import Hours, next_digest
from cloud.oncall.rota import Cover, Plan, Rotation, duty, shift, shift_at, shift_index

LONDON = ZoneInfo("Europe/London")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def plan(
    zone: ZoneInfo = HONG_KONG,
    rotation: Rotation = Rotation.DAILY,
    members: tuple[int, ...] = (1, 2, 3),
    starts_on: date = date(2026, 3, 2),
    backup: int | None = None,
) -> Plan:
    return Plan(members, rotation, time(8, 0), zone, starts_on, backup)


def test_a_daily_rota_hands_over_at_the_local_time() -> None:
    p = plan()  # 08:00 in Hong Kong is 00:00 UTC
    first = shift_at(p, utc(2026, 3, 2, 0, 0))
    assert (first.index, first.scheduled, first.backup) == (0, 1, 2)
    assert (first.starts_at, first.ends_at) == (utc(2026, 3, 2, 0), utc(2026, 3, 3, 0))
    before = shift_at(p, utc(2026, 3, 1, 23, 59))  # 07:59 local: yesterday's shift goes on
    assert (before.index, before.scheduled, before.backup) == (-1, 3, 1)
    assert shift_at(p, utc(2026, 3, 3, 0)).scheduled == 2
    assert [shift(p, n).scheduled for n in range(5)] == [1, 2, 3, 1, 2]


def test_a_weekly_rota_turns_over_each_week() -> None:
    p = plan(rotation=Rotation.WEEKLY, members=(1, 2))
    assert shift_index(p, utc(2026, 3, 8, 23, 59)) == 0  # Monday 07:59 local, a week on
    s = shift_at(p, utc(2026, 3, 9, 0))
    assert (s.index, s.scheduled, s.backup) == (1, 2, 1)
    assert s.ends_at - s.starts_at == timedelta(days=7)
    assert shift_at(p, utc(2026, 2, 28, 12)).scheduled == 2  # the week before the start


def test_hand_over_keeps_its_wall_clock_time_across_daylight_saving_in_london() -> None:
    p = plan(zone=LONDON, starts_on=date(2026, 3, 27))  # clocks go forward 29 March, 01:00 UTC
    saturday = shift_at(p, utc(2026, 3, 28, 12))
    assert saturday.starts_at == utc(2026, 3, 28, 8)  # 08:00 GMT
    assert saturday.ends_at == utc(2026, 3, 29, 7)  # 08:00 BST
    assert saturday.ends_at - saturday.starts_at == 23 * H
    assert shift_at(p, utc(2026, 3, 29, 6, 59)).index == 1  # 07:59 BST: still Saturday's
    assert shift_at(p, utc(2026, 3, 29, 7, 0)).index == 2  # 08:00 BST: Sunday's
    # clocks go back 25 October: that shift is 25 hours
    autumn = shift_at(p, utc(2026, 10, 24, 12))
    assert (autumn.starts_at, autumn.ends_at) == (utc(2026, 10, 24, 7), utc(2026, 10, 25, 8))
    weekly = shift_at(plan(zone=LONDON, rotation=Rotation.WEEKLY), utc(2026, 3, 27, 12))
    assert weekly.ends_at - weekly.starts_at == 7 * 24 * H - H


def test_hong_kong_has_no_daylight_saving() -> None:
    p = plan(zone=HONG_KONG, starts_on=date(2026, 3, 27))
    for day in (28, 29, 30):
        s = shift_at(p, utc(2026, 3, day, 12))
        assert s.ends_at - s.starts_at == 24 * H and s.starts_at.hour == 0


def test_an_explicit_backup_unless_on_duty_then_the_next_in_turn() -> None:
    p = plan(backup=3)
    assert shift(p, 0).backup == 3
    assert shift(p, 2).backup == 1  # member 3 is on duty: the next in turn backs up
    assert shift(plan(members=(7,)), 4).backup is None  # one person: no backup


def test_covers_come_before_the_rotation_and_the_last_set_wins() -> None:
    p = plan()
    at = utc(2026, 3, 2, 12)  # shift 0: member 1, backup 2
    week = Cover(user=5, starts_at=utc(2026, 3, 2, 0), ends_at=utc(2026, 3, 9, 0), seq=1)
    evening = Cover(user=6, starts_at=utc(2026, 3, 2, 10), ends_at=utc(2026, 3, 2, 14), seq=2)
    assert duty(p, [], at).primary == 1
    d = duty(p, [week, evening], at)
    assert (d.primary, d.backup, d.cover) == (6, 2, evening)
    assert duty(p, [evening, week], utc(2026, 3, 2, 14)).primary == 5  # the evening is over
    older = Cover(user=6, starts_at=utc(2026, 3, 2, 10), ends_at=utc(2026, 3, 2, 14), seq=0)
    assert duty(p, [older, week], at).primary == 5  # set later, the week's cover wins
    # the backup covering: the rotation's person backs up instead
    swap = Cover(user=2, starts_at=utc(2026, 3, 2, 0), ends_at=utc(2026, 3, 3, 0), seq=3)
    d = duty(p, [swap], at)
    assert (d.primary, d.backup) == (2, 1)


def test_working_hours_and_the_next_opening_in_the_site_zone() -> None:
    hours = Hours.of("08:00", "18:00", [1, 2, 3, 4, 5], LONDON)
    tuesday_2am = utc(2026, 3, 3, 2)
    assert not hours.within(tuesday_2am)
    assert hours.next_opening(tuesday_2am) == utc(2026, 3, 3, 8)
    assert hours.within(utc(2026, 3, 3, 8)) and not hours.within(utc(2026, 3, 3, 18))
    assert hours.next_opening(utc(2026, 3, 3, 9)) == utc(2026, 3, 3, 9)
    assert hours.next_opening(utc(2026, 3, 6, 18)) == utc(2026, 3, 9, 8)  # Friday → Monday
    # after the clocks go forward, 08:00 is 07:00 UTC
    assert hours.next_opening(utc(2026, 3, 30, 2)) == utc(2026, 3, 30, 7)
    all_day = Hours.of("00:00", "24:00", range(1, 8), HONG_KONG)
    assert all_day.within(utc(2026, 3, 1, 15, 59)) and all_day.within(utc(2026, 3, 1, 16))


def test_the_digest_time_on_working_days() -> None:
    weekdays = [1, 2, 3, 4, 5]
    assert next_digest(utc(2026, 3, 3, 2), "08:00", weekdays, LONDON) == utc(2026, 3, 3, 8)
    assert next_digest(utc(2026, 3, 3, 8), "08:00", weekdays, LONDON) == utc(2026, 3, 3, 8)
    assert next_digest(utc(2026, 3, 6, 9), "08:00", weekdays, LONDON) == utc(2026, 3, 9, 8)
    assert next_digest(utc(2026, 3, 3, 2), "08:00", [2], HONG_KONG) == utc(2026, 3, 10, 0)


@pytest.mark.parametrize(
    ("start", "end", "days", "message"),
    [
        ("25:00", "18:00", [1], "hours_start: '25:00' is not a time of day"),
        ("24:00", "18:00", [1], "hours_start: '24:00' is not a time of day"),
        ("8:00", "18:00", [1], "hours_start: '8:00' is not a time of day"),
        ("08:00", "24:01", [1], "hours_end: '24:01' is not a time of day"),
        ("18:00", "08:00", [1], "hours_end: 08:00 must come after hours_start 18:00"),
        ("08:00", "18:00", [], "work_days: give one or more ISO weekdays"),
        ("08:00", "18:00", [0, 8], "work_days: give one or more ISO weekdays"),
    ],
)
def test_bad_hours_are_refused_by_name(start: str, end: str, days: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Hours.of(start, end, days, LONDON)
