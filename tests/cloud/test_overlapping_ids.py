"""Two sites of one service whose equipment shares ids, on SQLite and PostgreSQL: each site's
`pump-1` is a piece of equipment of its own, with its own live values, rule state, alarms,
work orders, maintenance and PM, through a restart of the monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud import registry
from cloud.alarms.model import Alarm
from cloud.db import Database
from cloud.enums import AlarmState, WorkOrderStatus
from cloud.equipment import Equipment, RuleHistory
from cloud.errors import Conflict
from cloud.maintenance.model import MaintenanceWindow
from cloud.maintenance.window import Board, Window
from cloud.monitor import Monitor, TelemetryItem
from cloud.pm.loader import load_plans
from cloud.pm.scheduler import PmScheduler
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rules
from cloud.sites import Sites
from cloud.sla import load_sla
from cloud.users.sites import find_equipment
from cloud.workorders.model import PmSchedule, WorkOrder
from plantroom.schema import Telemetry
from plantroom.topics import EquipmentTopic
from tests.cloud.harness import Clock, hour_of_maintenance
from tests.cloud.sites import north_and_south

pytestmark = pytest.mark.integration

PUMP = "pump-1"
WHERE = {"north": "n-tower", "south": "s-tower"}


class TwoSites:
    """The sites north and south, each of a `pump-1` and a lift, on one database; a monitor
    of both (one process serving the two sites)."""

    def __init__(self, tmp: Path, url: str) -> None:
        self.clock = Clock()
        self.sites = Sites.load(north_and_south(tmp, north_pump=PUMP, south_pump=PUMP))
        self.db = Database(url)
        self.db.migrate()
        with self.db.session() as session:
            for inventory in self.sites.inventories:
                registry.sync_inventory(session, inventory)
        self.sla = load_sla()
        self.seq = 0
        self.board = Board()
        self.monitor = self.new_monitor()

    def new_monitor(self) -> Monitor:
        engine = RuleEngine(
            load_rules(),
            clock=lambda: self.clock().timestamp(),
            zones=self.sites.equipment_zones(),
        )
        monitor = Monitor(
            self.db,
            engine,
            site="north",
            sites=self.sites.by_building(),
            clock=self.clock,
            sla=self.sla,
        )
        monitor.maintenance = self.board
        monitor.load()
        return monitor

    def send(self, site: str, points: dict[str, Any]) -> None:
        self.seq += 1
        sample = Telemetry.model_validate(
            {"ts": int(self.clock().timestamp() * 1000), "seq": self.seq, "points": points}
        )
        topic = EquipmentTopic(site, WHERE[site], "pump", PUMP)
        self.monitor.process([TelemetryItem(topic, sample)])

    def alarms(self) -> list[tuple[str | None, str, str, AlarmState]]:
        with self.db.sessions() as session:
            rows = session.scalars(select(Alarm).order_by(Alarm.id))
            return [(a.site, a.equipment_id, a.rule_id, a.state) for a in rows]

    def jobs(self) -> list[tuple[str | None, str | None, str | None, WorkOrderStatus]]:
        with self.db.sessions() as session:
            rows = session.scalars(select(WorkOrder).order_by(WorkOrder.id))
            return [(w.site, w.equipment_id, w.rule_id, w.status) for w in rows]

    def last_values(self, site: str) -> dict[str, Any]:
        with self.db.sessions() as session:
            row = session.get(Equipment, (site, PUMP))
            assert row is not None
            return dict(row.last_values)


@pytest.fixture
def two(tmp_path: Path, database_url: str) -> Iterator[TwoSites]:
    rig = TwoSites(tmp_path, database_url)
    try:
        yield rig
    finally:
        rig.db.close()


def test_each_site_registers_its_own_piece_of_one_id(two: TwoSites) -> None:
    with two.db.sessions() as session:
        pumps = session.scalars(select(Equipment).where(Equipment.id == PUMP)).all()
        assert sorted((e.site, e.building) for e in pumps) == [
            ("north", "n-tower"),
            ("south", "s-tower"),
        ]
        with pytest.raises(Conflict, match=r"'pump-1' is at several sites \('north', 'south'\)"):
            find_equipment(session, PUMP)  # the portfolio sees both: it must say which
        assert find_equipment(session, PUMP, "south").building == "s-tower"


def test_a_fault_of_one_sites_pump_is_that_pumps_alone(two: TwoSites) -> None:
    two.send("north", {"dry_run": True, "speed": 1450})
    two.send("south", {"dry_run": False, "speed": 900})
    assert two.alarms() == [("north", PUMP, "pump.dry_run", AlarmState.ACTIVE)]
    assert two.jobs() == [("north", PUMP, "pump.dry_run", WorkOrderStatus.OPEN)]
    assert two.last_values("north")["speed"] == 1450
    assert two.last_values("south")["speed"] == 900
    # the same fault at south is another alarm and another job
    two.send("south", {"dry_run": True})
    assert [a[:2] for a in two.alarms()] == [("north", PUMP), ("south", PUMP)]
    assert [j[:2] for j in two.jobs()] == [("north", PUMP), ("south", PUMP)]
    # south's pump recovers: north's alarm stays
    two.send("south", {"dry_run": False})
    assert [(a[0], a[3]) for a in two.alarms()] == [
        ("north", AlarmState.ACTIVE),
        ("south", AlarmState.CLEARED),
    ]


def test_rule_state_is_saved_and_restored_per_site(two: TwoSites) -> None:
    """A counter window at each pump (short cycling: more than 30 starts in an hour), saved
    and read back by a new monitor: each pump keeps its own count."""
    for n in range(20):
        two.send("north", {"starts": 100 + n})
        two.send("south", {"starts": 500})
        two.clock.advance(60)
    two.monitor.flush()
    with two.db.sessions() as session:
        saved = {(r.site, r.equipment_id) for r in session.scalars(select(RuleHistory))}
    assert {("north", PUMP), ("south", PUMP)} <= saved
    two.monitor = two.new_monitor()  # a restart
    for n in range(20, 32):
        two.send("north", {"starts": 100 + n})  # 31 starts within the hour at north
        two.send("south", {"starts": 500})
        two.clock.advance(30)
    assert [(a[0], a[2]) for a in two.alarms()] == [("north", "pump.short_cycling")]


def test_maintenance_of_one_sites_pump_holds_only_its_alarms(two: TwoSites) -> None:
    with two.db.session() as session:
        window_id = hour_of_maintenance(session, PUMP, two.clock(), site="south")
        row = session.get(MaintenanceWindow, window_id)
        assert row is not None and row.site == "south"
        two.board.put(Window.of(row))
    two.send("south", {"leak": True})
    two.send("north", {"leak": True})
    with two.db.sessions() as session:
        held = {a.site: a.maintenance_id for a in session.scalars(select(Alarm))}
    assert held == {"south": window_id, "north": None}
    assert [j[0] for j in two.jobs()] == ["north"]  # south's is held: no job


def test_each_sites_pump_has_its_own_pm_schedule(two: TwoSites) -> None:
    scheduler = PmScheduler(two.db, load_plans(), inventory=two.sites, clock=two.clock, sla=two.sla)
    scheduler.evaluate()
    with two.db.sessions() as session:
        mine = session.scalars(select(PmSchedule).where(PmSchedule.equipment_id == PUMP)).all()
        by_plan: dict[str, list[tuple[str | None, str]]] = {}
        for row in mine:
            by_plan.setdefault(row.plan_id, []).append((row.site, row.target))
    assert by_plan, "no plan applies to the pumps"
    for plan, targets in by_plan.items():
        assert sorted(targets) == [("north", f"north/{PUMP}"), ("south", f"south/{PUMP}")], plan
