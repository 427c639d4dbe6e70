"""The SLA ticker on simulated time: dispatch to the team, escalation in stages, clocks that
stop and hand over, re-dispatch on assignment, verified closure, and the ticker running on its
own in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.enums import Role
from cloud.sla.escalator import Escalator
from cloud.users.model import User
from cloud.users.service import add_team
from cloud.workorders.model import Notification, WorkOrderEvent
from tests.cloud.harness import Api, add_members, serve, settings_for
from tests.harness import wait_for_async

MIN = 60.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(
        settings_for(tmp_path),
        users={
            "tech1": Role.TECHNICIAN,
            "tech2": Role.TECHNICIAN,
            "tech3": Role.TECHNICIAN,
            "super1": Role.SUPERVISOR,
        },
    ) as a:
        with a.db.session() as session:
            team = add_team(session, "b1-plumbing", "plumbing", now=a.clock(), building="b1")
            add_members(session, team, ("tech1", "tech2"))
        yield a


def ticker(api: Api) -> Escalator:
    return Escalator(api.db, api.state.sla, clock=api.clock)


def inbox(api: Api) -> dict[str, list[str]]:
    """Each person's notifications, oldest first, as `kind` or `escalated:<stage>`."""
    out: dict[str, list[str]] = {}
    with api.db.sessions() as session:
        rows = session.execute(
            select(User.username, Notification.kind, WorkOrderEvent.details)
            .join(Notification, Notification.user_id == User.id)
            .join(WorkOrderEvent, Notification.event_id == WorkOrderEvent.id)
            .order_by(Notification.id)
        ).all()
    for username, kind, details in rows:
        label = f"escalated:{details['level']}" if kind == "escalated" else kind
        out.setdefault(username, []).append(label)
    return out


async def test_a_new_job_goes_to_its_team_then_escalates_in_stages(api: Api) -> None:
    t = ticker(api)
    api.fault("p1", "pump.dry_run")  # urgent: respond 30 min, on site 2 h, every 15 min
    detail = (await api.get("/api/work-orders/1")).json()
    assert detail["team"] == "b1-plumbing" and detail["dispatched_at"] is None
    assert t.tick().dispatched == 1
    assert inbox(api) == {"tech1": ["dispatched"], "tech2": ["dispatched"]}
    assert t.tick().dispatched == 0  # once

    api.clock.advance(30 * MIN - 1)
    assert t.tick().escalated == 0
    api.clock.advance(1)  # respond-by reached: stage 1, the backup; no rota, so the team
    assert t.tick().escalated == 1
    api.clock.advance(15 * MIN)  # stage 2: the supervisor
    t.tick()
    api.clock.advance(15 * MIN)  # stage 3: the manager; no admin, so the supervisors
    t.tick()
    api.clock.advance(60 * MIN)  # no stage after the last
    t.tick()
    assert inbox(api) == {
        "tech1": ["dispatched", "escalated:backup"],
        "tech2": ["dispatched", "escalated:backup"],
        "super1": ["escalated:supervisor", "escalated:manager"],
    }
    wo = (await api.get("/api/work-orders/1")).json()
    assert wo["escalation"]["clock"] == "acknowledge" and wo["escalation"]["stage"] == 3

    # acknowledging stops the acknowledgement clock; the on-site clock (2 h) is already late
    r = await api.post("/api/work-orders/1/acknowledge", who="tech2")
    assert r.json()["escalation"] is None
    t.tick()
    assert inbox(api)["tech2"][-1] == "escalated:backup"  # the owner and the team
    assert inbox(api)["tech1"][-1] == "escalated:backup"
    await api.post("/api/work-orders/1/start", who="tech2")
    before = inbox(api)
    api.clock.advance(10 * MIN)
    t.tick()
    assert inbox(api) == before  # on site: nothing is late until the promised completion
    trail = (await api.get("/api/work-orders/1/audit")).json()
    escalations = [e for e in trail if e["action"] == "escalated"]
    assert [(e["details"]["clock"], e["details"]["stage"]) for e in escalations] == [
        ("acknowledge", 1),
        ("acknowledge", 2),
        ("acknowledge", 3),
        ("on_site", 1),
    ]
    assert escalations[2]["details"]["recipients"] == ["super1"]
    assert all(e["actor"] == "system" and e["channel"] == "system" for e in escalations)


async def test_a_job_without_a_team_goes_to_every_technician_and_follows_its_assignee(
    api: Api,
) -> None:
    t = ticker(api)
    api.fault("e1", "elevator.passenger_trapped")  # b2 has no lifts team
    t.tick()
    # an emergency: the supervisor at once, too
    assert inbox(api) == {k: ["dispatched"] for k in ("tech1", "tech2", "tech3", "super1")}
    # a supervisor gives it to tech3: dispatched again, to tech3 alone
    r = await api.post("/api/work-orders/1/assign", who="super1", json={"assignee": "tech3"})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["username"] == "tech3" and r.json()["status"] == "open"
    t.tick()
    assert inbox(api)["tech3"] == ["dispatched", "dispatched"]
    assert inbox(api)["tech1"] == ["dispatched"]
    # only tech3 (or a supervisor) may take it now
    r = await api.post("/api/work-orders/1/acknowledge", who="tech1")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_assignee"
    api.clock.advance(3 * MIN)  # emergency: acknowledged within 3 min, or escalated
    t.tick()
    assert inbox(api)["tech3"][-1] == "escalated:backup"  # no rota: the owner and the rest


async def test_only_supervisors_assign_and_only_to_field_staff(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    for who, body, status, code in (
        ("tech1", {"assignee": "tech2"}, 403, "forbidden"),
        ("super1", {"assignee": "nobody"}, 422, "invalid_request"),
        ("super1", {"assignee": "eng1"}, 422, "invalid_request"),
    ):
        if body["assignee"] == "eng1":
            api.user("eng1", Role.ENGINEER)
        r = await api.post("/api/work-orders/1/assign", who=who, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    await api.post("/api/work-orders/1/assign", who="super1", json={"assignee": "tech1"})
    r = await api.post("/api/work-orders/1/assign", who="super1", json={"assignee": "tech1"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "no_change")


async def test_a_resolved_fault_closes_once_verified(api: Api) -> None:
    t = ticker(api)
    window = api.state.sla.verification
    api.fault("p1", "pump.dry_run")
    await api.post("/api/work-orders/1/acknowledge")
    api.fault("p1", "pump.dry_run", clear=True)
    r = await api.post("/api/work-orders/1/resolve", json={"note": "reset the float switch"})
    assert r.json()["status"] == "resolved"
    api.clock.advance(window - 1)
    assert t.tick().closed == 0
    api.clock.advance(1)
    assert t.tick().closed == 1
    wo = (await api.get("/api/work-orders/1")).json()
    assert wo["status"] == "closed"
    assert wo["closed_at"] == "2026-03-01T08:15:00Z"  # cleared at 08:00, 15 min window
    last = wo["events"][-1]
    assert (last["action"], last["actor"], last["from_status"], last["to_status"]) == (
        "close",
        "system",
        "resolved",
        "closed",
    )
    assert "stayed cleared for 15 min" in last["note"]
    assert t.tick().closed == 0


async def test_the_ticker_runs_by_itself(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    async with Escalator(api.db, api.state.sla, clock=api.clock, interval=0.05) as t:
        await wait_for_async(
            lambda: t.stats.dispatched > 0,
            "the ticker to dispatch the job",
            within=10,
            interval=0.02,
        )
    assert t.stats.dispatched == 1 and t.stats.ticks >= 1
    assert (await api.get("/api/work-orders/1")).json()["dispatched_at"] is not None
