# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""Users, tokens, teams and notifications through the API: who may manage whom, tokens that
expire and are revoked, teams that route jobs, demo teams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from cloud.sla.escalator import Escalator
from cloud.users.demo import ensure_demo_users
from cloud.users.service import list_teams
from cloud.workorders.model import Notification
from tests.cloud.harness import Api, error, serve, settings_for


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(
        settings_for(tmp_path),
        users={
            "admin1": Role.ADMIN,
            "super1": Role.SUPERVISOR,
            "tech1": Role.TECHNICIAN,
            "eng1": Role.ENGINEER,
        },
    ) as a:
        yield a


async def test_admins_create_users_with_teams_and_a_token(api: Api) -> None:
    r = await api.post(
        "/api/teams",
        who="admin1",
        json={"name": "b1-plumbing", "trade": "plumbing", "building": "b1"},
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        "/api/users",
        who="admin1",
        json={
            "username": "sam",
            "role": "technician",
            "display_name": "Sam Lee",
            "password": "long enough",
            "teams": ["b1-plumbing"],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"] | {"created_at": None} == {
        "username": "sam",
        "display_name": "Sam Lee",
        "role": "technician",
        "active": True,
        "has_password": True,
        "created_at": None,
        "teams": ["b1-plumbing"],
        "language": "en",
        "language_chosen": False,
    }
    token = body["token"]
    me = await api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "sam"
    # the password works too
    login = await api.client.post(
        "/api/auth/token", json={"username": "sam", "password": "long enough"}
    )
    assert login.status_code == 200

    again = {"username": "sam", "role": "technician"}
    error(await api.post("/api/users", who="admin1", json=again), 409, "user_exists")
    for bad in (
        {"username": "x", "role": "boss"},
        {"username": "Bad Name", "role": "technician"},
        {"username": "y", "role": "technician", "password": "short"},
        {"username": "z", "role": "technician", "teams": ["nope"]},
    ):
        error(await api.post("/api/users", who="admin1", json=bad), 422, "invalid_request")
    # only admins create; supervisors read; technicians and engineers neither
    new = {"username": "pat", "role": "technician"}
    for who in ("super1", "tech1", "eng1"):
        error(await api.post("/api/users", who=who, json=new), 403, "forbidden")
    listed = (await api.get("/api/users", who="super1", params={"role": "technician"})).json()
    assert [u["username"] for u in listed["items"]] == ["sam", "tech1"]
    error(await api.get("/api/users", who="tech1"), 403, "forbidden")
    error(await api.get("/api/users/nobody", who="super1"), 404, "not_found")


async def test_deactivating_a_user_revokes_their_tokens(api: Api) -> None:
    assert (await api.get("/api/me", who="tech1")).status_code == 200
    r = await api.client.patch(
        "/api/users/tech1", headers=api.auth("admin1"), json={"role": "supervisor"}
    )
    assert r.json()["role"] == "supervisor"
    r = await api.client.patch(
        "/api/users/tech1", headers=api.auth("admin1"), json={"active": False}
    )
    assert r.json()["active"] is False
    error(await api.get("/api/me", who="tech1"), 401, "invalid_token")
    error(await api.post("/api/users/tech1/tokens", who="admin1"), 409, "user_inactive")
    # admins may not lock themselves out
    r = await api.client.patch(
        "/api/users/admin1", headers=api.auth("admin1"), json={"active": False}
    )
    error(r, 409, "self_change")
    error(
        await api.client.delete("/api/users/admin1", headers=api.auth("admin1")), 409, "self_change"
    )
    r = await api.client.delete("/api/users/eng1", headers=api.auth("admin1"))
    assert r.status_code == 204
    error(await api.get("/api/me", who="eng1"), 401, "invalid_token")
    assert (await api.get("/api/users/eng1", who="admin1")).json()["active"] is False


async def test_tokens_expire_and_are_revoked(api: Api) -> None:
    r = await api.post(
        "/api/users/tech1/tokens", who="admin1", json={"ttl_days": 1, "label": "tablet"}
    )
    assert r.status_code == 201, r.text
    short = {"Authorization": f"Bearer {r.json()['token']}"}
    assert r.json()["expires_at"] == "2026-03-02T08:00:00Z"
    assert (await api.client.get("/api/me", headers=short)).status_code == 200
    api.clock.advance(86400)
    assert (await api.client.get("/api/me", headers=short)).status_code == 401
    assert (await api.get("/api/me", who="tech1")).status_code == 200  # the 90-day one
    # signing out revokes only the token used
    r = await api.post("/api/auth/logout", who="tech1")
    assert r.json() == {"revoked": 1}
    error(await api.get("/api/me", who="tech1"), 401, "invalid_token")
    # an admin revokes every token of a user
    api.user("tech2", Role.TECHNICIAN)
    await api.post("/api/users/tech2/tokens", who="admin1")
    r = await api.post("/api/users/tech2/revoke-tokens", who="admin1")
    assert r.json() == {"revoked": 2}
    error(await api.get("/api/me", who="tech2"), 401, "invalid_token")


async def test_teams_route_new_jobs_by_building_and_trade(api: Api) -> None:
    for team in (
        {"name": "b1-plumbing", "trade": "plumbing", "building": "b1", "members": ["tech1"]},
        {"name": "all-plumbing", "trade": "plumbing"},
        {"name": "lifts", "trade": "lifts"},
    ):
        r = await api.post("/api/teams", who="admin1", json=team)
        assert r.status_code == 201, r.text
    error(
        await api.post(
            "/api/teams", who="admin1", json={"name": "x", "trade": "lifts", "building": "b9"}
        ),
        422,
        "invalid_request",
    )
    error(
        await api.post("/api/teams", who="admin1", json={"name": "y", "trade": "hvac"}),
        422,
        "invalid_request",
    )
    error(
        await api.post("/api/teams", who="admin1", json={"name": "lifts", "trade": "lifts"}),
        409,
        "team_exists",
    )
    error(
        await api.post("/api/teams", who="super1", json={"name": "z", "trade": "fire"}),
        403,
        "forbidden",
    )

    async def team_of(equipment_id: str) -> str | None:
        r = await api.post(
            "/api/work-orders", json={"title": "look at it", "equipment_id": equipment_id}
        )
        team: str | None = r.json()["team"]
        return team

    assert await team_of("p1") == "b1-plumbing"  # the building's own team first
    assert await team_of("e1") == "lifts"  # a team for every building
    assert await team_of("f1") == "fire"  # no fire team yet: the default one, made for it
    page = (await api.get("/api/work-orders", params={"team": "b1-plumbing"})).json()
    assert [(w["equipment_id"], w["team"]) for w in page["items"]] == [("p1", "b1-plumbing")]
    r = await api.client.put("/api/teams/b1-plumbing/members/super1", headers=api.auth("admin1"))
    assert [m["username"] for m in r.json()["members"]] == ["super1", "tech1"]
    r = await api.client.delete("/api/teams/b1-plumbing/members/tech1", headers=api.auth("admin1"))
    assert [m["username"] for m in r.json()["members"]] == ["super1"]
    listed = (await api.get("/api/teams", params={"trade": "plumbing"})).json()
    assert [t["name"] for t in listed["items"]] == ["all-plumbing", "b1-plumbing"]
    profile = (await api.get("/api/me/profile", who="super1")).json()
    assert profile["teams"] == ["b1-plumbing"]
    assert (
        await api.client.delete("/api/teams/lifts", headers=api.auth("admin1"))
    ).status_code == 204
    error(await api.get("/api/teams/lifts"), 404, "not_found")
    assert (await api.get("/api/work-orders/2")).json()["team"] is None  # routing gone, job kept


async def test_notifications_inbox(api: Api) -> None:
    api.fault("e1", "elevator.passenger_trapped")  # no team: every technician hears of it
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    inbox = (await api.get("/api/me/notifications", who="tech1")).json()
    assert inbox["total"] == 1 and inbox["unread"] == 1
    note = inbox["items"][0]
    assert note["kind"] == "dispatched" and note["work_order_number"] == "WO-000001"
    assert "emergency" in note["message"] and "b2" in note["message"]
    r = await api.post(f"/api/me/notifications/{note['id']}/read", who="tech1")
    assert r.json()["read_at"] == "2026-03-01T08:00:00Z"
    assert (await api.get("/api/me/notifications", who="tech1", params={"unread": True})).json()[
        "total"
    ] == 0
    error(
        await api.post(f"/api/me/notifications/{note['id']}/read", who="super1"), 404, "not_found"
    )
    api.clock.advance(3 * 60)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    assert (await api.post("/api/me/notifications/read", who="tech1")).json() == {"marked": 1}


async def test_notifications_read_in_the_callers_language(api: Api) -> None:
    """A notification is written from its facts in the language of whoever reads it, now;
    one from before the facts were kept reads as it was stored."""
    r = await api.client.put("/api/me/language", headers=api.auth("tech1"), json={"language": "zh"})
    assert r.status_code == 200, r.text
    api.fault("e1", "elevator.passenger_trapped")
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    note = (await api.get("/api/me/notifications", who="tech1")).json()["items"][0]
    assert note["message"].startswith("WO-000001（紧急）b2"), note
    assert "电梯困人" in note["message"] and "emergency" not in note["message"]
    read = (await api.post(f"/api/me/notifications/{note['id']}/read", who="tech1")).json()
    assert read["message"] == note["message"]
    with api.db.sessions() as session:
        row = session.get(Notification, note["id"])
        assert row is not None and row.facts is not None
        stored = row.message  # the record: English
    assert stored.startswith("WO-000001 (emergency) in b2") and "Passenger trapped" in stored

    api.clock.advance(3 * 60)
    Escalator(api.db, api.state.sla, clock=api.clock).tick()
    late = (await api.get("/api/me/notifications", who="tech1")).json()["items"][0]
    assert late["kind"] == "escalated", late
    assert "前未接单（第 1 级：" in late["message"], late

    r = await api.client.put("/api/me/language", headers=api.auth("tech1"), json={"language": "en"})
    assert r.status_code == 200, r.text
    inbox = (await api.get("/api/me/notifications", who="tech1")).json()["items"]
    assert inbox[0]["message"].startswith("WO-000001 (emergency) in b2")
    assert ", not acknowledged by " in inbox[0]["message"]
    assert inbox[1]["message"].startswith("WO-000001 (emergency) in b2")
    assert "Passenger trapped in lift" in inbox[1]["message"]

    with api.db.session() as session:  # a row from before the facts were kept
        row = session.get(Notification, note["id"])
        assert row is not None
        row.facts, row.message = None, "as it was written"
    r = await api.client.put("/api/me/language", headers=api.auth("tech1"), json={"language": "zh"})
    inbox = (await api.get("/api/me/notifications", who="tech1")).json()["items"]
    assert inbox[1]["message"] == "as it was written"


async def test_demo_teams(api: Api) -> None:
    with api.db.session() as session:
        ensure_demo_users(session, now=api.clock())
        teams = {t.name: [m.username for m in t.members] for t in list_teams(session)}
    assert teams == {
        "b1-plumbing": ["super1", "tech1", "tech2"],
        "b2-fire": ["super1", "tech1", "tech2"],
        "b2-lifts": ["super1", "tech1", "tech2"],
        "lift-contractor": ["lift1"],  # the lift contractor's, for the lift plans' visits
    }
