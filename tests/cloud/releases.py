"""Databases as earlier releases left them, and the checks that an upgrade kept every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from cloud.alarms.model import Alarm
from cloud.db import Database, alembic_config
from cloud.orm import Counter
from cloud.security import hash_token
from cloud.sla import load_sla
from cloud.sla.escalator import Escalator
from cloud.users.model import ApiToken, User
from cloud.workorders.model import Notification, WorkOrder, WorkOrderEvent
from tests.cloud.rows import equipment_row

OPENED = datetime(2026, 1, 5, 8, 30)  # naive UTC, as the schema stores times
TOKEN = "release-one-token"


def release_one(db: Database) -> None:
    """Build the first release's schema (0001) and fill it as that release would have."""
    cfg = alembic_config(db.engine)
    with db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0001")
    rows = {
        "users": [
            "(1, 'tech1', 'technician', 'Tess Tech', NULL, true, :opened)",
            "(2, 'boss', 'supervisor', NULL, 'hash$of$a$password', true, :opened)",
        ],
        "api_tokens": [f"(1, '{hash_token(TOKEN)}', 1, 'cli', :opened, NULL, NULL)"],
        "equipment": [
            "('p1', 's1', 'b1', 'pump', 'B1', 'plant', 'Pump 1', 'generic_pump', "
            """'["duty"]', true, 'online', :opened, :opened, :opened, 41, '{"flow": 12.5}')""",
            "('e1', 's1', 'b1', 'elevator', NULL, NULL, NULL, 'generic_elevator', '[]', true, "
            "'offline', NULL, NULL, NULL, NULL, '{}')",
        ],
        "alarms": [
            "(1, 'p1', 'pump.dry_run', 'critical', 'active', 'Pump running dry', '0.0', "
            ":opened, :opened, 3, NULL, false, NULL, NULL)",
            "(2, 'e1', 'elevator.door', 'major', 'cleared', 'Door fault', 'true', "
            ":opened, :opened, 1, :later, true, :later, 2)",
        ],
        "work_orders": [
            "(1, 'WO-000001', 'Pump running dry: Pump 1', NULL, 'fault', 'p1', 'b1', 'urgent', "
            "'open', 1, 'pump.dry_run', 'p1:pump.dry_run', NULL, NULL, :opened, :opened, "
            "NULL, NULL, NULL, NULL, :respond, :resolve, 0, 1)",
            "(2, 'WO-000002', 'Door fault: e1', 'stuck at B1', 'fault', 'e1', 'b1', 'normal', "
            "'closed', 2, 'elevator.door', NULL, 1, 2, :opened, :later, :opened, :opened, "
            ":later, :later, :respond, :resolve, 0, 4)",
        ],
        "work_order_events": [
            "(1, 1, :opened, NULL, 'system', 'created', NULL, 'open', 'system', 'raised')",
            "(2, 2, :later, 2, 'boss', 'closed', 'resolved', 'closed', 'api', 'all good')",
        ],
    }
    times = {
        "opened": OPENED,
        "later": OPENED + timedelta(hours=3),
        "respond": OPENED + timedelta(minutes=30),
        "resolve": OPENED + timedelta(days=1),
    }
    with db.engine.begin() as connection:
        for table, values in rows.items():
            for value in values:
                connection.execute(text(f"INSERT INTO {table} VALUES {value}"), times)
        connection.execute(text("UPDATE counters SET value = 2 WHERE name = 'work_order_number'"))
        if connection.dialect.name == "postgresql":  # ids given here: move the sequences on
            for table in ("users", "api_tokens", "alarms", "work_orders", "work_order_events"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                        f"FROM {table}"
                    )
                )


def check_upgraded(db: Database) -> None:
    """Upgrade to the head, then find every row as it was and let the SLA ticker work on it."""
    db.migrate()
    tables = set(inspect(db.engine).get_table_names())
    assert {"teams", "notifications", "incidents", "rule_states", "pm_schedules"} <= tables
    assert "rule_history" in tables
    with db.sessions() as session:
        version = session.scalar(text("SELECT version_num FROM alembic_version"))
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
        users = session.scalars(select(User).order_by(User.id)).all()
        assert [(u.username, u.role.value, u.display_name) for u in users] == [
            ("tech1", "technician", "Tess Tech"),
            ("boss", "supervisor", None),
        ]
        assert users[1].password_hash == "hash$of$a$password"
        token = session.scalars(select(ApiToken)).one()
        assert token.token_hash == hash_token(TOKEN) and token.user_id == 1
        pump = equipment_row(session, "p1")
        assert pump is not None and pump.tags == ["duty"] and pump.last_values == {"flow": 12.5}
        assert pump.last_seq == 41 and pump.floor == "B1"
        alarms = session.scalars(select(Alarm).order_by(Alarm.id)).all()
        assert [(a.rule_id, a.state.value, a.occurrences) for a in alarms] == [
            ("pump.dry_run", "active", 3),
            ("elevator.door", "cleared", 1),
        ]
        assert alarms[1].acknowledged_by_id == 2 and alarms[0].incident_id is None
        jobs = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
        assert [(w.number, w.status.value, w.priority.value) for w in jobs] == [
            ("WO-000001", "open", "urgent"),
            ("WO-000002", "closed", "normal"),
        ]
        # the site, back-filled from the equipment's (migration 0018_sites)
        assert [w.site for w in jobs] == ["s1", "s1"] and [a.site for a in alarms] == ["s1", "s1"]
        first = jobs[0]
        assert first.opened_at == OPENED.replace(tzinfo=UTC)  # back-filled from created_at
        assert first.respond_due_at == (OPENED + timedelta(minutes=30)).replace(tzinfo=UTC)
        assert first.open_key == "s1/p1:pump.dry_run" and first.alarm_id == 1
        assert (first.postponements, first.reopens, first.follow_up) == (0, 0, False)
        assert first.dispatched_at is None and first.checklist in (None, [])
        assert jobs[1].description == "stuck at B1" and jobs[1].version == 4
        events = session.scalars(select(WorkOrderEvent).order_by(WorkOrderEvent.id)).all()
        assert [(e.action, e.actor, e.note, e.details) for e in events] == [
            ("created", "system", "raised", None),
            ("closed", "boss", "all good", None),
        ]
        counter = session.get(Counter, "work_order_number")
        assert counter is not None and counter.value == 2
    # the service works on the migrated rows: the open job is dispatched to the technicians
    now = OPENED.replace(tzinfo=UTC) + timedelta(minutes=1)
    escalator = Escalator(db, load_sla(), clock=lambda: now)
    assert escalator.tick().dispatched == 1
    assert escalator.stats.failed == 0, escalator.stats.last_error
    with db.sessions() as session:
        told = session.scalars(select(Notification.user_id)).all()
        assert told == [1]
