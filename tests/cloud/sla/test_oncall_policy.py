"""Who is told, on simulated time, with a team rota: an emergency goes to the on-call
technician and the supervisor at once, then the backup, the supervisor and the manager at the
stage times; an urgent job to whoever covers; a routine job raised at 02:00 is held until
08:00, or kept for the daily digest. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud.enums import Role
from cloud.sla.escalator import Escalator
from cloud.users.model import User
from cloud.users.service import add_team
from cloud.workorders.model import Notification, WorkOrder
from tests.cloud.harness import Api, Clock, add_members, serve, settings_for

pytestmark = pytest.mark.integration

MIN = 60.0
ROTA: dict[str, Any] = {
    "rotation": "daily",
    "handover": "08:00",
    "timezone": "Europe/London",
    "starts_on": "2026-03-01",  # a Sunday: tech1, then tech2, then tech3
    "members": ["tech1", "tech2", "tech3"],
    "routine": "hours",
    "hours_start": "08:00",
    "hours_end": "18:00",
    "work_days": [1, 2, 3, 4, 5],
}
STAFF = {
    "tech1": Role.TECHNICIAN,
    "tech2": Role.TECHNICIAN,
    "tech3": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "boss": Role.ADMIN,
}


async def with_rota(api: Api, **changes: Any) -> None:
    with api.db.session() as session:
        team = add_team(session, "b1-plumbing", "plumbing", now=api.clock(), building="b1")
        add_members(session, team, ("tech1", "tech2", "tech3", "super1"))
    r = await api.client.put(
        "/api/oncall/rotas/b1-plumbing", headers=api.auth("super1"), json={**ROTA, **changes}
    )
    assert r.status_code == 200, r.text


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users=STAFF) as a:
        await with_rota(a)
        yield a


def told(api: Api) -> list[tuple[str, str, str | None, str | None]]:
    """Every notification, oldest first: (person, kind, stage, reason)."""
    with api.db.sessions() as session:
        rows = session.execute(
            select(User.username, Notification.kind, Notification.stage, Notification.reason)
            .join(Notification, Notification.user_id == User.id)
            .order_by(Notification.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_an_emergency_reaches_the_on_call_technician_and_the_supervisor_then_escalates(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(settings_for(tmp_path, database_url=database_url), users=STAFF) as api:
        await with_rota(api)
        t = Escalator(api.db, api.state.sla, clock=api.clock)
        api.fault("p1", "pump.high_level")  # emergency: respond 3 min, every 5 min
        assert t.tick().dispatched == 1
        assert told(api) == [
            ("tech1", "dispatched", "dispatch", "on call"),
            ("super1", "dispatched", "dispatch", "supervisor"),
        ]
        api.clock.advance(3 * MIN - 1)
        assert t.tick().escalated == 0
        api.clock.advance(1)  # not acknowledged in 3 min: the backup
        assert t.tick().escalated == 1
        api.clock.advance(5 * MIN - 1)
        assert t.tick().escalated == 0
        api.clock.advance(1)  # then the supervisor
        t.tick()
        api.clock.advance(5 * MIN)  # then the manager
        t.tick()
        api.clock.advance(60 * MIN)  # nobody after the last stage
        t.tick()
        assert told(api)[2:] == [
            ("tech2", "escalated", "acknowledge:1", "escalation stage 1: backup"),
            ("super1", "escalated", "acknowledge:2", "escalation stage 2: supervisor"),
            ("boss", "escalated", "acknowledge:3", "escalation stage 3: manager"),
        ]
        trail = (await api.get("/api/work-orders/1/audit")).json()
        dispatched = next(e for e in trail if e["action"] == "dispatched")
        assert dispatched["details"]["reasons"] == {"tech1": "on call", "super1": "supervisor"}


async def test_an_urgent_job_goes_to_whoever_covers_the_shift(api: Api) -> None:
    r = await api.post(
        "/api/oncall/rotas/b1-plumbing/overrides",
        who="super1",
        json={"user": "tech3", "starts_at": "2026-03-01T07:00:00Z", "ends_at": "2026-03-01T12:00Z"},
    )
    assert r.status_code == 201, r.text
    t = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.dry_run")  # urgent
    t.tick()
    assert told(api) == [("tech3", "dispatched", "dispatch", "on call")]
    # assigned, it goes to the assignee alone, as a second dispatch
    r = await api.post("/api/work-orders/1/assign", who="super1", json={"assignee": "tech2"})
    assert r.status_code == 200, r.text
    t.tick()
    assert told(api)[-1] == ("tech2", "dispatched", "dispatch:2", "assignee")


async def test_a_routine_job_at_two_in_the_morning_is_held_until_eight(api: Api) -> None:
    api.clock.now = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # Tuesday 02:00 in London
    t = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.seal_leak")  # normal: respond 2 h
    assert t.tick().held == 1
    assert t.tick().held == 0  # held once, not looked at again until 08:00
    assert told(api) == []
    api.clock.now = datetime(2026, 3, 3, 7, 59, 59, tzinfo=UTC)
    report = t.tick()
    assert (report.dispatched, report.escalated) == (0, 0)  # overdue since 04:00, not told
    api.clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert t.tick().dispatched == 1
    assert told(api) == [("tech3", "dispatched", "dispatch", "on call")]  # Tuesday's shift
    # acknowledged 2 h after it was told, not after it was raised
    api.clock.now = datetime(2026, 3, 3, 9, 59, 59, tzinfo=UTC)
    assert t.tick().escalated == 0
    api.clock.now = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert t.tick().escalated == 1
    assert told(api)[-1] == ("tech1", "escalated", "acknowledge:1", "escalation stage 1: backup")
    trail = (await api.get("/api/work-orders/1/audit")).json()
    held = next(e for e in trail if e["action"] == "held")
    assert held["at"] == "2026-03-03T02:00:00Z"
    assert held["details"] == {"until": "2026-03-03T08:00:00+00:00", "for": "hours"}


async def test_an_urgent_job_at_night_is_not_held(api: Api) -> None:
    api.clock.now = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    t = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.dry_run")
    assert t.tick().dispatched == 1
    assert told(api) == [("tech2", "dispatched", "dispatch", "on call")]  # Monday's shift


async def test_routine_jobs_kept_for_the_digest_are_one_message_per_person(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path), Clock(), users=STAFF) as api:
        await with_rota(api, routine="digest", digest_at="08:00")
        api.clock.now = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
        t = Escalator(api.db, api.state.sla, clock=api.clock)
        api.fault("p1", "pump.seal_leak")
        api.fault("p2", "pump.short_cycling")
        assert t.tick().held == 2
        api.clock.now = datetime(2026, 3, 3, 7, 59, tzinfo=UTC)
        assert t.tick().digested == 0
        api.clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
        report = t.tick()
        assert (report.digested, report.dispatched) == (2, 0)
        assert t.tick().digested == 0  # once
        assert told(api) == [("tech3", "digest", "digest", "digest: on call")]
        with api.db.sessions() as session:
            note = session.scalars(select(Notification)).one()
            assert note.message.startswith("Daily digest, 2 job(s): WO-000001 (normal) in b1")
            assert "WO-000002 (normal) in b1" in note.message
            jobs = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
            assert [wo.dispatched_at for wo in jobs] == [api.clock.now] * 2


async def test_a_routine_job_does_not_escalate_outside_working_hours(api: Api) -> None:
    api.clock.now = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # Tuesday 17:00 in London
    t = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.seal_leak")  # normal: respond 2 h, every 1 h
    assert t.tick().dispatched == 1
    api.clock.now = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)  # overdue, after hours
    assert t.tick().escalated == 0
    api.clock.now = datetime(2026, 3, 4, 7, 59, tzinfo=UTC)
    assert t.tick().escalated == 0
    api.clock.now = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # the stages due overnight, at once
    assert t.tick().escalated == 1
    assert [r[3] for r in told(api)[1:]] == [
        "escalation stage 1: backup",
        "escalation stage 2: supervisor",
        "escalation stage 3: manager",
    ]
