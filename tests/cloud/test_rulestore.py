"""Saving the rule engine's state by what changed: timers in `rule_states`, history in parts
that are sealed once full (cloud.rulestore), on a temp SQLite file."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud import rulestore
from cloud.db import Database
from cloud.equipment import RuleHistory, RuleState
from cloud.rules.engine import RuleEngine
from cloud.rules.model import Rule
from cloud.rulestore import RuleStateStore, load_snapshots
from tests.cloud.harness import Clock, site_database
from tests.harness import site_yaml


def rule(rule_id: str, condition: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate(
        {
            "id": rule_id,
            "kind": "pump",
            "title": rule_id,
            "condition": condition,
            "severity": "major",
            "priority": "urgent",
            **extra,
        }
    )


STARTS = rule("pump.starts", {"point": "starts", "increase_above": 10**9, "window": "10m"})
RISING = rule("pump.rising", {"point": "sump_level", "rate_above": 10**9, "window": "2m"})
SLOW = rule("pump.hot", {"point": "t", "above": 80}, **{"for": "10m"})


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    _, database = site_database(tmp_path, site_yaml("cloud-s1"))  # pumps p1, p2 in b1
    try:
        yield database
    finally:
        database.close()


def engine_on(clock: Clock, rules: list[Rule], max_history: int = 16) -> RuleEngine:
    engine = RuleEngine(rules, clock=clock.timestamp, max_history=max_history)
    engine.track("s1/p1", "pump")
    engine.track("s1/p2", "pump")
    return engine


def started(
    db: Database, rules: list[Rule], *, part_samples: int = 64, max_history: int = 16
) -> tuple[Clock, RuleEngine, RuleStateStore]:
    """A clock, an engine tracking p1 and p2, and a store that has read the database."""
    clock = Clock(datetime.fromtimestamp(1_000_000.0, UTC))
    engine = engine_on(clock, rules, max_history)
    store = RuleStateStore(part_samples=part_samples)
    with db.sessions() as session:
        store.load(session)
    return clock, engine, store


def save(
    db: Database, store: RuleStateStore, engine: RuleEngine, clock: Clock, *, everything: bool
) -> int:
    changes = engine.take_changes()
    ids = set(engine.tracked_ids()) if everything else changes.history
    with db.session() as session:
        return store.save(session, engine, timers=changes.rules, history=ids, now=clock())


def saved_history(db: Database, equipment_id: str) -> dict[str, list[tuple[float, float]]]:
    with db.sessions() as session:
        data = load_snapshots(session, [equipment_id]).get(equipment_id, {})
    return {p: [(a, v) for a, v in samples] for p, samples in data.get("history", {}).items()}


def part_rows(db: Database) -> dict[tuple[str, str, int], list[list[float]]]:
    with db.sessions() as session:
        return {
            (f"{r.site}/{r.equipment_id}", r.point, r.part): r.samples
            for r in session.scalars(select(RuleHistory))
        }


def test_what_is_saved_is_the_engines_history_however_it_was_thinned_and_trimmed(
    db: Database,
) -> None:
    """Random samples (some replacing the newest, old ones leaving the window, points that
    stop reporting), saved at random moments in parts of 3: what a restart reads back ends with
    exactly what the engine holds, and only older samples come before it."""
    rng = random.Random(21)
    clock, engine, store = started(db, [STARTS, RISING], part_samples=3)
    starts = {"s1/p1": 0, "s1/p2": 0}
    for step in range(600):
        clock.advance(rng.choice([0.0, 0.5, 3.0, 7.0, 20.0, 45.0]))
        equipment = rng.choice(["s1/p1", "s1/p2"])
        starts[equipment] += rng.choice([0, 1, 1, 2, -starts[equipment]])  # -: a reset
        values: dict[str, Any] = {"starts": starts[equipment]}
        if step < 300 or equipment == "s1/p1":  # p2's sump level stops reporting halfway
            values["sump_level"] = rng.uniform(0, 100)
        engine.observe(equipment, values)
        if rng.random() < 0.1:
            engine.tick()
        if rng.random() < 0.3:
            save(db, store, engine, clock, everything=False)
            for equipment_id in ("s1/p1", "s1/p2"):
                on_disk = saved_history(db, equipment_id)
                for point, samples in engine.history(equipment_id).items():
                    kept = list(samples)
                    stored = on_disk[point]
                    assert stored[len(stored) - len(kept) :] == kept, (step, equipment_id, point)
                    assert all(at <= kept[0][0] for at, _ in stored[: len(stored) - len(kept)])
    # bounded: a point keeps at most what its window holds, in parts of 3, plus one open part
    for part in part_rows(db).values():
        assert len(part) <= 4  # a part holds 3, or 4 when the last two share their time
    assert len(part_rows(db)) <= 2 * 2 * (16 // 3 + 3)


def test_a_save_rewrites_only_the_open_part(db: Database) -> None:
    clock, engine, store = started(db, [STARTS], part_samples=4, max_history=4096)
    for n in range(10):
        clock.advance(1)
        engine.observe("s1/p1", {"starts": n})
    save(db, store, engine, clock, everything=False)
    first = part_rows(db)
    # 10 samples in parts of 4: two sealed, the open one holds the last 2
    assert sorted(first) == [("s1/p1", "starts", 0), ("s1/p1", "starts", 1), ("s1/p1", "starts", 2)]
    assert [len(first["s1/p1", "starts", p]) for p in range(3)] == [4, 4, 2]
    clock.advance(1)
    engine.observe("s1/p1", {"starts": 10})
    save(db, store, engine, clock, everything=False)
    second = part_rows(db)
    assert second["s1/p1", "starts", 0] == first["s1/p1", "starts", 0]
    assert second["s1/p1", "starts", 1] == first["s1/p1", "starts", 1]
    assert [v for _, v in second["s1/p1", "starts", 2]] == [8, 9, 10]


def test_sealed_parts_leave_once_the_window_has_passed_them(db: Database) -> None:
    clock, engine, store = started(db, [STARTS], part_samples=4, max_history=4096)
    for n in range(12):
        clock.advance(1)
        engine.observe("s1/p1", {"starts": n})
    save(db, store, engine, clock, everything=False)
    assert len(part_rows(db)) == 3
    clock.advance(20 * 60)  # past the 10-minute window: one sample is kept, the one in force
    engine.observe("s1/p1", {"starts": 12})
    engine.tick()
    save(db, store, engine, clock, everything=False)
    assert [v for _, v in saved_history(db, "s1/p1")["starts"]][-2:] == [11, 12]
    assert len(part_rows(db)) == 1


def test_timers_and_history_survive_a_restart_through_the_store(db: Database) -> None:
    clock, engine, store = started(db, [STARTS, SLOW], part_samples=3)
    engine.observe("s1/p1", {"t": 85, "starts": 1})
    for n in range(2, 9):
        clock.advance(30)
        engine.observe("s1/p1", {"starts": n})
    assert save(db, store, engine, clock, everything=False) == 1
    again = engine_on(clock, [STARTS, SLOW])
    with db.sessions() as session:
        for equipment_id, data in RuleStateStore().load(session).items():
            again.restore(equipment_id, data)
    assert again.snapshot("s1/p1") == engine.snapshot("s1/p1")
    assert again.snapshot("s1/p1")["rules"]["pump.hot"]["pending_since"] is not None


def test_a_row_saved_before_the_parts_is_read_then_moved_into_parts(db: Database) -> None:
    clock = Clock(datetime.fromtimestamp(1_000_000.0, UTC))
    old = {
        "version": 1,
        "rules": {
            "pump.hot": {"active": False, "pending_since": 999_990.0, "clearing_since": None}
        },
        "history": {"starts": [[999_900.0, 1.0], [999_950.0, 2.0]]},
    }
    with db.session() as session:
        session.add(RuleState(site="s1", equipment_id="p1", data=old, saved_at=clock()))
    engine = engine_on(clock, [STARTS, SLOW])
    store = RuleStateStore()
    with db.sessions() as session:
        for equipment_id, data in store.load(session).items():
            engine.restore(equipment_id, data)
    assert [v for _, v in engine.history("s1/p1")["starts"]] == [1.0, 2.0]
    # the timers change; the history is saved with them, out of the old row
    clock.advance(10)
    engine.observe("s1/p1", {"t": 70})
    save(db, store, engine, clock, everything=False)
    with db.sessions() as session:
        row = session.get(RuleState, ("s1", "p1"))
        assert row is not None and "history" not in row.data
    assert [v for _, v in saved_history(db, "s1/p1")["starts"]] == [1.0, 2.0]


def test_the_history_of_a_point_no_rule_reads_any_more_is_deleted(db: Database) -> None:
    clock, engine, store = started(db, [STARTS, RISING])
    engine.observe("s1/p1", {"starts": 1, "sump_level": 5})
    save(db, store, engine, clock, everything=False)
    assert {point for _, point, _ in part_rows(db)} == {"starts", "sump_level"}
    engine.set_rules([STARTS])
    save(db, store, engine, clock, everything=True)
    assert {point for _, point, _ in part_rows(db)} == {"starts"}


def test_part_size_must_be_at_least_two() -> None:
    with pytest.raises(ValueError, match="part_samples"):
        RuleStateStore(part_samples=1)


def test_the_state_of_some_equipment_is_read_a_few_ids_at_a_time(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, engine, store = started(db, [STARTS, SLOW])
    engine.observe("s1/p1", {"t": 85, "starts": 1})
    engine.observe("s1/p2", {"starts": 7})
    save(db, store, engine, clock, everything=False)
    monkeypatch.setattr(rulestore, "READ_IDS", 1)
    with db.sessions() as session:
        some = load_snapshots(session, ["s1/p2", "s1/p1", "s1/x9"])
        one = load_snapshots(session, ["s1/p2"])
    assert sorted(some) == ["s1/p1", "s1/p2"]
    assert some["s1/p1"]["rules"]["pump.hot"]["pending_since"] == 1_000_000.0
    assert one == {
        "s1/p2": {"version": 1, "rules": {}, "history": {"starts": [[1_000_000.0, 7.0]]}}
    }
