"""What the engine skips to save work changes nothing: judging only the rules a sample can move
gives the transitions judging every rule gives, and a counter's running rise gives the
increase a pass over its window gives."""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.rules.base import Context
from cloud.rules.engine import RuleEngine, Transition
from cloud.rules.loader import load_rules
from cloud.rules.state import Window, append, new_samples, trim
from cloud.rules.windowed import CounterSamples, Increase

RULES = load_rules()

# Each kind's points that its shipped rules read, each with a few values that matter to them
# (thresholds either side, states, flags, rising counters), and values of no rule.
POINTS: dict[str, dict[str, list[Any]]] = {
    "pump": {
        "dry_run": [True, False],
        "low_pressure": [True, False],
        "over_current": [True, False],
        "run_state": ["running", "stopped", "fault"],
        "alarm_code": ["none", "overload", "motor_over_temperature", "unheard_of"],
        "motor_temperature": [55, 90, 101],
        "vibration": [1.2, 3.0, 4.6],
        "high_level": [True, False],
        "sump_level": [30, 85, 95],
        "leak": [True, False],
        "starts": [100, 101, 140, 3],
        "speed": [1450, 1451],
    },
    "elevator": {
        "passenger_trapped": [True, False],
        "fault_code": ["none", "door_open_fault", "leveling_error", "stopped_outside_landing_zone"],
        "load": [0, 300],
        "mode": ["normal", "stopped", "out_of_service"],
        "at_landing": [True, False],
        "door_cycles": [2000, 2003, 2010],
        "trips": [1000, 1001],
        "drive_temperature": [45, 80, 90],
        "safety_circuit_ok": [True, False],
        "floor": [1, 2],
    },
}

step = st.one_of(
    st.tuples(st.just("sample"), st.integers(0, 2**31), st.floats(0.1, 400.0)),
    st.tuples(st.just("tick"), st.just(0), st.floats(0.1, 400.0)),
    st.tuples(st.sampled_from(["online", "offline", "stale"]), st.just(0), st.floats(0.1, 60.0)),
)


def _sample(kind: str, seed: int) -> dict[str, Any]:
    """Some of the kind's points, values picked by `seed`'s digits."""
    out: dict[str, Any] = {}
    for i, (point, values) in enumerate(POINTS[kind].items()):
        digit = (seed >> (2 * i)) & 3
        if digit:  # 0: the point is not in the sample
            out[point] = values[digit % len(values)]
    return out


class EveryRule(RuleEngine):
    """The engine as it was before it skipped rules: a sample has every rule judged."""

    def _evaluate(self, *args: Any, changed: object = None, **kwargs: Any) -> list[Transition]:
        return super()._evaluate(*args, **kwargs)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(POINTS)), steps=st.lists(step, min_size=1, max_size=60))
def test_judging_only_the_rules_a_sample_moves_changes_no_transition(
    kind: str, steps: list[tuple[str, int, float]]
) -> None:
    now = 1_000_000.0
    skipping = RuleEngine(RULES, clock=lambda: now)
    every = EveryRule(RULES, clock=lambda: now)
    for engine in (skipping, every):
        engine.track("x1", kind, status="online", last_seen=now)
    for what, seed, advance in steps:
        now += advance
        if what == "sample":
            values = _sample(kind, seed)
            got = skipping.observe("x1", values, at=now)
            want = every.observe("x1", values, at=now)
        elif what == "tick":
            got, want = skipping.tick(at=now), every.tick(at=now)
        else:
            got = skipping.set_status("x1", what, at=now)
            want = every.set_status("x1", what, at=now)
        assert [(t.rule.id, t.change, t.at, t.values, t.message) for t in got] == [
            (t.rule.id, t.change, t.at, t.values, t.message) for t in want
        ]
    assert skipping.snapshot("x1") == every.snapshot("x1")


def _passed_over(samples: deque[tuple[float, float]]) -> list[tuple[float, float]]:
    """The same samples as a plain list, which `Increase` reads with a pass over the window."""
    return list(samples)


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 120.0), min_size=1, max_size=300),
    values=st.lists(st.integers(0, 40), min_size=300, max_size=300),
    window=st.sampled_from([60.0, 300.0, 3600.0]),
    history=st.sampled_from([300.0, 3600.0]),
    max_history=st.sampled_from([4, 16, 4096]),
    looks=st.lists(st.floats(0.0, 4000.0), min_size=1, max_size=5),
)
def test_a_counters_running_rise_gives_the_increase_of_a_pass(
    gaps: list[float],
    values: list[int],
    window: float,
    history: float,
    max_history: int,
    looks: list[float],
) -> None:
    kept = Window(history, counter=True)
    samples = new_samples(kept, max_history)
    assert isinstance(samples, CounterSamples)
    now, counter = 0.0, 0
    for gap, value in zip(gaps, values, strict=False):
        now += gap
        counter = value if value < 5 else counter + value // 10  # now and then a reset
        append(samples, now, float(counter), kept, max_history)
        trim(samples, now - history)
    condition = Increase(point="c", increase_above=10, window=window)
    for back in looks:
        at = now + back - 2000.0
        fast = Context(now=at, values={}, last_seen=None, status="online", history={"c": samples})
        slow = Context(
            now=at, values={}, last_seen=None, status="online", history={"c": _passed_over(samples)}
        )
        assert condition.increase(fast) == condition.increase(slow)
