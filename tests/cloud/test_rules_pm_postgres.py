"""Rules and PM on PostgreSQL: the 0002_rules_pm migration goes down and up again, and PM
work orders, their uniqueness, saved rule state and incidents work there as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from cloud import registry
from cloud.db import Database, alembic_config
from cloud.enums import Channel, Priority, WorkOrderKind
from cloud.incidents.service import IncidentManager
from cloud.monitor import Monitor, TelemetryItem
from cloud.pm.loader import load_plans
from cloud.pm.scheduler import PmScheduler
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rule_set
from cloud.rulestore import load_snapshots
from cloud.sla import load_sla
from cloud.workorders import creation
from cloud.workorders.model import WorkOrder
from plantroom.inventory import load_inventory
from plantroom.schema import Telemetry
from plantroom.topics import EquipmentTopic
from tests.harness import write_site

pytestmark = pytest.mark.integration

HK = ZoneInfo("Asia/Hong_Kong")


@pytest.fixture
def db(schema_url: str) -> Iterator[Database]:
    database = Database(schema_url)
    database.migrate()
    yield database
    database.close()


def test_the_migration_goes_down_and_up(db: Database) -> None:
    def tables() -> set[str]:
        return set(inspect(db.engine).get_table_names())

    assert {"incidents", "rule_states", "pm_schedules"} <= tables()
    cfg = alembic_config(db.engine)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0003_list_indexes")  # below the merge: the two lines again
        command.downgrade(cfg, "0002_rules_pm@-1")
    assert not {"incidents", "rule_states", "pm_schedules"} & tables()
    names = {c["name"] for c in inspect(db.engine).get_columns("work_orders")}
    assert not {"checklist", "pm_plan_id", "pm_due_on", "pm_key", "incident_id"} & names
    db.migrate()
    assert {"incidents", "rule_states", "pm_schedules"} <= tables()


def test_pm_rule_state_and_incidents_on_postgresql(db: Database, tmp_path: Path) -> None:
    write_site(tmp_path / "site.yaml", "pump-and-lift")
    inventory = load_inventory(tmp_path / "site.yaml")
    with db.session() as session:
        registry.sync_inventory(session, inventory)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    (tmp_path / "pm").mkdir()
    (tmp_path / "pm" / "p.yaml").write_text(
        """plans:
  - {id: elevator.test_patrol, kind: elevator, title: Patrol, every: 1d, start: 2026-03-02,
     checklist: [Ride]}
  - {id: building.test_drill, kind: building, title: Drill, every: 3mo, start: 2026-03-02,
     checklist: [Evacuate]}
""",
        encoding="utf-8",
    )
    scheduler = PmScheduler(
        db,
        [p for p in load_plans(tmp_path / "pm") if ".test_" in p.id],
        inventory=inventory,
        clock=lambda: now,
        sla=load_sla(),
        timezone=HK,
    )
    assert len(scheduler.evaluate().raised) == 2
    assert scheduler.evaluate().raised == []
    with db.sessions() as session:
        raised = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
        assert [(w.pm_plan_id, w.pm_due_on, w.equipment_id) for w in raised] == [
            ("elevator.test_patrol", date(2026, 3, 2), "e1"),
            ("building.test_drill", date(2026, 3, 2), None),
        ]
        assert raised[0].checklist == [
            {"item": "Ride", "done": False, "by": None, "at": None, "reading": None}
        ]
    with pytest.raises(IntegrityError), db.session() as session:
        twin = creation.create_work_order(
            session,
            title="twin",
            kind=WorkOrderKind.PM,
            priority=Priority.LOW,
            now=now,
            sla=load_sla(),
            channel=Channel.SYSTEM,
            building="b1",
        )
        twin.pm_key = raised[1].pm_key  # the building plan's
        session.flush()

    rule_set = load_rule_set()
    engine_clock = {"now": now}
    engine = RuleEngine(rule_set.rules, clock=lambda: engine_clock["now"].timestamp())
    monitor = Monitor(db, engine, site="s1", clock=lambda: engine_clock["now"], sla=load_sla())
    monitor.load()
    topic = EquipmentTopic("s1", "b1", "pump", "p1")
    for n in range(3):
        engine_clock["now"] = now + timedelta(minutes=n)
        telemetry = Telemetry(
            ts=int(engine_clock["now"].timestamp() * 1000), seq=n + 1, points={"starts": 10 + n}
        )
        monitor.process([TelemetryItem(topic, telemetry)])
    monitor.flush()
    with db.sessions() as session:
        saved = load_snapshots(session, ["s1/p1"])["s1/p1"]
        assert [v for _, v in saved["history"]["starts"]][-1] == 12

    manager = IncidentManager(rule_set.outage, rule_set.rules, site="s1")
    with db.session() as session:
        incident = manager.open(session, "b1", {"p1", "e1"}, now=now, sla=load_sla())
        assert incident.id is not None
    with db.sessions() as session:
        linked = session.scalars(
            select(WorkOrder).where(WorkOrder.incident_id == incident.id).order_by(WorkOrder.id)
        ).all()
        assert [w.rule_id for w in linked] == ["incident.lift_check", "incident.outage"]
