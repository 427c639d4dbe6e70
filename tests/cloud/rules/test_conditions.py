"""The rule condition language: parsing, durations and three-valued evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from cloud.rules.base import Context, Scalar, parse_duration
from cloud.rules.conditions import Condition

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)


def cond(data: dict[str, Any]) -> Any:
    return CONDITION.validate_python(data)


def ctx(
    values: Mapping[str, Scalar] | None = None,
    *,
    now: float = 1000.0,
    last_seen: float | None = None,
    status: str = "online",
    history: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> Context:
    return Context(
        now=now, values=values or {}, last_seen=last_seen, status=status, history=history or {}
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (0, 0.0),
        (90, 90.0),
        (2.5, 2.5),
        ("30s", 30.0),
        ("250ms", 0.25),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        (" 1m 30s ", 90.0),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5 minutes", "m5", "", "-5s", -1, True, "1h-3m", [1]])
def test_bad_durations_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_point_is_reads_bools_and_zero_one() -> None:
    c = cond({"point": "dry_run", "is": True})
    assert c.evaluate(ctx({"dry_run": True}), False) is True
    assert c.evaluate(ctx({"dry_run": False}), False) is False
    assert c.evaluate(ctx({"dry_run": 1}), False) is True
    assert c.evaluate(ctx({"dry_run": 0}), False) is False
    assert c.evaluate(ctx({"dry_run": "yes"}), False) is None
    assert c.evaluate(ctx({"dry_run": None}), False) is None
    assert c.evaluate(ctx({}), False) is None


def test_threshold_above_with_hysteresis() -> None:
    c = cond({"point": "pressure", "above": 6.5, "clear_below": 6.0})
    # raising: strictly above
    assert c.evaluate(ctx({"pressure": 6.5}), False) is False
    assert c.evaluate(ctx({"pressure": 6.6}), False) is True
    # holding: until it drops below clear_below
    assert c.evaluate(ctx({"pressure": 6.2}), True) is True
    assert c.evaluate(ctx({"pressure": 6.0}), True) is True
    assert c.evaluate(ctx({"pressure": 5.9}), True) is False
    # not a number: cannot tell (bools are not numbers here)
    assert c.evaluate(ctx({"pressure": True}), False) is None
    assert c.evaluate(ctx({"pressure": "high"}), True) is None


def test_threshold_below_without_hysteresis_clears_at_the_limit() -> None:
    c = cond({"point": "battery_voltage", "below": 24})
    assert c.evaluate(ctx({"battery_voltage": 23.9}), False) is True
    assert c.evaluate(ctx({"battery_voltage": 23.9}), True) is True
    assert c.evaluate(ctx({"battery_voltage": 24}), True) is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"point": "p", "above": 5, "below": 1}, "exactly one of `above` or `below`"),
        ({"point": "p", "above": 5, "clear_below": 6}, "must not be more than above"),
        ({"point": "p", "below": 5, "clear_above": 4}, "must not be less than below"),
        ({"point": "p", "above": 5, "clear_above": 6}, "`clear_above` goes with `below`"),
        ({"point": "p", "equals": 1, "in": [1]}, "exactly one of `equals`, `in` or `not_in`"),
        ({"point": "p", "frob": 1}, "one of the keys"),
        ({"point": "Bad Name", "is": True}, "String should match pattern"),
        ({"any": []}, "at least 1 item"),
        ({"stale": "soon"}, "not a duration"),
        ({"status": "sleeping"}, "Input should be 'online', 'offline' or 'stale'"),
        ({"point": "p", "rate_above": 1, "window": 0}, "more than zero"),
    ],
)
def test_bad_conditions_say_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cond(data)


def test_state_equals_and_in() -> None:
    eq = cond({"point": "run_state", "equals": "fault"})
    assert eq.evaluate(ctx({"run_state": "fault"}), False) is True
    assert eq.evaluate(ctx({"run_state": "running"}), False) is False
    assert eq.evaluate(ctx({}), False) is None
    many = cond({"point": "panel_state", "in": ["fire", "fault"]})
    assert many.evaluate(ctx({"panel_state": "fire"}), False) is True
    assert many.evaluate(ctx({"panel_state": "normal"}), False) is False
    # true is not 1 for a state comparison
    one = cond({"point": "mode", "equals": 1})
    assert one.evaluate(ctx({"mode": True}), False) is False
    assert one.evaluate(ctx({"mode": 1}), False) is True


def test_any_and_all_are_three_valued() -> None:
    a = cond({"any": [{"point": "a", "is": True}, {"point": "b", "is": True}]})
    assert a.evaluate(ctx({"a": False, "b": True}), False) is True
    assert a.evaluate(ctx({"a": False, "b": False}), False) is False
    assert a.evaluate(ctx({"a": False}), False) is None
    assert a.evaluate(ctx({"b": True}), False) is True
    b = cond({"all": [{"point": "a", "is": True}, {"point": "t", "above": 50}]})
    assert b.evaluate(ctx({"a": True, "t": 60}), False) is True
    assert b.evaluate(ctx({"a": True, "t": 40}), False) is False
    assert b.evaluate(ctx({"a": True}), False) is None
    assert b.evaluate(ctx({"a": False}), False) is False
    assert b.points() == {"a", "t"}


def test_nested_combinations_pass_hysteresis_down() -> None:
    c = cond(
        {
            "all": [
                {"point": "running", "is": True},
                {"any": [{"point": "t", "above": 80, "clear_below": 70}]},
            ]
        }
    )
    assert c.evaluate(ctx({"running": True, "t": 75}), False) is False
    assert c.evaluate(ctx({"running": True, "t": 75}), True) is True
    assert c.evaluate(ctx({"running": True, "t": 65}), True) is False


def test_rate_of_change_over_window() -> None:
    c = cond({"point": "level", "rate_above": 5, "per": "1m", "window": "5m"})
    # level 40 held since t=0, now 70 at t=600: over the last 300 s it rose 30 → 6/min
    history = {"level": [(0.0, 40.0), (590.0, 70.0)]}
    assert c.evaluate(ctx({"level": 70}, now=600.0, history=history), False) is True
    # a slower rise: 20 in 300 s → 4/min
    history = {"level": [(0.0, 40.0), (590.0, 60.0)]}
    assert c.evaluate(ctx({"level": 60}, now=600.0, history=history), False) is False
    # history shorter than half the window: unknown
    history = {"level": [(500.0, 40.0)]}
    assert c.evaluate(ctx({"level": 90}, now=600.0, history=history), False) is None
    falling = cond({"point": "level", "rate_below": -5, "window": "5m"})
    history = {"level": [(0.0, 90.0), (590.0, 50.0)]}
    assert falling.evaluate(ctx({"level": 50}, now=600.0, history=history), False) is True


def test_counter_increase_over_window_survives_reset() -> None:
    c = cond({"point": "starts", "increase_above": 10, "window": "1h"})
    # baseline 100 before the window, then 104, reset to 2, then 9: 4 + 2 + 7 = 13
    history = {"starts": [(0.0, 100.0), (4000.0, 104.0), (5000.0, 2.0), (6000.0, 9.0)]}
    assert c.evaluate(ctx(now=7000.0, history=history), False) is True
    quiet = {"starts": [(0.0, 100.0), (4000.0, 104.0)]}
    assert c.evaluate(ctx(now=7000.0, history=quiet), False) is False
    # only part of the window seen and not over the limit yet: unknown
    partial = {"starts": [(6500.0, 100.0), (6900.0, 104.0)]}
    assert c.evaluate(ctx(now=7000.0, history=partial), False) is None
    # part of the window already over the limit: fires
    burst = {"starts": [(6500.0, 100.0), (6900.0, 120.0)]}
    assert c.evaluate(ctx(now=7000.0, history=burst), False) is True


def test_stale_and_status() -> None:
    stale = cond({"stale": "5m"})
    assert stale.evaluate(ctx(now=1000.0, last_seen=600.0), False) is True
    assert stale.evaluate(ctx(now=1000.0, last_seen=800.0), False) is False
    assert stale.evaluate(ctx(now=1000.0, last_seen=None), False) is None
    assert stale.time_dependent()
    lost = cond({"status": ["offline", "stale"]})
    assert lost.evaluate(ctx(status="offline"), False) is True
    assert lost.evaluate(ctx(status="online"), False) is False
    assert lost.evaluate(ctx(status="unknown"), False) is None


def test_not_in_matches_every_other_state() -> None:
    c = cond({"point": "alarm_code", "not_in": ["none", "dry_run"]})
    assert c.evaluate(ctx({"alarm_code": "code_77"}), False) is True
    assert c.evaluate(ctx({"alarm_code": "dry_run"}), False) is False
    assert c.evaluate(ctx({}), False) is None
    # a boolean is not the number 1
    assert cond({"point": "x", "not_in": [1]}).evaluate(ctx({"x": True}), False) is True


def test_increase_below_sees_a_counter_that_did_not_move() -> None:
    c = cond({"point": "trips", "increase_below": 1, "window": "5m"})
    still = {"trips": [(0.0, 50.0), (900.0, 50.0)]}
    assert c.evaluate(ctx(now=1000.0, history=still), False) is True
    moved = {"trips": [(0.0, 50.0), (950.0, 51.0)]}
    assert c.evaluate(ctx(now=1000.0, history=moved), False) is False
    young = {"trips": [(800.0, 50.0)]}  # less than the window known: cannot tell yet
    assert c.evaluate(ctx(now=1000.0, history=young), False) is None
    assert cond({"point": "trips", "increase_below": 1, "window": "5m"}).counter_points() == {
        "trips"
    }


def test_trend_fits_a_line_and_leaves_out_low_samples() -> None:
    c = cond(
        {
            "point": "vibration",
            "trend_above": 0.5,
            "per": "1d",
            "window": "2d",
            "ignore_below": 0.5,
        }
    )
    day = 86400.0
    # rising 1 mm/s a day while running, 0.05 while stopped (left out)
    samples = [(i * 3600.0, 1.5 + i / 24.0 if i % 3 else 0.05) for i in range(0, 49)]
    now = 48 * 3600.0
    history = {"vibration": samples}
    assert c.evaluate(ctx({"vibration": 3.5}, now=now, history=history), False) is True
    assert c.slope(ctx({"vibration": 3.5}, now=now, history=history)) == pytest.approx(1.0)
    flat = {"vibration": [(i * 3600.0, 1.5) for i in range(49)]}
    assert c.evaluate(ctx({"vibration": 1.5}, now=now, history=flat), False) is False
    # stopped now: cannot tell; too little history: cannot tell
    assert c.evaluate(ctx({"vibration": 0.05}, now=now, history=history), False) is None
    short = {"vibration": [(now - 3600.0 * i, 2.0) for i in range(12)]}
    assert c.evaluate(ctx({"vibration": 2.0}, now=now, history=short), False) is None
    assert c.evaluate(ctx({"vibration": 2.0}, now=day, history={}), False) is None


def test_between_is_site_local_and_crosses_midnight() -> None:
    hk = ZoneInfo("Asia/Hong_Kong")
    night = cond({"between": ["19:00", "06:00"]})
    weekdays = cond({"between": ["19:00", "06:00"], "days": ["mon", "tue", "wed", "thu", "fri"]})

    def at(day: int, hour: int, minute: int = 0) -> Context:
        when = datetime(2026, 3, day, hour, minute, tzinfo=hk).timestamp()  # 2 March: Monday
        return Context(
            now=when, values={}, last_seen=None, status="online", history={}, timezone=hk
        )

    assert night.evaluate(at(2, 19), False) is True
    assert night.evaluate(at(2, 18, 59), False) is False
    assert night.evaluate(at(3, 5, 59), False) is True
    assert night.evaluate(at(3, 6), False) is False
    assert night.time_dependent()
    # Saturday night belongs to Saturday; the small hours of Saturday to Friday night
    assert weekdays.evaluate(at(7, 1), False) is True
    assert weekdays.evaluate(at(7, 20), False) is False
    assert weekdays.evaluate(at(8, 3), False) is False
    # the same instant in UTC is another hour: the timezone matters
    utc = Context(
        now=datetime(2026, 3, 2, 19, 0, tzinfo=hk).timestamp(),
        values={},
        last_seen=None,
        status="online",
        history={},
    )
    assert night.evaluate(utc, False) is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"between": ["25:00", "06:00"]}, "not a time of day"),
        ({"between": ["06:00", "06:00"]}, "two different times"),
        ({"between": ["06:00", "07:00"], "days": ["someday"]}, "days"),
        ({"point": "v", "trend_above": 1, "trend_below": 0, "window": "1d"}, "exactly one"),
        ({"point": "t", "increase_above": 1, "increase_below": 2, "window": "1h"}, "exactly one"),
        ({"point": "t", "increase_above": 1, "window": 0}, "`window` must be more than zero"),
        ({"point": "l", "rate_above": 1, "per": 0}, "`window` and `per` must be more than zero"),
        ({"point": "v", "trend_above": 1, "window": 0}, "`window` and `per` must be more"),
    ],
)
def test_bad_new_conditions_say_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        cond(data)
