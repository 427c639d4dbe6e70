"""The rules of a maintenance window as pure functions: what a new window may be, which window
covers a piece of equipment when, and which are over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.errors import InvalidInput
from cloud.maintenance.window import Board, Window, check_reason, check_times

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def window(
    id: int,
    *,
    equipment: str | None = None,
    building: str | None = None,
    start: timedelta = timedelta(0),
    until: timedelta = H,
) -> Window:
    return Window(
        id=id,
        equipment_id=equipment,
        building=building,
        starts_at=NOW + start,
        until=NOW + until,
        reason="seal replacement",
        created_by="boss",
    )


def times(start: datetime, end: datetime) -> None:
    check_times(
        start, end, now=NOW, max_duration=timedelta(days=30), past_skew=timedelta(minutes=5)
    )


def test_a_window_starts_now_or_later_and_ends_after_it_starts() -> None:
    times(NOW, NOW + H)
    times(NOW - timedelta(minutes=4), NOW + H)  # within the clock skew: taken as now
    times(NOW + timedelta(days=2), NOW + timedelta(days=3))
    with pytest.raises(InvalidInput, match=r"starts_at: .* is in the past"):
        times(NOW - timedelta(minutes=6), NOW + H)
    with pytest.raises(InvalidInput, match=r"ends_at: .* is not after starts_at"):
        times(NOW + H, NOW + H)
    with pytest.raises(InvalidInput, match=r"ends_at: .* is not after starts_at"):
        times(NOW + H, NOW)
    with pytest.raises(InvalidInput, match="more than a year ahead"):
        times(NOW + timedelta(days=400), NOW + timedelta(days=401))


def test_a_window_lasts_five_minutes_to_the_longest_the_site_allows() -> None:
    times(NOW, NOW + timedelta(days=30))
    with pytest.raises(InvalidInput, match=r"at most 30 days .*MAINTENANCE_MAX_DAYS"):
        times(NOW, NOW + timedelta(days=30, seconds=1))
    with pytest.raises(InvalidInput, match="at least 0:05:00"):
        times(NOW, NOW + timedelta(minutes=4))


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        times(NOW.replace(tzinfo=None), NOW + H)


def test_the_reason_is_required_and_bounded() -> None:
    assert check_reason("  pump isolated  ") == "pump isolated"
    with pytest.raises(InvalidInput, match="reason: say why"):
        check_reason("  ok ")
    with pytest.raises(InvalidInput, match="at most 500 characters, got 501"):
        check_reason("x" * 501)


def test_a_window_covers_its_equipment_or_its_building_while_it_runs() -> None:
    board = Board()
    board.replace([window(1, equipment="p1"), window(2, building="b2", start=H, until=3 * H)])
    assert board.covering("p1", "b1", NOW) == board.get(1)
    assert board.covering("p1", "b1", NOW + H) is None  # the end is not in the window
    assert board.covering("p1", "b1", NOW - timedelta(seconds=1)) is None
    assert board.covering("p2", "b1", NOW) is None  # another pump of the same building
    assert board.covering("e1", "b2", NOW) is None  # not started yet
    assert board.covering("e1", "b2", NOW + 2 * H) == board.get(2)
    assert board.covering("e1", "b3", NOW + 2 * H) is None


def test_of_two_windows_the_one_running_longest_covers() -> None:
    board = Board()
    board.replace([window(1, equipment="p1"), window(2, building="b1", until=4 * H)])
    assert board.covering("p1", "b1", NOW) == board.get(2)
    assert board.covering("p1", "b1", NOW, skip=frozenset({2})) == board.get(1)


def test_the_windows_over_are_due_in_order() -> None:
    board = Board()
    board.replace(
        [
            window(3, equipment="p1", until=H),
            window(1, equipment="p2", until=2 * H),
            window(2, building="b1"),
        ]
    )
    assert board.due(NOW) == []
    assert [w.id for w in board.due(NOW + H)] == [2, 3]
    assert [w.id for w in board.due(NOW + 2 * H)] == [1, 2, 3]


def test_a_window_ended_early_is_put_back_with_its_new_end_and_dropped_once_settled() -> None:
    board = Board()
    board.replace([window(1, equipment="p1", until=8 * H)])
    board.put(window(1, equipment="p1", until=timedelta(minutes=10)))
    assert len(board) == 1
    assert board.covering("p1", "b1", NOW + timedelta(minutes=11)) is None
    assert [w.id for w in board.due(NOW + timedelta(minutes=10))] == [1]
    board.drop([1])
    assert len(board) == 0 and board.due(NOW + 9 * H) == []
