"""The REST API over httpx's ASGI transport, on a temp SQLite file, without a broker."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cloud.app import create_app
from cloud.db import Database
from cloud.enums import Role
from cloud.errors import Conflict, InvalidInput
from cloud.state import AppState
from cloud.users.model import User
from cloud.users.service import (
    add_user,
    authenticate,
    create_user,
    get_user,
    issue_token,
    revoke_tokens,
)
from plantroom.settings import CloudSettings
from tests.cloud.harness import Api, error, settings_for


async def test_health_needs_no_token(api: Api) -> None:
    r = await api.get("/api/health", who=None)
    assert r.status_code == 200
    body = r.json()
    assert body["database"] is True
    assert body["status"] == "degraded"  # no telemetry consumer in this test
    assert body["mqtt"]["enabled"] is False
    assert body["counts"] == {
        "equipment": 4,
        "active_alarms": 0,
        "open_work_orders": 0,
        "active_system_alarms": 0,
    }
    assert body["rules"] == len(api.state.rules) > 0


@pytest.mark.parametrize(
    "url",
    [
        "/api/equipment",
        "/api/equipment/p1",
        "/api/alarms",
        "/api/work-orders",
        "/api/work-orders/1",
        "/api/me",
    ],
)
async def test_everything_else_needs_a_token(api: Api, url: str) -> None:
    r = await api.get(url, who=None)
    error(r, 401, "missing_token")
    assert r.headers["www-authenticate"] == "Bearer"
    r = await api.client.get(url, headers={"Authorization": "Bearer prt_not-a-real-token"})
    error(r, 401, "invalid_token")
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    r = await api.client.get(url, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    error(r, 401, "missing_token")


async def test_expired_and_revoked_tokens_are_refused(api: Api) -> None:
    assert (await api.get("/api/me")).json()["username"] == "tech1"
    api.clock.advance(91 * 86400)
    error(await api.get("/api/me"), 401, "invalid_token")
    api.clock.advance(-91 * 86400)
    with api.db.session() as session:
        user = add_user(session, "gone", Role.TECHNICIAN, now=api.clock())
        api.tokens["gone"] = issue_token(session, user, now=api.clock())
    assert (await api.get("/api/me", who="gone")).status_code == 200
    with api.db.session() as session:
        gone = get_user(session, "gone")
        assert gone is not None
        assert revoke_tokens(session, gone, now=api.clock()) == 1
    error(await api.get("/api/me", who="gone"), 401, "invalid_token")


async def test_equipment_list_filters_and_404(api: Api) -> None:
    r = await api.get("/api/equipment")
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["items"]] == ["p1", "p2", "e1", "f1"]
    r = await api.get("/api/equipment", params={"building": "b2"})
    assert [e["id"] for e in r.json()["items"]] == ["e1", "f1"]
    r = await api.get("/api/equipment", params={"kind": "pump", "building": "b1"})
    assert r.json()["total"] == 2
    r = await api.get("/api/equipment", params={"kind": "boiler"})
    assert "query.kind" in error(r, 422, "invalid_request")
    r = await api.get("/api/equipment/e1")
    assert r.json()["kind"] == "elevator" and r.json()["status"] == "unknown"
    assert "'nope' does not exist" in error(await api.get("/api/equipment/nope"), 404, "not_found")


async def test_alarms_filter_by_state(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    api.clock.advance(1)
    api.fault("e1", "elevator.passenger_trapped")
    api.clock.advance(1)
    api.fault("p1", "pump.dry_run", clear=True)
    everything = (await api.get("/api/alarms")).json()
    assert everything["total"] == 2
    assert [a["equipment_id"] for a in everything["items"]] == ["e1", "p1"]  # newest first
    active = (await api.get("/api/alarms", params={"state": "active"})).json()
    assert [a["rule_id"] for a in active["items"]] == ["elevator.passenger_trapped"]
    cleared = (await api.get("/api/alarms", params={"state": "cleared"})).json()
    assert cleared["items"][0]["cleared_at"] is not None
    assert (await api.get("/api/alarms", params={"building": "b2"})).json()["total"] == 1
    alarm_id = active["items"][0]["id"]
    assert (await api.get(f"/api/alarms/{alarm_id}")).json()["severity"] == "critical"
    error(await api.get("/api/alarms/999"), 404, "not_found")


async def test_work_orders_filter_and_page_newest_first(api: Api) -> None:
    for eq, rule in (
        ("p1", "pump.dry_run"),
        ("p2", "pump.dry_run"),
        ("e1", "elevator.passenger_trapped"),
        ("f1", "fire_panel.fire_alarm"),
    ):
        api.fault(eq, rule)
        api.clock.advance(60)
    page = (await api.get("/api/work-orders")).json()
    assert page["total"] == 4
    assert [w["number"] for w in page["items"]] == [
        "WO-000004",
        "WO-000003",
        "WO-000002",
        "WO-000001",
    ]
    page = (await api.get("/api/work-orders", params={"limit": 2, "offset": 1})).json()
    assert [w["equipment_id"] for w in page["items"]] == ["e1", "p2"]
    assert page["total"] == 4 and page["limit"] == 2 and page["offset"] == 1
    urgent = (await api.get("/api/work-orders", params={"priority": "emergency"})).json()
    assert {w["equipment_id"] for w in urgent["items"]} == {"e1", "f1"}
    b1 = (await api.get("/api/work-orders", params={"building": "b1"})).json()
    assert {w["equipment_id"] for w in b1["items"]} == {"p1", "p2"}
    await api.post("/api/work-orders/1/acknowledge")
    acked = (await api.get("/api/work-orders", params=[("status", "acknowledged")])).json()
    assert [w["id"] for w in acked["items"]] == [1]
    both = (
        await api.get("/api/work-orders", params=[("status", "acknowledged"), ("status", "open")])
    ).json()
    assert both["total"] == 4
    mine = (await api.get("/api/work-orders", params={"assignee": "tech1"})).json()
    assert [w["id"] for w in mine["items"]] == [1]
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"status": "lost"}):
        error(await api.get("/api/work-orders", params=bad), 422, "invalid_request")


async def test_acknowledge_takes_ownership_with_an_audit_event(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    api.clock.advance(42)
    r = await api.post(
        "/api/work-orders/1/acknowledge", json={"channel": "console", "note": "on my way"}
    )
    assert r.status_code == 200, r.text
    wo = r.json()
    assert wo["status"] == "acknowledged"
    assert wo["assignee"] == {"username": "tech1", "display_name": "Tech1", "role": "technician"}
    assert wo["acknowledged_at"] == "2026-03-01T08:00:42Z"
    assert wo["alarm"]["acknowledged"] is True and wo["alarm"]["acknowledged_by"] == "tech1"
    event = wo["events"][-1]
    assert event == {
        "at": "2026-03-01T08:00:42Z",
        "actor": "tech1",
        "action": "acknowledge",
        "from_status": "open",
        "to_status": "acknowledged",
        "channel": "console",
        "note_message": None,  # a person's note: no message of the service's
        "note": "on my way",
    }
    # by number too, and the same detail on GET
    same = (await api.get("/api/work-orders/WO-000001")).json()
    assert same["events"] == wo["events"]

    message = error(
        await api.post("/api/work-orders/1/acknowledge", who="tech2"), 409, "invalid_transition"
    )
    assert "acknowledged" in message
    error(await api.post("/api/work-orders/999/acknowledge"), 404, "not_found")
    error(await api.post("/api/work-orders/WO-000999/acknowledge"), 404, "not_found")
    error(await api.get("/api/work-orders/banana"), 404, "not_found")
    error(
        await api.post("/api/work-orders/1/acknowledge", json={"channel": "system"}),
        422,
        "invalid_request",
    )


async def test_engineers_may_not_acknowledge(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    message = error(await api.post("/api/work-orders/1/acknowledge", who="eng1"), 403, "forbidden")
    assert "engineer" in message
    assert (await api.get("/api/work-orders/1", who="eng1")).json()["status"] == "open"


async def test_full_life_of_a_fault_work_order(api: Api) -> None:
    api.fault("p1", "pump.dry_run")
    assert (await api.post("/api/work-orders/1/acknowledge")).status_code == 200
    error(await api.post("/api/work-orders/1/start", who="tech2"), 403, "not_assignee")
    assert (await api.post("/api/work-orders/1/start")).json()["status"] == "in_progress"
    error(await api.post("/api/work-orders/1/hold"), 422, "invalid_request")  # needs a note
    r = await api.post("/api/work-orders/1/hold", json={"note": "waiting for a seal kit"})
    assert r.json()["status"] == "on_hold" and r.json()["holds"] == 1
    assert (await api.post("/api/work-orders/1/resume")).json()["status"] == "in_progress"
    error(await api.post("/api/work-orders/1/hold", json={"note": "again"}), 409, "already_held")
    fixed = {"note": "strainer cleaned"}
    error(await api.post("/api/work-orders/1/resolve", json=fixed), 409, "fault_active")
    api.fault("p1", "pump.dry_run", clear=True)
    error(await api.post("/api/work-orders/1/resolve"), 422, "invalid_request")  # needs a note
    resolved = (await api.post("/api/work-orders/1/resolve", json=fixed)).json()
    assert resolved["status"] == "resolved" and resolved["resolution"] == "strainer cleaned"
    error(await api.post("/api/work-orders/1/close"), 403, "forbidden")
    # a fault job closes only once the fault stayed cleared for the verification window
    error(await api.post("/api/work-orders/1/close", who="super1"), 409, "not_verified")
    api.clock.advance(api.state.sla.verification)
    closed = (await api.post("/api/work-orders/1/close", who="super1")).json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert [(e["action"], e["actor"]) for e in closed["events"]] == [
        ("created", "system"),
        ("acknowledge", "tech1"),
        ("start", "tech1"),
        ("hold", "tech1"),
        ("resume", "tech1"),
        ("fault_cleared", "system"),
        ("resolve", "tech1"),
        ("close", "super1"),
    ]
    # the fault returns long after the fix: a new job, since the old one is finished
    api.clock.advance(api.state.sla.reopen_within + 1)
    api.fault("p1", "pump.dry_run")
    assert (await api.get("/api/work-orders/2")).json()["status"] == "open"
    assert (await api.get("/api/work-orders/1")).json()["reopens"] == 0
    health = (await api.get("/api/health", who=None)).json()
    assert health["counts"]["open_work_orders"] == 1


async def test_supervisor_cancels_with_a_reason(api: Api) -> None:
    api.fault("f1", "fire_panel.fire_alarm")
    error(await api.post("/api/work-orders/1/cancel", who="super1"), 422, "invalid_request")
    error(await api.post("/api/work-orders/1/cancel", json={"note": "drill"}), 403, "forbidden")
    r = await api.post("/api/work-orders/1/cancel", who="super1", json={"note": "fire drill"})
    assert r.json()["status"] == "cancelled"
    error(await api.post("/api/work-orders/1/acknowledge"), 409, "invalid_transition")


async def test_anyone_signed_in_can_ask_for_work(api: Api) -> None:
    r = await api.post(
        "/api/work-orders",
        who="eng1",
        json={"title": "Pump p2 noisy", "equipment_id": "p2", "priority": "low"},
    )
    assert r.status_code == 201, r.text
    wo = r.json()
    assert wo["kind"] == "request" and wo["building"] == "b1" and wo["created_by"] == "eng1"
    assert wo["number"] == "WO-000001" and wo["events"][0]["actor"] == "eng1"
    r = await api.post("/api/work-orders", json={"title": "x", "equipment_id": "nope"})
    assert "'nope' is not in the registry" in error(r, 422, "invalid_request")
    r = await api.post(
        "/api/work-orders", json={"title": "x", "equipment_id": "p2", "building": "b2"}
    )
    error(r, 422, "invalid_request")
    error(await api.post("/api/work-orders", json={"title": ""}), 422, "invalid_request")


async def test_login_with_a_password(api: Api) -> None:
    api.user("pat", Role.SUPERVISOR, password="s3cret-enough")
    r = await api.client.post(
        "/api/auth/token", json={"username": "pat", "password": "s3cret-enough"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    me = await api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "supervisor"
    bad = await api.client.post("/api/auth/token", json={"username": "pat", "password": "no"})
    error(bad, 401, "invalid_credentials")
    nopw = await api.client.post("/api/auth/token", json={"username": "tech1", "password": "x"})
    error(nopw, 401, "invalid_credentials")


async def test_unknown_routes_and_docs(api: Api) -> None:
    assert "no such endpoint" in error(await api.get("/api/nothing"), 404, "not_found")
    error(await api.client.delete("/api/health"), 405, "method_not_allowed")
    huge = "9" * 30
    error(await api.get(f"/api/work-orders/{huge}"), 404, "not_found")
    error(await api.get(f"/api/alarms/{huge}"), 422, "invalid_request")
    assert (await api.client.get("/docs")).status_code == 200
    spec = (await api.client.get("/openapi.json")).json()
    assert "/api/work-orders/{ref}/acknowledge" in spec["paths"]
    for path in ("/api/kpis", "/api/users", "/api/teams", "/api/reports/monthly"):
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    for name in ("RequestIn", "PostponeIn", "AssignIn", "ErrorBody", "KpiOut"):
        assert schemas[name].get("examples"), f"{name} has no example"
    postpone = spec["paths"]["/api/work-orders/{ref}/postpone"]["post"]["responses"]
    assert {"403", "404", "409", "422"} <= set(postpone)


async def test_demo_mode_creates_users_and_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, demo_mode=True)
    tokens = []
    for _ in range(2):
        app = create_app(settings, ingest=False, escalate=False, notify=False)
        async with app.router.lifespan_context(app):
            path = settings.demo_credentials_path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            data = json.loads(path.read_text())
            assert data["api"] == "http://127.0.0.1:8123"
            assert [(u["username"], u["role"]) for u in data["users"]] == [
                ("tech1", "technician"),
                ("tech2", "technician"),
                ("super1", "supervisor"),
                ("eng1", "engineer"),
                ("admin1", "admin"),
                ("lift1", "contractor"),
                ("desk1", "dispatcher"),
            ]
            tokens.append(data["users"][0]["token"])
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
                me = await client.get("/api/me", headers={"Authorization": f"Bearer {tokens[-1]}"})
                assert me.json() == {
                    "username": "tech1",
                    "display_name": "Tech One",
                    "role": "technician",
                }
                if len(tokens) == 2:  # the first run's token was replaced
                    old = await client.get(
                        "/api/me", headers={"Authorization": f"Bearer {tokens[0]}"}
                    )
                    assert old.status_code == 401
    out = capsys.readouterr().out
    assert f"technician tech1 token: {tokens[1]}" in out
    assert "supervisor super1 token: " in out


async def test_no_users_outside_demo_mode(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    async with app.router.lifespan_context(app):
        state: AppState = app.state.cloud
        with state.database().sessions() as session:
            assert session.query(User).count() == 0
    assert not settings.demo_credentials_path.exists()
    token = create_user(settings, "ops", Role.ADMIN, display_name="Ops")
    db = Database(settings.database_url)
    try:
        with db.sessions() as session:
            user = authenticate(session, token, now=datetime.now(UTC))
            assert user is not None and user.role is Role.ADMIN
    finally:
        db.close()
    with pytest.raises(Conflict, match="already exists"):
        create_user(settings, "ops", Role.ADMIN)
    with pytest.raises(InvalidInput, match="role 'boss'"):
        create_user(settings, "boss", "boss")
    with pytest.raises(InvalidInput, match="username 'Bad Name'"):
        create_user(settings, "Bad Name", Role.TECHNICIAN)


async def test_a_pm_job_closes_with_its_checklist_done(api: Api) -> None:
    with api.db.session() as session:
        wo = api.pm_job(session, "p1", "Pump monthly check")
        wo.checklist = [
            {"item": "Joints dry", "done": False, "by": None, "at": None},
            {"item": "Pressure in range", "done": False, "by": None, "at": None},
        ]
    error(await api.post("/api/work-orders/1/checklist/0"), 409, "invalid_transition")
    await api.post("/api/work-orders/1/acknowledge")
    error(await api.post("/api/work-orders/1/checklist/0", who="tech2"), 403, "not_assignee")
    r = await api.post("/api/work-orders/1/checklist/0", json={"note": "all dry"})
    assert r.json()["checklist"][0] == {
        "item": "Joints dry",
        "done": True,
        "by": "tech1",
        "at": "2026-03-01T08:00:00+00:00",
    }
    done = {"note": "checked"}
    error(await api.post("/api/work-orders/1/resolve", json=done), 409, "checklist_incomplete")
    error(await api.post("/api/work-orders/1/checklist/2"), 404, "not_found")
    await api.post("/api/work-orders/1/checklist/1")
    r = await api.post("/api/work-orders/1/checklist/1", json={"done": False})
    assert r.json()["checklist"][1]["done"] is False
    await api.post("/api/work-orders/1/checklist/1")
    r = await api.post("/api/work-orders/1/resolve", json=done)
    assert r.json()["status"] == "closed"
    assert [e["action"] for e in r.json()["events"]][-6:] == [
        "check",
        "check",
        "uncheck",
        "check",
        "resolve",
        "close",
    ]
    # follow-ups are for repairs, not PM
    r = await api.post("/api/work-orders/1/follow-up", who="super1", json={"note": "x"})
    error(r, 409, "not_a_repair")
    # a job with no checklist has none to tick
    api.fault("p2", "pump.dry_run")
    await api.post("/api/work-orders/2/acknowledge")
    error(await api.post("/api/work-orders/2/checklist/0"), 409, "no_checklist")


def test_api_url_names_the_scheme_the_api_serves(tmp_path: Path) -> None:
    from cloud.app import api_url

    plain = CloudSettings(api_host="0.0.0.0", api_port=8123)
    assert api_url(plain) == "http://127.0.0.1:8123"
    tls = CloudSettings(
        api_host="::1",
        api_port=8443,
        api_tls_cert_file=tmp_path / "cert.pem",
        api_tls_key_file=tmp_path / "key.pem",
    )
    assert api_url(tls) == "https://[::1]:8443"
