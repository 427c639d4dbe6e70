"""Telemetry → registry → rules → alarms and work orders, on a temp SQLite file (no broker)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from cloud import faults, registry
from cloud.alarms.model import Alarm
from cloud.db import Database, make_engine
from cloud.enums import AlarmState, EquipmentStatus, Priority, Role, WorkOrderKind
from cloud.enums import WorkOrderStatus as S
from cloud.equipment import Equipment
from cloud.live import LiveRegistry
from cloud.monitor import Monitor, StatusItem, TelemetryItem, TickItem
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import RuleSet, load_rule_set, load_rules
from cloud.rulestore import load_snapshots
from cloud.users.service import add_user
from cloud.workorders import commands
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import Action
from plantroom.errors import ConfigError
from plantroom.inventory import load_inventory
from plantroom.schema import Telemetry
from plantroom.topics import EquipmentTopic
from tests.cloud.harness import clear_alarm
from tests.cloud.rig import INVENTORY, Rig
from tests.cloud.rows import equipment_row

SLOW_RULES = """rules:
  - id: pump.dry_run
    kind: pump
    title: Pump running dry
    condition: {point: dry_run, is: true}
    for: 30s
    severity: major
    priority: urgent
"""


def test_a_fault_raises_one_alarm_and_one_work_order(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": True, "speed": 1450}))
    for _ in range(5):
        rig.clock.advance(1)
        rig.send(rig.item("p1", {"dry_run": True}))
    assert rig.count(Alarm) == 1
    (wo,) = rig.work_orders()
    assert wo.number == "WO-000001"
    assert wo.kind is WorkOrderKind.FAULT
    assert wo.priority is Priority.URGENT
    assert wo.status is S.OPEN
    assert wo.building == "b1" and wo.equipment_id == "p1" and wo.rule_id == "pump.dry_run"
    assert wo.title == "Pump running dry: p1"
    assert wo.description is not None and "floor B2" in wo.description
    assert wo.respond_due_at == wo.created_at + timedelta(minutes=30)
    (alarm,) = rig.alarm_list()
    assert alarm.state is AlarmState.ACTIVE and alarm.last_value == {"dry_run": True}
    assert wo.alarm_id == alarm.id
    assert rig.events(wo.id) == [("created", "system")]

    rig.clock.advance(1)
    rig.send(rig.item("p1", {"dry_run": False}))
    (alarm,) = rig.alarm_list()
    assert alarm.state is AlarmState.CLEARED and alarm.cleared_at == rig.clock()
    (wo,) = rig.work_orders()
    assert wo.status is S.OPEN  # stays for the technician
    assert rig.events(wo.id)[-1] == ("fault_cleared", "system")


def test_equipment_keeps_last_values_status_and_times(rig: Rig) -> None:
    sample_at = rig.clock() - timedelta(seconds=2)
    rig.send(rig.item("p1", {"speed": 1450, "dry_run": False}, ts=sample_at))
    rig.send(rig.item("p1", {"speed": 1500}, quality={"speed": "good"}))
    rig.send(rig.item("p1", {"flow": 3.0}, quality={"flow": "unavailable"}))
    with rig.db.sessions() as session:
        p1 = registry.get(session, "p1")
        assert p1.last_values == {"speed": 1500, "dry_run": False, "flow": None}
        assert p1.status is EquipmentStatus.ONLINE
        assert p1.last_seen == rig.clock()
        assert p1.last_seq == rig.seq
    rig.send(StatusItem(EquipmentTopic("s1", "b1", "pump", "p1"), EquipmentStatus.OFFLINE))
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").status is EquipmentStatus.OFFLINE


def test_a_batch_told_to_stop_commits_what_it_applied_and_leaves_the_rest(rig: Rig) -> None:
    asked: list[int] = []

    def stop() -> bool:
        asked.append(len(asked))
        return len(asked) >= 2  # after the second item

    items = [rig.item("p1", {"speed": s, "dry_run": False}) for s in (1000, 1100, 1200, 1300)]
    assert rig.monitor.process(items, stop) == 2
    assert asked == [0, 1]  # never before the first item: a batch always makes progress
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").last_values == {"speed": 1100, "dry_run": False}
    assert rig.monitor.process(items[2:]) == 2
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").last_values == {"speed": 1300, "dry_run": False}


def test_a_recurring_fault_reuses_the_open_work_order(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": True}))
    rig.send(rig.item("p1", {"dry_run": False}))
    rig.send(rig.item("p1", {"dry_run": True}))
    (alarm,) = rig.alarm_list()
    assert alarm.state is AlarmState.ACTIVE and alarm.occurrences == 2
    (wo,) = rig.work_orders()
    assert [a for a, _ in rig.events(wo.id)] == ["created", "fault_cleared", "fault_recurred"]

    # the technician fixes it; once resolved, the next fault is a new alarm, and, long
    # after the fix, a new job (soon after, the fixed job reopens: the work-order rules)
    rig.send(rig.item("p1", {"dry_run": False}))
    with rig.db.session() as session:
        tech = add_user(session, "tech1", Role.TECHNICIAN, now=rig.clock())
        for action in (Action.ACKNOWLEDGE, Action.START, Action.RESOLVE):
            commands.act(session, wo.id, action, user=tech, now=rig.clock(), note="fixed")
    rig.clock.advance(rig.sla.reopen_within + 1)
    rig.send(rig.item("p1", {"dry_run": True}))
    assert [w.number for w in rig.work_orders()] == ["WO-000001", "WO-000002"]
    assert [a.state for a in rig.alarm_list()] == [AlarmState.CLEARED, AlarmState.ACTIVE]


def test_each_kind_raises_with_its_priority(rig: Rig) -> None:
    rig.send(
        rig.item("l1", {"circuit_2_tripped": True}, kind="lighting"),
        rig.item("e1", {"passenger_trapped": True}, kind="elevator", building="b2"),
    )
    by_eq = {w.equipment_id: w for w in rig.work_orders()}
    assert by_eq["l1"].priority is Priority.NORMAL
    assert by_eq["e1"].priority is Priority.EMERGENCY and by_eq["e1"].building == "b2"


def test_state_survives_a_restart(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": True}))
    rig.monitor = rig.new_monitor()  # a restart: a fresh engine loaded from the database
    rig.send(rig.item("p1", {"dry_run": True}))
    assert rig.count(WorkOrder) == 1
    rig.send(rig.item("p1", {"dry_run": False}))
    assert [a.state for a in rig.alarm_list()] == [AlarmState.CLEARED]


def test_older_samples_and_strangers_are_counted_not_applied(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": False}))
    rig.send(rig.item("p1", {"dry_run": True}, ts=rig.clock() - timedelta(minutes=5)))
    assert rig.monitor.stats.out_of_order == 1
    assert rig.count(Alarm) == 0
    rig.send(
        rig.item("ghost", {"dry_run": True}),
        rig.item("p1", {"dry_run": True}, building="b2"),  # wrong building for p1
        TelemetryItem(
            EquipmentTopic("other-site", "b1", "pump", "p1"),
            Telemetry(ts=int(rig.clock().timestamp() * 1000), seq=1, points={"dry_run": True}),
        ),
    )
    assert rig.monitor.stats.unknown_equipment == 3
    assert rig.count(Alarm) == 0


def test_a_sample_stamped_ahead_does_not_hide_the_real_samples_after_it(rig: Rig) -> None:
    """A sample from a fast clock (or a forged time within the allowed skew) is taken, but
    does not make the samples after it look old: the pump really running dry still alarms."""
    rig.send(rig.item("p1", {"dry_run": False}, ts=rig.clock() + timedelta(minutes=4)))
    rig.clock.advance(1)
    rig.send(rig.item("p1", {"dry_run": True}))
    assert rig.monitor.stats.out_of_order == 0
    assert [a.rule_id for a in rig.alarm_list()] == ["pump.dry_run"]
    with rig.db.sessions() as session:
        p1 = equipment_row(session, "p1")
        assert p1 is not None and p1.last_values["dry_run"] is True
        assert p1.last_seq == rig.seq and p1.last_seen == rig.clock()
    # a replay from before the last arrival is still history, not news
    rig.send(rig.item("p1", {"dry_run": False}, ts=rig.clock() - timedelta(seconds=30)))
    assert rig.monitor.stats.out_of_order == 1


def test_a_failed_batch_rolls_back_and_reloads_the_rules(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = faults.apply
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        real(*args, **kwargs)

    monkeypatch.setattr("cloud.monitor.faults.apply", flaky)
    item = rig.item("p1", {"dry_run": True})
    with pytest.raises(RuntimeError, match="went away"):
        rig.send(item)
    assert rig.count(Alarm) == 0
    rig.send(item)  # the retry raises it: the engine did not keep the lost transition
    assert rig.count(Alarm) == 1 and rig.count(WorkOrder) == 1


def test_ticks_raise_rules_with_a_for_duration(tmp_path: Path) -> None:
    extra = tmp_path / "rules"
    extra.mkdir()
    (extra / "slow.yaml").write_text(SLOW_RULES, encoding="utf-8")
    rig = Rig(tmp_path)
    try:
        engine = RuleEngine(load_rules(extra), clock=lambda: rig.clock().timestamp())
        rig.monitor = Monitor(rig.db, engine, site="s1", clock=rig.clock, sla=rig.sla)
        rig.monitor.load()
        rig.send(rig.item("p1", {"dry_run": True}))
        rig.raises_after(30)
    finally:
        rig.db.close()


def test_database_file_pragmas_and_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/deep/er/cloud.sqlite")
    try:
        assert (tmp_path / "deep" / "er").is_dir()
        db.migrate()
        db.migrate()  # idempotent
        with db.engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
            tables = set(inspect(c).get_table_names())
        assert {
            "users",
            "api_tokens",
            "equipment",
            "alarms",
            "work_orders",
            "work_order_events",
            "alembic_version",
        } <= tables
        assert db.ping()
    finally:
        db.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a database URL"),
        ("sqlite://", "not a SQLite file"),
        ("sqlite:///:memory:", "not a SQLite file"),
        ("nosuchdb://x/y", "cannot use"),
    ],
)
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"PLANTROOM_DATABASE_URL: .*{message}"):
        make_engine(url)


def test_inventory_sync_adds_updates_and_retires(rig: Rig) -> None:
    changed = INVENTORY.replace("floor: B2", "floor: B3").replace(
        "      - {id: l1, kind: lighting, profile: lumen-lc4, connection: {type: mqtt, "
        "topic: x/l1}}\n",
        "",
    )
    (rig.tmp / "site.yaml").write_text(changed, encoding="utf-8")
    with rig.db.session() as session:
        counts = registry.sync_inventory(session, load_inventory(rig.tmp / "site.yaml"))
    assert counts == (0, 1, 1)
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").floor == "B3"
        assert not registry.get(session, "l1").in_inventory
        assert [e.id for e in registry.search(session)] == ["p1", "e1"]
        assert [e.id for e in registry.search(session, building="b2")] == ["e1"]
        assert len(registry.search(session, include_retired=True)) == 3
        assert equipment_row(session, "l1") is not None
    assert os.path.exists(rig.tmp / "db" / "cloud.sqlite")


def rig_with(tmp_path: Path, rules_text: str) -> Rig:
    extra = tmp_path / "rules"
    extra.mkdir()
    (extra / "site.yaml").write_text(rules_text, encoding="utf-8")
    rig = Rig(tmp_path)
    rules = load_rules(extra)

    def new_monitor() -> Monitor:
        engine = RuleEngine(rules, clock=lambda: rig.clock().timestamp())
        monitor = Monitor(rig.db, engine, site="s1", clock=rig.clock, sla=rig.sla)
        monitor.load()
        return monitor

    rig.new_monitor = new_monitor  # type: ignore[method-assign]
    rig.monitor = new_monitor()
    return rig


def test_a_pending_for_duration_survives_a_restart(tmp_path: Path) -> None:
    rig = rig_with(tmp_path, SLOW_RULES)
    try:
        rig.send(rig.item("p1", {"dry_run": True}))
        rig.clock.advance(20)
        rig.send(TickItem())
        rig.monitor = rig.new_monitor()  # the process restarts 20 s into the 30 s
        rig.raises_after(10)
    finally:
        rig.db.close()


def test_a_counter_window_survives_a_restart(rig: Rig) -> None:
    # pump.short_cycling: more than 30 starts within an hour
    for n in range(20):
        rig.clock.advance(60)
        rig.send(rig.item("p1", {"starts": 5000 + n}))
    rig.monitor.flush()
    rig.monitor = rig.new_monitor()
    for n in range(20, 32):
        rig.clock.advance(60)
        rig.send(rig.item("p1", {"starts": 5000 + n}))
    (alarm,) = rig.alarm_list()
    assert alarm.rule_id == "pump.short_cycling"
    # without what was saved, a fresh start would have seen only 11 starts
    with rig.db.sessions() as session:
        saved = load_snapshots(session, ["s1/p1"])["s1/p1"]
        assert len(saved["history"]["starts"]) >= 2


def test_rule_state_is_saved_with_its_batch_history_at_most_every_interval(rig: Rig) -> None:
    rig.send(rig.item("p1", {"starts": 1}))
    first = rig.monitor.stats.states_saved
    assert first == 1  # new history: saved at once the first time
    for n in range(2, 6):
        rig.clock.advance(1)
        rig.send(rig.item("p1", {"starts": n}))
    assert rig.monitor.stats.states_saved == first  # history only: throttled
    rig.send(rig.item("p1", {"dry_run": True}))  # a rule changed: saved with its batch
    assert rig.monitor.stats.states_saved == first + 1
    rig.clock.advance(1)
    rig.send(rig.item("p1", {"starts": 9}))
    rig.monitor.flush()  # shutdown: what is left is saved
    with rig.db.sessions() as session:
        saved = load_snapshots(session, ["s1/p1"])["s1/p1"]
        assert saved["history"]["starts"][-1][1] == 9
        assert saved["rules"]["pump.dry_run"]["active"] is True


def test_history_falling_due_together_is_saved_over_the_next_batches(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cloud.monitor.DUE_SAVES", 1)
    pump = rig.item("p1", {"starts": 1})
    lift = rig.item("e1", {"door_cycles": 10}, kind="elevator", building="b2")
    rig.send(pump, lift)  # both new: due at once, one saved by this batch
    assert rig.monitor.stats.states_saved == 1
    rig.send(rig.item("p1", {"speed": 1450}))  # the next batch saves the other
    assert rig.monitor.stats.states_saved == 2
    with rig.db.sessions() as session:
        saved = load_snapshots(session, ["s1/p1", "s1/e1"])
        assert saved["s1/p1"]["history"]["starts"][-1][1] == 1
        assert saved["s1/e1"]["history"]["door_cycles"][-1][1] == 10


def test_a_batch_that_raises_an_alarm_leaves_history_due_to_the_next_batch(rig: Rig) -> None:
    lift = rig.item("e1", {"door_cycles": 10}, kind="elevator", building="b2")
    rig.send(lift, rig.item("p1", {"dry_run": True}))  # the lift's new history is due at once
    assert [a.rule_id for a in rig.alarm_list()] == ["pump.dry_run"]
    assert rig.monitor.stats.states_saved == 1  # the pump's timers, with the alarm
    with rig.db.sessions() as session:
        assert "s1/e1" not in load_snapshots(session, ["s1/e1"])
    rig.send(rig.item("p1", {"speed": 1450}))  # no alarm: the next batch saves it
    assert rig.monitor.stats.states_saved == 2
    with rig.db.sessions() as session:
        saved = load_snapshots(session, ["s1/e1"])
        assert saved["s1/e1"]["history"]["door_cycles"][-1][1] == 10


def test_reloaded_rules_clear_the_alarms_of_rules_gone(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": True, "leak": True}))
    assert sorted(a.rule_id for a in rig.alarm_list()) == ["pump.dry_run", "pump.seal_leak"]
    base = load_rule_set()
    fewer = RuleSet([r for r in base.rules if r.id != "pump.seal_leak"], base.outage, {})
    out = rig.monitor.set_rules(fewer)
    assert [(t.rule.id, t.change.value) for t in out] == [("pump.seal_leak", "cleared")]
    states = {a.rule_id: a.state for a in rig.alarm_list()}
    assert states == {"pump.dry_run": AlarmState.ACTIVE, "pump.seal_leak": AlarmState.CLEARED}
    # and a restart with the new rules agrees
    engine = RuleEngine(fewer.rules, clock=lambda: rig.clock().timestamp())
    rig.monitor = Monitor(rig.db, engine, site="s1", clock=rig.clock, sla=rig.sla)
    rig.monitor.load()
    rig.send(rig.item("p1", {"dry_run": False, "leak": True}))
    assert {a.rule_id: a.state for a in rig.alarm_list()} == {
        "pump.dry_run": AlarmState.CLEARED,
        "pump.seal_leak": AlarmState.CLEARED,
    }


def test_an_alarm_cleared_while_down_is_not_active_after_a_restart(rig: Rig) -> None:
    rig.send(rig.item("p1", {"dry_run": True}))
    rig.monitor.flush()
    (alarm,) = rig.alarm_list()
    with rig.db.session() as session:  # cleared by other means while the process was down
        clear_alarm(session, "p1", "pump.dry_run", now=rig.clock())
    rig.monitor = rig.new_monitor()
    assert not rig.monitor.engine.is_active("s1/p1", "pump.dry_run")
    rig.send(rig.item("p1", {"dry_run": True}))
    (alarm,) = rig.alarm_list()
    assert alarm.state is AlarmState.ACTIVE and alarm.occurrences == 2


def test_a_reload_that_fails_to_apply_keeps_the_rules_in_use(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.send(rig.item("p1", {"leak": True}))
    before = {r.id for r in rig.monitor.engine.rules}
    base = load_rule_set()
    fewer = RuleSet([r for r in base.rules if r.id != "pump.seal_leak"], base.outage, {})

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("cloud.monitor.faults.apply", broken)
    with pytest.raises(RuntimeError, match="went away"):
        rig.monitor.set_rules(fewer)
    assert {r.id for r in rig.monitor.engine.rules} == before
    assert rig.monitor.engine.is_active("s1/p1", "pump.seal_leak")
    assert [a.state for a in rig.alarm_list()] == [AlarmState.ACTIVE]


def test_a_reload_that_fails_while_the_database_is_down_is_retried_before_the_next_batch(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rig.db.session
    database = {"down": True}

    def session() -> Any:
        if database["down"]:
            raise RuntimeError("database went away")
        return real()

    monkeypatch.setattr(rig.db, "session", session)
    item = rig.item("p1", {"dry_run": True})
    for _ in range(2):  # the batch fails, and so does the reload after it
        with pytest.raises(RuntimeError, match="went away"):
            rig.send(item)
    database["down"] = False
    rig.send(item)  # reloaded first, so the pump is known and its fault raised
    assert rig.count(Alarm) == 1 and rig.count(WorkOrder) == 1
    assert rig.monitor.stats.unknown_equipment == 0


def test_a_batch_writes_each_piece_of_equipment_once_with_its_newest_sample(rig: Rig) -> None:
    rig.send(rig.item("p1", {"speed": 1450, "dry_run": False}))
    written = rig.monitor.stats.rows_written
    rig.clock.advance(1)
    rig.send(
        rig.item("p1", {"speed": 1460}),
        rig.item("e1", {"floor": 3}, kind="elevator", building="b2"),
        rig.item("p1", {"speed": 1470, "leak": False}),
        rig.item("p1", {"speed": 1470}),  # nothing new but its time and sequence number
    )
    assert rig.monitor.stats.rows_written == written + 2
    with rig.db.sessions() as session:
        p1 = registry.get(session, "p1")
        assert p1.last_values == {"speed": 1470, "dry_run": False, "leak": False}
        assert p1.last_seq == rig.seq and p1.last_seen == rig.clock()
        assert registry.get(session, "e1").last_values == {"floor": 3}


def test_a_failed_batch_leaves_the_registry_as_committed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.send(rig.item("p1", {"speed": 1450}))
    committed_seq = rig.seq
    real = faults.apply

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("cloud.monitor.faults.apply", broken)
    with pytest.raises(RuntimeError, match="went away"):
        rig.send(rig.item("p1", {"speed": 1500, "leak": True}))
    with rig.db.sessions() as session:
        p1 = registry.get(session, "p1")
        assert p1.last_values == {"speed": 1450} and p1.last_seq == committed_seq
    monkeypatch.setattr("cloud.monitor.faults.apply", real)
    rig.send(rig.item("p1", {"dry_run": False}))  # merged over what was committed
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").last_values == {"speed": 1450, "dry_run": False}


def test_a_status_change_reaches_the_equipment_object_the_session_holds(rig: Rig) -> None:
    rig.send(rig.item("p1", {"speed": 1450}))
    live = LiveRegistry()
    with rig.db.session() as session:
        (p1,) = [e for e in live.load(session) if e.id == "p1"]
        held = equipment_row(session, "p1")
        assert held is not None and (held.status, held.status_changed_at) == (
            EquipmentStatus.ONLINE,
            rig.clock(),
        )
        rig.clock.advance(5)
        p1.status = EquipmentStatus.OFFLINE
        live.write_status(session, p1, rig.clock())
        assert (held.status, held.status_changed_at) == (EquipmentStatus.OFFLINE, rig.clock())
        stored = session.scalar(select(Equipment.status).where(Equipment.id == "p1"))
        assert stored is EquipmentStatus.OFFLINE
    with rig.db.sessions() as session:
        assert registry.get(session, "p1").status is EquipmentStatus.OFFLINE
