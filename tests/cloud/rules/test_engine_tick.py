"""The tick passes over equipment whose rules time cannot move yet: the same alarms, at the
same moments, as judging every piece of equipment at every tick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rules.base import Context
from cloud.rules.conditions import Between, Stale
from cloud.rules.engine import Change, RuleEngine, Transition
from cloud.rules.loader import load_rule_set
from tests.cloud.rules.harness import changes, rule

RULES = load_rule_set().rules
EQUIPMENT = {
    "lift-1": "elevator",
    "pump-1": "pump",
    "panel-1": "fire_panel",
    "lights-1": "lighting",
}
POINTS = {
    kind: sorted(
        {p for r in RULES if r.kind.value == kind for c in r.conditions() for p in c.points()}
    )
    for kind in set(EQUIPMENT.values())
}
VALUES: list[Any] = [True, False, 0, 1, 2, 3, 7, 40, 75.5, 150, 400, "fault", "normal", None]
STEPS_S = [0.4, 1.0, 1.0, 7.0, 29.0, 61.0, 301.0, 601.0, 3601.0]
# near the lighting schedules' edges (19:00 and 06:00), and at an ordinary hour
STARTS = [
    datetime(2026, 3, 7, 18, 58, 30, tzinfo=UTC).timestamp(),
    datetime(2026, 3, 8, 5, 59, 59, tzinfo=UTC).timestamp(),
    datetime(2026, 3, 9, 11, 0, tzinfo=UTC).timestamp(),
]

Step = tuple[float, str, str, dict[str, Any] | str | None]


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    out: list[Step] = []
    for _ in range(draw(st.integers(5, 60))):
        dt = draw(st.sampled_from(STEPS_S))
        what = draw(st.sampled_from(["tick", "tick", "tick", "observe", "status"]))
        equipment = draw(st.sampled_from(sorted(EQUIPMENT)))
        if what == "observe":
            points = POINTS[EQUIPMENT[equipment]]
            chosen = draw(st.lists(st.sampled_from(points), min_size=1, max_size=4, unique=True))
            values: dict[str, Any] | str | None = {p: draw(st.sampled_from(VALUES)) for p in chosen}
        elif what == "status":
            values = draw(st.sampled_from(["online", "offline", "stale"]))
        else:
            values = None
        out.append((dt, what, equipment, values))
    return out


def _engine() -> RuleEngine:
    engine = RuleEngine(RULES, timezone=UTC)
    for equipment, kind in EQUIPMENT.items():
        engine.track(equipment, kind)
    return engine


def _seen(transitions: list[Transition]) -> list[tuple[str, str, Change, float, str]]:
    return [(t.equipment_id, t.rule.id, t.change, t.at, t.message) for t in transitions]


@settings(max_examples=300, deadline=None)
@given(start=st.sampled_from(STARTS), run=steps())
def test_passing_over_equipment_changes_nothing_the_engine_says(
    start: float, run: list[Step]
) -> None:
    passing, judging_all = _engine(), _engine()
    now = start
    for dt, what, equipment, values in run:
        now += dt
        results = []
        for engine in (passing, judging_all):
            if what == "tick":
                if engine is judging_all:
                    # the reference: every piece of equipment judged at every tick
                    for eq in engine._equipment.values():
                        eq.wake_at = 0.0
                results.append(_seen(engine.tick(at=now)))
            elif what == "observe":
                assert isinstance(values, dict)
                results.append(_seen(engine.observe(equipment, values, at=now)))
            else:
                assert isinstance(values, str)
                results.append(_seen(engine.set_status(equipment, values, at=now)))
        assert results[0] == results[1]
    # the history of equipment passed over is trimmed when it is next judged: judge all
    for engine in (passing, judging_all):
        for eq in engine._equipment.values():
            eq.wake_at = 0.0
        engine.tick(at=now)
    for equipment in EQUIPMENT:
        assert passing.snapshot(equipment) == judging_all.snapshot(equipment)


WINDOWED = [
    rule({"point": "c", "increase_above": 5, "window": "60s"}, "pump.busy", clear_for="10s"),
    rule({"point": "c", "increase_below": 1, "window": "30s"}, "pump.idle"),
    rule(
        {"point": "v", "trend_above": 1.0, "per": "1m", "window": "60s", "min_samples": 3},
        "pump.rising",
        **{"for": "5s"},
    ),
]  # (a rate moves at every tick: equipment with one is never passed over)


@st.composite
def window_steps(draw: st.DrawFn) -> list[Step]:
    out: list[Step] = []
    counter = 0
    for _ in range(draw(st.integers(5, 80))):
        dt = draw(st.sampled_from([0.3, 1.0, 1.0, 2.0, 5.0, 13.0, 31.0, 61.0]))
        what = draw(st.sampled_from(["tick", "tick", "counter", "value"]))
        values: dict[str, Any] | None = None
        if what == "counter":
            counter = 0 if draw(st.integers(0, 15)) == 0 else counter + draw(st.integers(0, 4))
            values = {"c": counter}
        elif what == "value":
            values = {"v": draw(st.floats(0, 10, allow_nan=False))}
        out.append((dt, "tick" if values is None else "observe", "p1", values))
    return out


@settings(max_examples=300, deadline=None)
@given(run=window_steps())
def test_windows_are_judged_when_their_start_passes_a_sample(run: list[Step]) -> None:
    passing, judging_all = (RuleEngine(WINDOWED, timezone=UTC) for _ in range(2))
    for engine in (passing, judging_all):
        engine.track("p1", "pump")
    now = 1_000_000.0
    for dt, what, _, values in run:
        now += dt
        if what == "tick":
            for eq in judging_all._equipment.values():
                eq.wake_at = 0.0
            assert _seen(passing.tick(at=now)) == _seen(judging_all.tick(at=now))
        else:
            assert isinstance(values, dict)
            assert _seen(passing.observe("p1", values, at=now)) == _seen(
                judging_all.observe("p1", values, at=now)
            )


def test_a_stale_rule_is_judged_when_its_time_comes_not_before(clock: Any) -> None:
    engine = RuleEngine([rule({"stale": "10m"}, rule_id="pump.stale")], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"flow": 1.0}, at=1000.0)
    judged = 0
    original = Stale.evaluate

    def counting(self: Stale, ctx: Context, active: bool) -> bool | None:
        nonlocal judged
        judged += 1
        return original(self, ctx, active)

    Stale.evaluate = counting  # type: ignore[method-assign]
    try:
        for second in range(1, 600):
            assert engine.tick(at=1000.0 + second) == []
        assert judged == 0  # passed over for ten minutes
        raised = engine.tick(at=1600.5)
    finally:
        Stale.evaluate = original  # type: ignore[method-assign]
    assert changes(raised) == [("p1", "pump.stale", Change.RAISED)]
    assert judged == 1


def test_a_timer_running_is_judged_at_every_tick(clock: Any) -> None:
    engine = RuleEngine(
        [rule({"point": "t", "above": 80}, **{"for": "30s"})], clock=clock.timestamp
    )
    engine.track("p1", "pump")
    engine.observe("p1", {"t": 90}, at=0.0)
    assert engine.tick(at=29.0) == []
    assert changes(engine.tick(at=30.0)) == [("p1", "pump.test", Change.RAISED)]


def test_a_clearing_timer_ends_at_its_tick(clock: Any) -> None:
    engine = RuleEngine([rule({"point": "t", "above": 80}, clear_for="1m")], clock=clock.timestamp)
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"t": 90}, at=0.0)) == [("p1", "pump.test", Change.RAISED)]
    assert engine.observe("p1", {"t": 20}, at=100.0) == []  # clearing from now
    for second in range(101, 160):
        assert engine.tick(at=float(second)) == []
    assert changes(engine.tick(at=160.0)) == [("p1", "pump.test", Change.CLEARED)]


def test_a_restored_alarm_is_judged_at_the_next_tick(clock: Any) -> None:
    engine = RuleEngine([rule({"stale": "10m"}, rule_id="pump.stale")], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"flow": 1.0}, at=1000.0)
    engine.tick(at=1001.0)
    engine.mark_active("p1", "pump.stale")  # known active after a restart
    # the data is fresh: judged at the next tick, not in ten minutes, and it clears
    assert changes(engine.tick(at=1002.0)) == [("p1", "pump.stale", Change.CLEARED)]


def test_a_time_of_day_window_waits_for_the_next_minute_of_the_sites_clock() -> None:
    window = Between.model_validate({"between": ["19:00", "06:00"]})
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 7, 18, 59, 42, 500000, tzinfo=shanghai).timestamp()
    ctx = Context(
        now=now, values={}, last_seen=None, status="online", history={}, timezone=shanghai
    )
    until = window.steady_until(ctx)
    assert datetime.fromtimestamp(until, shanghai) == datetime(2026, 3, 7, 19, 0, tzinfo=shanghai)
    assert window.evaluate(ctx, False) is False
    at_seven = Context(
        now=until, values={}, last_seen=None, status="online", history={}, timezone=shanghai
    )
    assert window.evaluate(at_seven, False) is True
