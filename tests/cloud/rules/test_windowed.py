"""A counter's increase over a window: the running rises give what a pass over every sample
of the window gives, wherever the window starts (the engine trims to the longest window of
a point; a rule may read a shorter one)."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.rules.base import Context
from cloud.rules.windowed import CounterSamples, Increase, rise

counters = st.lists(
    st.tuples(st.integers(1, 120), st.integers(0, 50)), min_size=1, max_size=40
)  # (seconds since the sample before, value): rises, holds and resets


@given(counters, st.integers(1, 3000), st.integers(-100, 3000))
def test_the_increase_from_running_rises_is_that_of_a_pass(
    steps: list[tuple[int, int]], window: int, now_after: int
) -> None:
    with_rises: CounterSamples = CounterSamples(100)
    plain: deque[tuple[float, float]] = deque(maxlen=100)
    at = 1_000_000.0
    for gap, value in steps:
        at += gap
        with_rises.append((at, float(value)))
        plain.append((at, float(value)))
    rule = Increase.model_validate({"point": "starts", "increase_above": 5, "window": window})

    def increase(history: deque[tuple[float, float]]) -> tuple[float, bool] | None:
        ctx = Context(
            now=at + now_after,
            values={},
            last_seen=at,
            status="online",
            history={"starts": history},
        )
        return rule.increase(ctx)

    assert increase(with_rises) == increase(plain)


@pytest.mark.parametrize(
    ("previous", "value", "risen"),
    [
        (100.0, 104.0, 4.0),  # counted up
        (104.0, 104.0, 0.0),  # held
        (104.0, 0.0, 0.0),  # cleared, nothing since
        (104.0, 2.0, 2.0),  # cleared, then two
        (65_530.0, 5.0, 5.0),  # a 16-bit register wrapped round
        (800.0, 100.0, 100.0),  # an eighth of the value before: still a reset
        (800.0, 101.0, 0.0),  # more than an eighth left: not a reset
        (26_905.0, 26_832.0, 0.0),  # restarted with an older count
        (27_000.0, 12_000.0, 0.0),  # a replacement controller that reads lower
    ],
)
def test_a_fall_to_near_zero_is_a_reset_and_any_other_fall_adds_nothing(
    previous: float, value: float, risen: float
) -> None:
    assert rise(previous, value) == risen
