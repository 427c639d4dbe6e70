"""The rule engine's history stays within its bound however often a point reports, and the
counter windows' thinning changes no increase and no rate."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rules.base import Context
from cloud.rules.engine import MAX_HISTORY_SAMPLES, RuleEngine
from cloud.rules.model import Rule
from cloud.rules.state import Window, append, new_samples
from cloud.rules.windowed import Increase, Rate

HOUR = 3600.0


def rule(condition: dict[str, Any]) -> Rule:
    return Rule.model_validate(
        {
            "id": "pump.test",
            "kind": "pump",
            "title": "Test fault",
            "condition": condition,
            "severity": "minor",
            "priority": "normal",
        }
    )


def kept(engine: RuleEngine, point: str) -> int:
    return len(engine._equipment["p1"].history[point])


@pytest.mark.parametrize(
    ("condition", "every_s"),
    [
        ({"point": "starts", "increase_above": 1e9, "window": "1h"}, 1.0),  # a counter
        ({"point": "starts", "increase_above": 1e9, "window": "1h"}, 1.5),
        ({"point": "level", "rate_above": 1e9, "window": "1h"}, 1.0),  # any other point
        ({"point": "level", "rate_above": 1e9, "window": "5m"}, 0.1),
    ],
)
def test_a_window_holds_at_most_half_max_history_samples(
    condition: dict[str, Any], every_s: float
) -> None:
    """A point reporting a new value every second into a one-hour window: the window holds
    `max_history / 2` samples at most (the resolution is a 2,048th of the window), not one
    per report (3,600 here, which a 1,000-device campus paid in memory for every pump)."""
    point = condition["point"]
    engine = RuleEngine([rule(condition)])
    engine.track("p1", "pump")
    window = 300.0 if condition["window"] == "5m" else HOUR
    reports = int(1.5 * window / every_s)
    for i in range(reports):
        engine.observe("p1", {point: i}, at=1000.0 + i * every_s)
    assert kept(engine, point) <= MAX_HISTORY_SAMPLES // 2 + 2


def test_a_counter_that_does_not_move_keeps_the_ends_of_its_runs() -> None:
    """Two hours of a pump's start counter read every second, starting four times: each run
    of one value is kept as its first and last sample, and the increase is the same."""
    r = rule({"point": "starts", "increase_above": 3, "window": "1h"})
    engine = RuleEngine([r])
    engine.track("p1", "pump")
    starts, now = 2000, 1000.0
    for second in range(int(2 * HOUR)):
        if second in (4000, 5000, 6000, 7000):
            starts += 1
        now = 1000.0 + second
        out = engine.observe("p1", {"starts": starts}, at=now)
        if second == 7000:
            assert [t.rule.id for t in out] == ["pump.test"]  # 4 starts in the hour
    assert kept(engine, "starts") <= 2 * 5
    ctx = Context(
        now=now,
        values={"starts": starts},
        last_seen=now,
        status="online",
        history=engine._equipment["p1"].history,
    )
    assert r.condition.increase(ctx) == (4.0, True)  # type: ignore[union-attr]


def _context(at: float, samples: Any) -> Context:
    last = samples[-1][1] if samples else None
    return Context(
        now=at, values={"c": last}, last_seen=at, status="online", history={"c": samples}
    )


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(2.0, 90.0), min_size=1, max_size=300),
    steps=st.lists(st.sampled_from([0, 0, 0, 0, 0, 1, 3, -1]), min_size=300, max_size=300),
    window=st.sampled_from([60.0, 300.0, HOUR]),
    looks=st.lists(st.floats(0.0, 200.0), min_size=1, max_size=5),
)
def test_thinning_a_counters_runs_changes_no_increase_and_no_rate(
    gaps: list[float], steps: list[int], window: float, looks: list[float]
) -> None:
    """Samples further apart than the resolution, so that only the runs of one value are
    thinned: the increase and the rate over any window are those of every sample."""
    history = Window(HOUR, counter=True)
    thinned = new_samples(history, MAX_HISTORY_SAMPLES)
    every: list[tuple[float, float]] = []
    now, counter = 0.0, 100
    for gap, step in zip(gaps, steps, strict=False):
        now += gap
        counter = 2 if step < 0 else counter + step  # -1: a reset
        append(thinned, now, float(counter), history, MAX_HISTORY_SAMPLES)
        every.append((now, float(counter)))
    increase = Increase(point="c", increase_above=1, window=window)
    rate = Rate(point="c", rate_above=1, window=window, per=60.0)
    for back in looks:
        at = now - back
        fast, slow = _context(at, thinned), _context(at, every)
        assert increase.increase(fast) == increase.increase(slow)
        assert rate.rate(fast) == rate.rate(slow)
