"""The poll schedule's arithmetic with plain numbers: due classes, spread, skips, retries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.schedule import ON_SCHEDULE_TOLERANCE, PollSchedule, class_intervals
from plantroom.profiles import Poll

INTERVALS = class_intervals(1.0, 5, 30)
ALL = (Poll.FAST, Poll.NORMAL, Poll.SLOW)


def test_classes_are_multiples_of_the_fast_interval() -> None:
    assert class_intervals(0.5, 4, 20) == {Poll.FAST: 0.5, Poll.NORMAL: 2.0, Poll.SLOW: 10.0}


def test_the_cycle_is_the_fastest_class_present() -> None:
    s = PollSchedule(INTERVALS, [Poll.SLOW, Poll.NORMAL])
    assert s.classes == (Poll.NORMAL, Poll.SLOW)
    assert (s.cycle_class, s.cycle) == (Poll.NORMAL, 5.0)
    assert s.tolerance == pytest.approx(5.0 * ON_SCHEDULE_TOLERANCE)


def test_a_schedule_needs_a_class_and_positive_intervals() -> None:
    with pytest.raises(ValueError, match="at least one poll class"):
        PollSchedule(INTERVALS, [])
    with pytest.raises(ValueError, match="poll class normal"):
        PollSchedule({**INTERVALS, Poll.NORMAL: 0.0}, ALL)


def test_every_class_is_due_at_the_start_then_each_on_its_interval() -> None:
    s = PollSchedule(INTERVALS, ALL)
    s.start(100.0)
    assert s.due(100.0) == ALL
    assert s.polled(ALL, 100.02) == 0
    assert s.planned == 101.0
    assert s.next_due == {Poll.FAST: 101.0, Poll.NORMAL: 105.0, Poll.SLOW: 130.0}
    assert s.due(100.4) == ()  # more than half a cycle early
    assert s.due(100.5) == (Poll.FAST,)
    s.polled((Poll.FAST,), 101.01)
    assert s.due(104.6) == (Poll.FAST, Poll.NORMAL)  # within half a cycle: read together


def test_lateness_is_measured_from_the_planned_time() -> None:
    s = PollSchedule(INTERVALS, [Poll.FAST])
    s.start(10.0)
    s.polled((Poll.FAST,), 10.01)
    assert s.lateness(11.05) == pytest.approx(0.05)  # on schedule: within 10 % of 1 s
    assert s.lateness(11.2) > s.tolerance  # late
    assert s.lateness(10.9) < 0  # early counts as on schedule


def test_an_overrun_skips_the_ticks_whose_window_closed() -> None:
    s = PollSchedule(INTERVALS, [Poll.FAST, Poll.SLOW])
    s.start(0.0)
    # a poll that took 3.5 s: ticks 1, 2 and 3 have closed windows, 4 is next
    assert s.polled((Poll.FAST, Poll.SLOW), 3.5) == 3
    assert s.next_due[Poll.FAST] == 4.0
    assert s.next_due[Poll.SLOW] == 30.0


def test_finishing_inside_the_window_skips_nothing() -> None:
    s = PollSchedule(INTERVALS, [Poll.FAST])
    s.start(0.0)
    assert s.polled((Poll.FAST,), 1.1) == 0  # the next due time 1.0 is still on schedule
    assert s.next_due[Poll.FAST] == 1.0


def test_skips_of_slower_classes_are_not_counted() -> None:
    s = PollSchedule(INTERVALS, [Poll.FAST, Poll.NORMAL])
    s.start(0.0)
    s.next_due[Poll.FAST] = 20.0  # as if the fast class had just been polled
    assert s.polled((Poll.NORMAL,), 12.0) == 0
    assert s.next_due[Poll.NORMAL] == 15.0


def test_offline_retries_make_every_class_due_at_the_retry_time() -> None:
    s = PollSchedule(INTERVALS, ALL)
    s.start(0.0)
    s.polled(ALL, 0.1)
    s.retry_at(7.5)
    assert s.planned == 7.5
    assert set(s.next_due.values()) == {7.5}
    assert s.due(0.2, retrying=True) == ALL


def test_the_first_poll_is_spread_over_one_cycle() -> None:
    s = PollSchedule(INTERVALS, [Poll.NORMAL])
    rng = random.Random(3)
    offsets = [s.offset(rng) for _ in range(200)]
    assert all(0.0 <= o <= 5.0 for o in offsets)
    assert min(offsets) < 1.0 and max(offsets) > 4.0


classes = st.sets(st.sampled_from(ALL), min_size=1)
fast = st.floats(min_value=0.01, max_value=60.0)
every = st.integers(min_value=1, max_value=60)


@given(
    classes=classes,
    fast_s=fast,
    normal_every=every,
    slow_every=every,
    start=st.floats(min_value=0.0, max_value=1e6),
    took=st.lists(st.floats(min_value=0.0, max_value=500.0), min_size=1, max_size=20),
)
def test_after_each_poll_the_next_due_times_are_open_and_on_the_grid(
    classes: set[Poll],
    fast_s: float,
    normal_every: int,
    slow_every: int,
    start: float,
    took: list[float],
) -> None:
    intervals = class_intervals(fast_s, normal_every, slow_every)
    s = PollSchedule(intervals, classes)
    s.start(start)
    now = start
    for duration in took:
        due = s.due(now)
        assert set(due) <= set(s.classes)
        if not due:
            now = s.planned
            due = s.due(now)
            assert due, "at the planned time the earliest class is due"
        before = dict(s.next_due)
        finished = now + duration
        skipped = s.polled(due, finished)
        for c in s.classes:
            if c not in due:
                assert s.next_due[c] == before[c]
                continue
            interval = intervals[c]
            steps = (s.next_due[c] - before[c]) / interval
            assert steps == pytest.approx(round(steps), abs=1e-6)  # on the class's grid
            assert round(steps) >= 1
            # the new due time's on-schedule window is open at `finished` ...
            assert s.next_due[c] + s.tolerance >= finished - 1e-6 * max(1.0, finished)
            # ... and the one before it was closed, unless it is the very next one
            if round(steps) > 1:
                assert s.next_due[c] - interval + s.tolerance < finished + 1e-6 * finished
            if c is s.cycle_class:
                assert skipped == round(steps) - 1
        if s.cycle_class not in due:
            assert skipped == 0
        assert s.planned == min(s.next_due.values())
        now = max(finished, s.planned)
