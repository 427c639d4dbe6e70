"""The rule condition language: parsing, durations and three-valued evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from cloud.rules.conditions import Condition, Context, Scalar, parse_duration

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
        ({"point": "p", "equals": 1, "in": [1]}, "exactly one of `equals` or `in`"),
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
