"""A fault work order through its whole life, on SQLite and on PostgreSQL: two technicians
and a supervisor, escalation on simulated time, a postponement refused the second time,
verified closure, a follow-up visit and a reopen when the fault comes back; then the audit
trail, the notifications and the KPIs it leaves behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.enums import Role
from cloud.sla.escalator import Escalator
from cloud.users.model import User
from cloud.users.service import add_team
from cloud.workorders.model import Notification, WorkOrder
from tests.cloud.harness import Api, Clock, add_members, error, serve, settings_for

pytestmark = pytest.mark.integration

MIN = 60.0


def trail(detail: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["action"], e["actor"], e["channel"]) for e in detail["events"]]


def received(api: Api) -> dict[str, int]:
    with api.db.sessions() as session:
        rows = session.execute(
            select(User.username, func.count())
            .join(Notification, Notification.user_id == User.id)
            .group_by(User.username)
        ).all()
    return {name: n for name, n in rows}


async def test_the_life_of_a_fault_work_order(database_url: str, tmp_path: Path) -> None:
    clock = Clock()  # 2026-03-01 08:00 UTC
    settings = settings_for(tmp_path, database_url=database_url)
    async with serve(settings, clock) as api:
        for name, role in (
            ("tech1", Role.TECHNICIAN),
            ("tech2", Role.TECHNICIAN),
            ("super1", Role.SUPERVISOR),
        ):
            api.user(name, role)
        with api.db.session() as session:
            team = add_team(session, "b1-plumbing", "plumbing", now=clock(), building="b1")
            add_members(session, team, ("tech1", "tech2"))
        ticker = Escalator(api.db, api.state.sla, clock=clock)

        # 08:00 the pump runs dry: an urgent job (acknowledge in 30 min, done in 24 h)
        api.fault("p1", "pump.dry_run")
        assert ticker.tick().dispatched == 1
        assert received(api) == {"tech1": 1, "tech2": 1}

        # nobody answers: 08:30 the backup (no rota: the team), 08:45 the supervisor,
        # 09:00 the manager (no admin: the supervisor)
        for _ in range(3):
            clock.advance(30 * MIN if _ == 0 else 15 * MIN)
            assert ticker.tick().escalated == 1
        assert received(api) == {"tech1": 2, "tech2": 2, "super1": 2}

        # 09:01 tech1 takes it from the console: first responder, the clock stops
        clock.advance(MIN)
        r = await api.post("/api/work-orders/1/acknowledge", json={"channel": "console"})
        assert r.json()["assignee"]["username"] == "tech1"
        assert r.json()["escalation"] is None
        error(await api.post("/api/work-orders/1/start", who="tech2"), 403, "not_assignee")

        # 09:03 tech1 goes off shift; the supervisor gives the job to tech2
        clock.advance(2 * MIN)
        r = await api.post(
            "/api/work-orders/1/assign", who="super1", json={"assignee": "tech2", "note": "shift"}
        )
        assert r.json()["assignee"]["username"] == "tech2"
        clock.advance(MIN)
        r = await api.post("/api/work-orders/1/start", who="tech2", json={"channel": "cli"})
        assert r.json()["status"] == "in_progress"

        # 09:05 a part is missing: completion postponed once, and never twice
        clock.advance(MIN)
        until = "2026-03-03T08:00:00Z"
        r = await api.post(
            "/api/work-orders/1/postpone", who="tech2", json={"until": until, "note": "seal kit"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["resolve_due_at"] == until and r.json()["postponements"] == 1
        clock.advance(MIN)
        again = {"until": "2026-03-04T08:00:00Z", "note": "still no seal kit"}
        error(
            await api.post("/api/work-orders/1/postpone", who="tech2", json=again),
            409,
            "already_postponed",
        )
        error(
            await api.post("/api/work-orders/1/postpone", who="super1", json=again),
            409,
            "already_postponed",
        )

        # 09:07 notes and a photo on the job
        clock.advance(MIN)
        r = await api.post(
            "/api/work-orders/1/comments",
            who="tech2",
            json={"text": "suction valve half shut", "channel": "cli"},
        )
        assert r.status_code == 201, r.text
        r = await api.post(
            "/api/work-orders/1/attachments",
            who="tech2",
            json={"url": "https://files.example.com/p1/valve.jpg", "name": "valve.jpg"},
        )
        assert r.status_code == 201, r.text

        # 09:08 not fixed while the fault is active; 09:10 telemetry shows it cleared
        clock.advance(MIN)
        fixed = {"note": "valve opened, pump primed"}
        error(
            await api.post("/api/work-orders/1/resolve", who="tech2", json=fixed),
            409,
            "fault_active",
        )
        clock.advance(2 * MIN)
        api.fault("p1", "pump.dry_run", clear=True)
        clock.advance(2 * MIN)
        r = await api.post("/api/work-orders/1/resolve", who="tech2", json=fixed)
        assert r.json()["status"] == "resolved"

        # closing waits for the fault to stay cleared 15 min: 09:25 the ticker closes it
        clock.advance(MIN)
        error(await api.post("/api/work-orders/1/close", who="super1"), 409, "not_verified")
        clock.advance(11 * MIN)
        assert ticker.tick().closed == 0
        clock.advance(MIN)
        assert ticker.tick().closed == 1

        # 09:30 the supervisor calls round: a follow-up visit
        clock.advance(5 * MIN)
        r = await api.post(
            "/api/work-orders/1/follow-up", who="super1", json={"note": "pressure fine"}
        )
        assert r.json()["follow_up"] is True and r.json()["status"] == "closed"

        # two days later the same fault: the job reopens (no new one), back to its owner
        clock.advance(2 * 86400)
        api.fault("p1", "pump.dry_run")
        with api.db.sessions() as session:
            assert session.scalar(select(func.count()).select_from(WorkOrder)) == 1
        detail = (await api.get("/api/work-orders/WO-000001")).json()
        assert detail["status"] == "open" and detail["reopens"] == 1
        assert detail["assignee"]["username"] == "tech2"
        assert detail["acknowledged_at"] is None and detail["resolved_at"] is None
        assert detail["opened_at"] == "2026-03-03T09:30:00Z"
        assert detail["alarm"]["state"] == "active"
        ticker.tick()
        assert received(api) == {"tech1": 2, "tech2": 3, "super1": 2}  # only the owner

        assert trail(detail) == [
            ("created", "system", "system"),
            ("dispatched", "system", "system"),
            ("escalated", "system", "system"),
            ("escalated", "system", "system"),
            ("escalated", "system", "system"),
            ("acknowledge", "tech1", "console"),
            ("assign", "super1", "api"),
            ("start", "tech2", "cli"),
            ("postpone", "tech2", "api"),
            ("comment", "tech2", "cli"),
            ("attachment", "tech2", "api"),
            ("fault_cleared", "system", "system"),
            ("resolve", "tech2", "api"),
            ("close", "system", "system"),
            ("follow_up", "super1", "api"),
            ("reopened", "system", "system"),
        ]
        audit = (await api.get("/api/work-orders/1/audit")).json()
        assert [e["at"][11:16] for e in audit[:16]] == [
            "08:00", "08:00", "08:30", "08:45", "09:00", "09:01", "09:03", "09:04",
            "09:05", "09:07", "09:07", "09:10", "09:12", "09:25", "09:30", "09:30",
        ]  # fmt: skip
        assert audit[8]["details"] == {
            "from": "2026-03-02T08:00:00+00:00",
            "to": "2026-03-03T08:00:00+00:00",
        }
        assert audit[6]["details"] == {"assignee": "tech2", "previous": "tech1"}
        assert [e["details"]["recipients"] for e in audit[2:5]] == [
            ["tech1", "tech2"],
            ["super1"],
            ["super1"],
        ]
        assert audit[-1]["action"] == "dispatched"
        assert audit[-1]["details"]["recipients"] == ["tech2"]
        assert detail["comments"][0]["text"] == "suction valve half shut"
        assert detail["attachments"][0]["name"] == "valve.jpg"

        # the job counts against repair quality; its follow-up counts for the follow-up rate
        kpis = (
            await api.get(
                "/api/kpis", params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
            )
        ).json()["indicators"]
        assert kpis["repeat_fault_pct"]["value"] == 100.0
        assert kpis["equipment_good_pct"]["value"] == 75.0  # p1 is down again


async def test_lists_filter_and_page_on_every_database(database_url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with serve(settings_for(tmp_path, database_url=database_url), clock) as api:
        api.user("tech1", Role.TECHNICIAN)
        for eq, rule in (("p1", "pump.dry_run"), ("e1", "elevator.passenger_trapped")):
            api.fault(eq, rule)
            clock.advance(3600)
        r = await api.post(
            "/api/work-orders",
            json={"title": "Noisy pump", "equipment_id": "p2", "priority": "low"},
        )
        assert r.status_code == 201 and r.json()["location"] is None
        page = (await api.get("/api/work-orders", params={"limit": 2})).json()
        assert page["total"] == 3 and [w["number"] for w in page["items"]] == [
            "WO-000003",
            "WO-000002",
        ]
        window = {"from": "2026-03-01T08:30:00Z", "to": "2026-03-01T09:30:00Z"}
        assert [
            w["number"] for w in (await api.get("/api/work-orders", params=window)).json()["items"]
        ] == ["WO-000002"]
        # the emergency (3 min to acknowledge) is overdue; so is the pump (30 min)
        overdue = (await api.get("/api/work-orders", params={"overdue": "true"})).json()
        assert {w["number"] for w in overdue["items"]} == {"WO-000001", "WO-000002"}
        error(
            await api.get("/api/work-orders", params={"from": "2026-03-01"}), 422, "invalid_request"
        )
