"""The intake queue: urgent samples first, per-equipment order kept, routine samples folded
except where a windowed rule needs them, the bound, and the lag watch. Pure logic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cloud.enums import EquipmentStatus
from cloud.intake import Delays, Intake, IntakeQueue, LagWatch, fold
from cloud.monitor import StatusItem, TelemetryItem, TickItem
from cloud.rules.loader import load_rules
from cloud.triggers import HistoryPoint, Triggers
from plantroom.schema import MAX_POINTS, Quality, Telemetry
from plantroom.topics import EquipmentTopic

T0 = 1_700_000_000_000


def topic(equipment: str, kind: str = "pump") -> EquipmentTopic:
    return EquipmentTopic("s1", "b1", kind, equipment)


class Feed:
    """Samples of several pieces of equipment with rising times and sequence numbers."""

    def __init__(self) -> None:
        self.seq = 0
        self.ts = T0

    def sample(
        self, equipment: str, points: dict[str, Any], *, kind: str = "pump", dt_ms: int = 1000
    ) -> TelemetryItem:
        self.seq += 1
        self.ts += dt_ms
        return TelemetryItem(
            topic(equipment, kind), Telemetry(ts=self.ts, seq=self.seq, points=points)
        )


def queue(maxsize: int = 100) -> IntakeQueue:
    return IntakeQueue(maxsize, Triggers(load_rules()))


def items(q: IntakeQueue, n: int = 1000) -> list[Any]:
    """The items of successive batches of up to `n` until the queue is empty."""
    out: list[Any] = []
    while batch := q.take(n):
        out += [e.item for e in batch]
    return out


def test_a_fault_goes_before_routine_samples_queued_earlier() -> None:
    q, feed = queue(), Feed()
    for n in range(20):
        q.put(feed.sample(f"pump-{n}", {"dry_run": False, "speed": 1450}), 0.0)
    q.take(100)  # every pump's first sample (its states are news) is through
    for n in range(20):
        q.put(feed.sample(f"pump-{n}", {"speed": 1400 + n}), 1.0)
    fault = feed.sample("pump-7", {"dry_run": True})
    q.put(fault, 2.0)
    assert (q.urgent_waiting, q.routine_waiting) == (1, 20)
    batch: list[Any] = [e.item for e in q.take(3)]
    # pump-7's earlier routine sample goes with it, in front, in a batch of their own
    assert [i.topic.equipment for i in batch] == ["pump-7", "pump-7"]
    assert batch[1] is fault
    assert batch[0].telemetry.points == {"speed": 1407}
    rest: list[Any] = [e.item for e in q.take(100)]
    assert len(rest) == 19 and "pump-7" not in {i.topic.equipment for i in rest}
    assert len(q) == 0


def test_a_routine_sample_after_a_fault_stays_behind_it() -> None:
    q, feed = queue(), Feed()
    q.put(feed.sample("pump-1", {"dry_run": False}), 0.0)
    q.take(10)
    q.put(feed.sample("pump-1", {"speed": 1000}), 1.0)
    q.put(feed.sample("pump-1", {"dry_run": True, "speed": 1100}), 2.0)
    q.put(feed.sample("pump-1", {"speed": 1200}), 3.0)  # not folded into the first
    batch = items(q)
    assert [i.telemetry.points for i in batch] == [
        {"speed": 1000},
        {"dry_run": True, "speed": 1100},
        {"speed": 1200},
    ]


def test_status_and_ticks_are_urgent_and_keep_their_equipment_s_order() -> None:
    q, feed = queue(), Feed()
    q.put(feed.sample("pump-1", {"dry_run": False}), 0.0)
    q.put(feed.sample("pump-2", {"dry_run": False}), 0.0)
    q.take(10)
    q.put(feed.sample("pump-2", {"speed": 5}), 0.0)
    q.put(feed.sample("pump-1", {"speed": 10}), 0.0)
    status = StatusItem(topic("pump-1"), EquipmentStatus.OFFLINE)
    q.put(status, 1.0)
    tick = TickItem()
    q.put(tick, 2.0)
    batch = items(q)
    assert batch[1] is status and batch[0].telemetry.points == {"speed": 10}
    assert batch[2] is tick
    assert batch[3].topic.equipment == "pump-2"


def test_routine_samples_of_one_equipment_fold_into_the_last_values() -> None:
    q, feed = queue(), Feed()
    q.put(feed.sample("pump-1", {"dry_run": False, "speed": 1}), 0.0)
    q.take(10)
    q.put(feed.sample("pump-1", {"speed": 2, "flow": 10.0}), 5.0)
    q.put(feed.sample("pump-1", {"speed": 3}), 6.0)
    last = feed.sample("pump-1", {"discharge_pressure": 4.2})
    q.put(last, 7.0)
    q.put(feed.sample("pump-2", {"dry_run": False}), 8.0)
    assert len(q) == 2 and q.coalesced == 2
    entries = q.take(10) + q.take(10)
    folded = next(e for e in entries if e.key == "s1/pump-1")
    assert folded.messages == 3 and folded.received == 5.0  # the oldest message's arrival
    assert isinstance(folded.item, TelemetryItem)
    t = folded.item.telemetry
    assert t.points == {"speed": 3, "flow": 10.0, "discharge_pressure": 4.2}
    assert (t.ts, t.seq) == (last.telemetry.ts, last.telemetry.seq)


def test_quality_follows_the_value_it_belongs_to() -> None:
    old = Telemetry(
        ts=T0,
        seq=1,
        points={"speed": None, "flow": None},
        quality={"speed": Quality.UNAVAILABLE, "flow": Quality.UNAVAILABLE},
    )
    new = Telemetry(ts=T0 + 1000, seq=2, points={"speed": 1450})
    merged = fold(old, new, first_ts=T0, windows={})
    assert merged is not None
    assert merged.points == {"speed": 1450, "flow": None}
    assert merged.quality == {"flow": Quality.UNAVAILABLE}


def test_a_windowed_point_is_folded_only_within_the_engine_s_resolution() -> None:
    windows = {"vibration": HistoryPoint(resolution_s=84.0, counter=False)}
    a = Telemetry(ts=T0, seq=1, points={"vibration": 2.0})
    assert fold(
        a, Telemetry(ts=T0 + 80_000, seq=2, points={"vibration": 2.1}), first_ts=T0, windows=windows
    )
    assert (
        fold(
            a,
            Telemetry(ts=T0 + 84_000, seq=2, points={"vibration": 2.1}),
            first_ts=T0,
            windows=windows,
        )
        is None
    )
    # a sample without the point replaces nothing of its history
    assert fold(
        a, Telemetry(ts=T0 + 600_000, seq=2, points={"speed": 1}), first_ts=T0, windows=windows
    )


def test_a_counter_s_fall_is_never_folded_away() -> None:
    windows = {"starts": HistoryPoint(resolution_s=2.0, counter=True)}
    a = Telemetry(ts=T0, seq=1, points={"starts": 40})
    assert fold(
        a, Telemetry(ts=T0 + 500, seq=2, points={"starts": 41}), first_ts=T0, windows=windows
    )
    assert (
        fold(a, Telemetry(ts=T0 + 500, seq=2, points={"starts": 0}), first_ts=T0, windows=windows)
        is None
    )
    # beyond the resolution a rise is kept, an unchanged counter is not worth an entry
    later = Telemetry(ts=T0 + 5000, seq=2, points={"starts": 41})
    assert fold(a, later, first_ts=T0, windows=windows) is None
    same = Telemetry(ts=T0 + 600_000, seq=2, points={"starts": 40})
    assert fold(a, same, first_ts=T0, windows=windows)


def test_samples_a_windowed_rule_needs_each_get_their_own_entry() -> None:
    q, feed = queue(), Feed()
    q.put(feed.sample("pump-1", {"dry_run": False, "starts": 0}), 0.0)
    q.take(10)
    # the shipped short-cycling rule counts starts over 1 h: the engine keeps a sample every
    # 3600 / 2048 s, so starts a few seconds apart are each kept
    for n in range(1, 6):
        q.put(feed.sample("pump-1", {"starts": n, "speed": 1000 + n}, dt_ms=5000), float(n))
    batch = items(q)
    assert [i.telemetry.points["starts"] for i in batch] == [1, 2, 3, 4, 5]


def test_an_older_sample_is_not_folded_over_a_newer_one() -> None:
    a = Telemetry(ts=T0 + 5000, seq=5, points={"speed": 10})
    assert fold(a, Telemetry(ts=T0, seq=4, points={"speed": 9}), first_ts=T0, windows={}) is None


def test_an_entry_does_not_grow_past_the_points_a_sample_may_have() -> None:
    a = Telemetry(ts=T0, seq=1, points={f"p{n}": n for n in range(MAX_POINTS)})
    b = Telemetry(ts=T0 + 1, seq=2, points={"extra": 1})
    assert fold(a, b, first_ts=T0, windows={}) is None


def test_the_bound_counts_entries_and_folding_needs_no_room() -> None:
    q, feed = queue(maxsize=2), Feed()
    q.put(feed.sample("pump-1", {"dry_run": False}), 0.0)
    q.put(feed.sample("pump-2", {"dry_run": False}), 0.0)
    assert not q.has_room()
    q.take(1)
    q.put(feed.sample("pump-1", {"speed": 1}), 0.0)
    assert not q.has_room()
    assert q.take(5) and q.has_room()
    with pytest.raises(ValueError, match="at least 1"):
        IntakeQueue(0, Triggers([]))


def test_oldest_wait_is_the_age_of_the_oldest_waiting_message() -> None:
    q, feed = queue(), Feed()
    assert q.oldest_wait(100.0) == 0.0
    q.put(feed.sample("pump-1", {"dry_run": False}), 0.0)
    q.take(1)
    q.put(feed.sample("pump-1", {"speed": 1}), 10.0)
    q.put(feed.sample("pump-2", {"dry_run": True}), 12.0)
    q.put(feed.sample("pump-1", {"speed": 2}), 15.0)  # folded: the entry is from 10.0
    assert q.oldest_wait(20.0) == 10.0
    entries = q.take(1)  # pump-2's fault: pump-1 still waits
    assert q.oldest_wait(20.0) == 10.0
    delays = Delays()
    delays.record(entries, 20.0)
    assert (delays.urgent_s, delays.routine_s) == (8.0, None)
    entries = q.take(1)
    delays.record(entries, 21.0)
    assert (delays.routine_s, delays.routine) == (11.0, 2)
    assert q.oldest_wait(30.0) == 0.0


def test_urgent_entries_taking_routine_ones_from_the_middle_leave_no_garbage() -> None:
    q, feed = queue(maxsize=10), Feed()
    for n in range(10):
        q.put(feed.sample(f"pump-{n}", {"dry_run": False}), 0.0)
    q.take(100)
    for round_ in range(50):
        for n in range(5):
            q.put(feed.sample(f"pump-{n}", {"speed": round_}), 0.0)
            q.put(feed.sample(f"pump-{n}", {"dry_run": round_ % 2 == 0}), 0.0)
            q.take(2)
    assert len(q._routine) <= 2 * q.maxsize + 1  # the lazy deletions are bounded


def test_entries_put_back_go_in_front_and_before_a_fault_that_came_meanwhile() -> None:
    q, feed = queue(), Feed()
    for n in range(6):
        q.put(feed.sample(f"pump-{n}", {"dry_run": False}), 0.0)
    q.take(100)
    for n in range(6):
        q.put(feed.sample(f"pump-{n}", {"speed": 1000 + n}), 1.0)
    batch = q.take(100)
    # the batch stopped after two of them: a fault of pump-4 came, and a sample of pump-5
    fault = feed.sample("pump-4", {"dry_run": True})
    q.put(fault, 2.0)
    later = feed.sample("pump-5", {"speed": 2000})
    q.put(later, 2.0)
    q.put_back(batch[2:])
    assert (len(q), q.urgent_waiting, q.routine_waiting) == (6, 1, 5)
    urgent: list[Any] = [e.item for e in q.take(100)]
    assert urgent == [batch[4].item, fault]  # pump-4's older sample still goes first
    rest: list[Any] = [e.item for e in q.take(100)]
    assert rest == [batch[2].item, batch[3].item, batch[5].item, later]
    assert len(q) == 0 and q.oldest_wait(3.0) == 0.0


def test_only_routine_entries_go_back() -> None:
    q, feed = queue(), Feed()
    q.put(feed.sample("pump-1", {"dry_run": True}), 0.0)
    with pytest.raises(AssertionError, match="only routine"):
        q.put_back(q.take(10))


def test_lag_watch_raises_beyond_the_bound_and_clears_under_half() -> None:
    watch = LagWatch(60.0)
    assert not watch.observe(59.0) and not watch.behind
    assert watch.observe(61.0) and watch.behind
    assert not watch.observe(45.0) and watch.behind  # not flapping around the bound
    assert not watch.observe(90.0) and watch.worst_s == 90.0
    assert watch.observe(30.0) and not watch.behind
    with pytest.raises(ValueError, match="more than 0"):
        LagWatch(0)


async def test_a_put_waits_for_room_and_the_worker_drains_after_close() -> None:
    intake, feed = Intake(1, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"leak": False}), 0.0)
    put = asyncio.create_task(intake.put_when_room(feed.sample("pump-2", {"leak": False}), float))
    await asyncio.sleep(0)
    assert not put.done()  # no room
    first = await intake.next_batch(10, 0.0, lambda: False)
    assert [e.key for e in first] == ["s1/pump-1"]
    await put
    intake.close()
    second = await intake.next_batch(10, 0.0, lambda: False)
    assert [e.key for e in second] == ["s1/pump-2"]
    assert await intake.next_batch(10, 0.0, lambda: False) == []


async def test_a_batch_lingers_for_more_while_it_is_short() -> None:
    intake, feed = Intake(100, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"speed": 1}), 0.0)

    async def later() -> None:
        await asyncio.sleep(0)
        intake.put(feed.sample("pump-2", {"speed": 2}), 0.0)

    task = asyncio.create_task(later())
    batch = await intake.next_batch(2, 60.0, lambda: False)  # full before the linger ends
    await task
    assert [e.key for e in batch] == ["s1/pump-1", "s1/pump-2"]


async def test_a_batch_with_an_alarm_or_state_change_does_not_linger() -> None:
    intake, feed = Intake(100, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"leak": True}), 0.0)
    batch = await intake.next_batch(200, 60.0, lambda: False)  # at once, not in 60 s
    assert [e.key for e in batch] == ["s1/pump-1"] and batch[0].urgent


async def test_an_alarm_arriving_while_a_batch_lingers_ends_the_linger() -> None:
    intake, feed = Intake(100, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"speed": 1}), 0.0)

    async def later() -> None:
        await asyncio.sleep(0)
        intake.put(feed.sample("pump-2", {"speed": 2}), 0.0)
        await asyncio.sleep(0)
        intake.put(feed.sample("pump-3", {"leak": True}), 0.0)

    task = asyncio.create_task(later())
    batch = await intake.next_batch(200, 60.0, lambda: False)  # at the alarm, not in 60 s
    await task
    assert [e.key for e in batch][-1] == "s1/pump-3" and batch[-1].urgent
    assert {e.key for e in batch} | {e.key for e in intake.take(200)} == {
        "s1/pump-1",
        "s1/pump-2",
        "s1/pump-3",
    }


async def test_samples_arriving_while_a_batch_lingers_join_it_as_they_came() -> None:
    intake, feed = Intake(100, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"speed": 1}), 0.0)

    async def later() -> None:
        for speed in (2, 3, 4):
            await asyncio.sleep(0)
            intake.put(feed.sample("pump-2", {"speed": speed}), 0.0)

    task = asyncio.create_task(later())
    batch = await intake.next_batch(4, 60.0, lambda: False)  # full before the linger ends
    await task
    speeds = [e.item.telemetry.points["speed"] for e in batch if isinstance(e.item, TelemetryItem)]
    assert speeds == [1, 2, 3, 4] and intake.coalesced == 0  # not folded: not behind
    intake.put(feed.sample("pump-2", {"speed": 5}), 0.0)
    intake.put(feed.sample("pump-2", {"speed": 6}), 0.0)  # waiting for the worker: folded
    assert intake.coalesced == 1


async def test_closing_the_intake_ends_a_linger() -> None:
    intake, feed = Intake(100, Triggers([])), Feed()
    intake.put(feed.sample("pump-1", {"speed": 1}), 0.0)

    async def later() -> None:
        await asyncio.sleep(0)
        intake.close()

    task = asyncio.create_task(later())
    batch = await intake.next_batch(200, 60.0, lambda: False)  # at the close, not in 60 s
    await task
    assert [e.key for e in batch] == ["s1/pump-1"]
    assert await intake.next_batch(200, 60.0, lambda: False) == []
