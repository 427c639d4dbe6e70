"""Every route of the cloud app, for every role and for callers without a valid token.

The routes come from the application itself (`app.routes`, included routers flattened), so a
route added later fails `test_every_route_has_a_row` until it has a row in `ROLE_TABLE`. The
table is what docs/api.md and docs/workorders.md promise:

- technicians take and do jobs (acknowledge, start, hold, resume, resolve, postpone,
  follow-up, checklists);
- supervisors also assign, close and cancel, and read users;
- engineers read everything, ask for work, reload rules and run PM plans, and do not act on
  jobs;
- admins do everything a supervisor does and manage users and teams;
- dispatchers (the service desk) log calls, work the follow-up list and the complaint
  register, which supervisors and admins may too; occupants report and follow their reports
  without a token (docs/requests.md).

An allowed call is built to succeed (a fresh work order in the right status and owned by the
caller, a fresh user or team to change), so an allowed role must get a 2xx; a refused role a
403 `forbidden`; no token a 401 `missing_token`; an expired or revoked token a 401
`invalid_token`. Streaming routes are read up to their first chunk and then disconnected.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from starlette.routing import Mount

from cloud.alarms.model import Alarm, SystemAlarm
from cloud.alarms.system import raise_system_alarm
from cloud.enums import Channel, Priority, Role, Severity, WorkOrderKind, WorkOrderStatus
from cloud.requests import intake
from cloud.requests.complaints import log_complaint
from cloud.requests.desk import ServiceDesk
from cloud.requests.model import FollowUp, RepairRequest
from cloud.rules.loader import load_rules
from cloud.users.service import add_team, add_user, get_user, issue_token, revoke_token, set_member
from cloud.workorders import creation
from cloud.workorders.model import Notification, WorkOrder
from tests.cloud.harness import Api, Clock, raise_alarm, serve, settings_for

pytestmark = pytest.mark.integration

ALL = frozenset(Role)
FIELD = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})
OFFICE = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
RULE_EDITORS = frozenset({Role.ENGINEER, Role.ADMIN})
PM_RUNNERS = frozenset({Role.ENGINEER, Role.SUPERVISOR, Role.ADMIN})
DESK = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
PUBLIC: frozenset[Role] | None = None  # no token needed

Key = tuple[str, str]  # (method, path as routed)

ROLE_TABLE: dict[Key, frozenset[Role] | None] = {
    # framework pages, the console's page and files: public (the console asks for a token)
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/console/{path}"): PUBLIC,
    # docs/api.md: every endpoint but /api/health needs a token; login takes a password
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/auth/token"): PUBLIC,
    ("POST", "/api/auth/logout"): ALL,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/me/profile"): ALL,
    ("GET", "/api/me/notifications"): ALL,
    ("POST", "/api/me/notifications/{notification_id}/read"): ALL,
    ("POST", "/api/me/notifications/read"): ALL,
    ("GET", "/api/events"): ALL,
    # reading: anyone signed in
    ("GET", "/api/equipment"): ALL,
    ("GET", "/api/equipment/{equipment_id}"): ALL,
    ("GET", "/api/equipment/{equipment_id}/history"): ALL,
    ("GET", "/api/alarms"): ALL,
    ("GET", "/api/alarms/{alarm_id}"): ALL,
    ("GET", "/api/system-alarms"): ALL,
    ("GET", "/api/system-alarms/{alarm_id}"): ALL,
    ("GET", "/api/incidents"): ALL,
    ("GET", "/api/kpis"): ALL,
    ("GET", "/api/reports/monthly"): ALL,
    ("GET", "/api/rules"): ALL,
    ("GET", "/api/pm/plans"): ALL,
    ("GET", "/api/pm/schedules"): ALL,
    ("GET", "/api/teams"): ALL,
    ("GET", "/api/teams/{name}"): ALL,
    ("GET", "/api/work-orders"): ALL,
    ("GET", "/api/work-orders/{ref}"): ALL,
    ("GET", "/api/work-orders/{ref}/audit"): ALL,
    # docs/rules.md: any user who saw an alarm says so; it takes no job
    ("POST", "/api/alarms/{alarm_id}/acknowledge"): ALL,
    # docs/workorders.md: anyone asks for work, comments and attaches
    ("POST", "/api/work-orders"): ALL,
    ("POST", "/api/work-orders/{ref}/comments"): ALL,
    ("POST", "/api/work-orders/{ref}/attachments"): ALL,
    # docs/workorders.md: field staff act on jobs
    ("POST", "/api/work-orders/{ref}/acknowledge"): FIELD,
    ("POST", "/api/work-orders/{ref}/start"): FIELD,
    ("POST", "/api/work-orders/{ref}/hold"): FIELD,
    ("POST", "/api/work-orders/{ref}/resume"): FIELD,
    ("POST", "/api/work-orders/{ref}/resolve"): FIELD,
    ("POST", "/api/work-orders/{ref}/postpone"): FIELD,
    ("POST", "/api/work-orders/{ref}/follow-up"): FIELD,
    ("POST", "/api/work-orders/{ref}/checklist/{index}"): FIELD,
    # supervisors (and admins) close, cancel and assign
    ("POST", "/api/work-orders/{ref}/close"): OFFICE,
    ("POST", "/api/work-orders/{ref}/cancel"): OFFICE,
    ("POST", "/api/work-orders/{ref}/assign"): OFFICE,
    # docs/api.md: supervisors (and admins) acknowledge the alarms about the service itself
    ("POST", "/api/system-alarms/{alarm_id}/acknowledge"): OFFICE,
    # engineers change rules and run PM plans (docs/rules.md, docs/pm.md)
    ("POST", "/api/rules/reload"): RULE_EDITORS,
    ("POST", "/api/pm/run"): PM_RUNNERS,
    # supervisors read users, to assign; admins manage users and teams
    ("GET", "/api/users"): OFFICE,
    ("GET", "/api/users/{username}"): OFFICE,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{username}"): ADMIN,
    ("DELETE", "/api/users/{username}"): ADMIN,
    ("POST", "/api/users/{username}/tokens"): ADMIN,
    ("POST", "/api/users/{username}/revoke-tokens"): ADMIN,
    ("POST", "/api/teams"): ADMIN,
    ("DELETE", "/api/teams/{name}"): ADMIN,
    ("PUT", "/api/teams/{name}/members/{username}"): ADMIN,
    ("DELETE", "/api/teams/{name}/members/{username}"): ADMIN,
    # docs/requests.md: occupants report and follow without a token; the desk's own routes
    ("GET", "/report/{code}"): PUBLIC,
    ("GET", "/track/{reference}"): PUBLIC,
    ("POST", "/api/public/requests"): PUBLIC,
    ("GET", "/api/public/requests/{reference}"): PUBLIC,
    ("POST", "/api/public/requests/{reference}/answer"): PUBLIC,
    ("GET", "/api/public/locations/{code}"): PUBLIC,
    ("GET", "/api/requests"): ALL,
    ("GET", "/api/requests/{request_id}"): ALL,
    ("GET", "/api/requests/{request_id}/photo"): ALL,
    ("GET", "/api/complaints"): ALL,
    ("POST", "/api/desk/calls"): DESK,
    ("GET", "/api/desk/stats"): DESK,
    ("GET", "/api/follow-ups"): DESK,
    ("POST", "/api/follow-ups/{follow_up_id}"): DESK,
    ("POST", "/api/complaints"): DESK,
    ("POST", "/api/complaints/{complaint_id}/resolve"): DESK,
}

ACTORS = {
    Role.TECHNICIAN: "tech1",
    Role.SUPERVISOR: "super1",
    Role.ENGINEER: "eng1",
    Role.ADMIN: "admin1",
    Role.DISPATCHER: "desk1",
}
NO_TOKEN, EXPIRED, REVOKED = "no token", "expired token", "revoked token"
CALLERS: list[Role | str] = [*ACTORS, NO_TOKEN, EXPIRED, REVOKED]
PASSWORD = "correct horse battery"


def app_routes(app: FastAPI) -> dict[Key, Any]:
    """Every route the app serves, by (method, path); HEAD goes with GET."""
    found: dict[Key, Any] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format or context.path
        assert path is not None, f"a route without a path: {route!r}"
        methods = {"GET"} if isinstance(route, Mount) else set(context.methods or ())
        for method in methods - {"HEAD"}:
            found[(method, path)] = route
    return found


@dataclass
class Call:
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    token: str | None = None  # instead of the caller's own
    form: dict[str, str] | None = None  # sent as a form instead of `body`


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def code(self) -> str | None:
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            code = data["error"].get("code")
            return str(code) if code is not None else None
        return None


async def call(
    app: FastAPI, method: str, c: Call, headers: dict[str, str], deadline: float = 15.0
) -> Answer:
    """One request straight through ASGI. Reads the answer to its end, or, for a stream, up to
    its first chunk, then tells the app the client went away."""
    payload = b"" if c.body is None else json.dumps(c.body).encode()
    raw = [(b"host", b"cloud")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if c.body is not None:
        raw.append((b"content-type", b"application/json"))
    if c.form is not None:
        payload = urlencode(c.form).encode()
        raw.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": c.path,
        "raw_path": c.path.encode(),
        "root_path": "",
        "query_string": urlencode(c.params).encode(),
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("cloud", 80),
    }
    answered = asyncio.Event()
    requested = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if any(chunks) or not message.get("more_body", False):
                answered.set()

    await asyncio.wait_for(app(scope, receive, send), deadline)
    return Answer(status, b"".join(chunks))


class Fixtures:
    """Fresh things for each call to act on, so that one call never spoils the next."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.serial = itertools.count(1)
        self.alarm_id = 0
        self.system_alarm_id = 0

    def new_user(self, role: Role = Role.TECHNICIAN) -> str:
        name = f"target{next(self.serial)}"
        with self.api.db.session() as session:
            user = add_user(session, name, role, now=self.api.clock())
            issue_token(session, user, now=self.api.clock())
        return name

    def new_team(self, member: str | None = None) -> str:
        name = f"team{next(self.serial)}"
        with self.api.db.session() as session:
            team = add_team(session, name, "plumbing", now=self.api.clock())
            if member is not None:
                found = get_user(session, member)
                assert found is not None
                set_member(session, team, found, member=True)
        return name

    def token(self, username: str) -> str:
        with self.api.db.session() as session:
            found = get_user(session, username)
            assert found is not None
            return issue_token(session, found, now=self.api.clock())

    def work_order(
        self,
        status: WorkOrderStatus = WorkOrderStatus.OPEN,
        owner: str | None = None,
        kind: WorkOrderKind = WorkOrderKind.REQUEST,
    ) -> str:
        with self.api.db.session() as session:
            creator = get_user(session, "eng1")
            assert creator is not None
            wo = creation.create_request(
                session,
                user=creator,
                title=f"job {next(self.serial)}",
                description=None,
                priority=Priority.NORMAL,
                equipment_id="p1",
                building=None,
                now=self.api.clock(),
                sla=self.api.state.sla,
                channel=Channel.API,
            )
            wo.status = status
            wo.kind = kind
            if kind is WorkOrderKind.PM:
                wo.checklist = [{"item": "check joints", "done": False, "by": None, "at": None}]
            if owner is not None:
                wo.assignee = get_user(session, owner)
                wo.acknowledged_at = self.api.clock()
            session.flush()
            return str(wo.id)

    def latest_promise(self, ref: str) -> str:
        with self.api.db.session() as session:
            wo = session.get(WorkOrder, int(ref))
            assert wo is not None
            return (wo.created_at + timedelta(days=6)).isoformat()

    def alarm(self) -> str:
        """The one test alarm, not yet acknowledged."""
        with self.api.db.session() as session:
            if not self.alarm_id:
                rule = next(r for r in load_rules() if r.kind == "pump")
                alarm = raise_alarm(
                    session, "p2", rule, now=self.api.clock(), sla=self.api.state.sla
                )
                session.flush()
                self.alarm_id = alarm.id
            row = session.get(Alarm, self.alarm_id)
            assert row is not None
            row.acknowledged = False
            row.acknowledged_at = None
            row.acknowledged_by_id = None
        return str(self.alarm_id)

    def system_alarm(self) -> str:
        """The one test system alarm, not yet acknowledged."""
        with self.api.db.session() as session:
            if not self.system_alarm_id:
                alarm = raise_system_alarm(
                    session,
                    "edge_clock_wrong",
                    "edge:b01",
                    "clock 600 s ahead",
                    severity=Severity.MAJOR,
                    now=self.api.clock(),
                )
                self.system_alarm_id = alarm.id
            row = session.get(SystemAlarm, self.system_alarm_id)
            assert row is not None
            row.acknowledged_at = None
            row.acknowledged_by_id = None
        return str(self.system_alarm_id)

    def notification(self, username: str | None) -> str:
        with self.api.db.session() as session:
            owner = get_user(session, username or "tech1")
            assert owner is not None
            row = Notification(
                user_id=owner.id,
                work_order_id=int(self.work_order()),
                at=self.api.clock(),
                kind="dispatched",
                message="a job for you",
            )
            session.add(row)
            session.flush()
            return str(row.id)

    def public_request(
        self, *, resolved: bool = False, photo: bytes | None = None
    ) -> RepairRequest:
        """A public report about p1 on a job of its own (resolved and asked "fixed?" if
        `resolved`)."""
        desk: ServiceDesk = self.api.app.state.desk
        with self.api.db.session() as session:
            for wo in session.scalars(select(WorkOrder).where(WorkOrder.equipment_id == "p1")):
                wo.status = WorkOrderStatus.CANCELLED  # a job of its own, not joined
            report = intake.Report(code="p1", what=f"noise {next(self.serial)}", photo=photo)
            found = intake.submit(
                session, report, now=self.api.clock(), sla=self.api.state.sla, config=desk.config
            )
            if resolved:
                assert found.work_order is not None
                found.work_order.status = WorkOrderStatus.RESOLVED
                found.confirm_asked_at = self.api.clock()
            session.flush()
            session.expunge(found)
            return found

    def follow_up(self) -> str:
        with self.api.db.session() as session:
            row = FollowUp(
                work_order_id=int(self.work_order(WorkOrderStatus.CLOSED)),
                decided_at=self.api.clock(),
                sampled=True,
                attempts=0,
            )
            session.add(row)
            session.flush()
            return str(row.id)

    def complaint(self) -> str:
        with self.api.db.session() as session:
            desk = get_user(session, "desk1")
            assert desk is not None
            row = log_complaint(
                session, user=desk, summary="slow", owner="super1", now=self.api.clock()
            )
            return str(row.id)


Builder = Callable[[Fixtures, str | None], Call]
S = WorkOrderStatus


def wo_action(
    action: str, status: WorkOrderStatus, *, owned: bool = True, body: Any = None
) -> Builder:
    def build(f: Fixtures, who: str | None) -> Call:
        ref = f.work_order(status, owner=who if owned else None)
        return Call(f"/api/work-orders/{ref}/{action}", body=body)

    return build


def postpone(f: Fixtures, who: str | None) -> Call:
    ref = f.work_order(S.ACKNOWLEDGED, owner=who)
    return Call(
        f"/api/work-orders/{ref}/postpone",
        body={"until": f.latest_promise(ref), "note": "parts on order"},
    )


def check_item(f: Fixtures, who: str | None) -> Call:
    ref = f.work_order(S.ACKNOWLEDGED, owner=who, kind=WorkOrderKind.PM)
    return Call(f"/api/work-orders/{ref}/checklist/0", body={"done": True})


def logout(f: Fixtures, who: str | None) -> Call:
    # a token of the caller's own, so that signing out spoils nothing for the next call
    return Call("/api/auth/logout", token=f.token(who) if who else None)


def member_delete(f: Fixtures, who: str | None) -> Call:
    user = f.new_user()
    return Call(f"/api/teams/{f.new_team(member=user)}/members/{user}")


BUILDERS: dict[Key, Builder] = {
    ("GET", "/console/{path}"): lambda f, who: Call("/console/app.js"),
    ("POST", "/api/auth/token"): lambda f, who: Call(
        "/api/auth/token", body={"username": "withpw", "password": PASSWORD}
    ),
    ("POST", "/api/auth/logout"): logout,
    ("POST", "/api/me/notifications/{notification_id}/read"): lambda f, who: Call(
        f"/api/me/notifications/{f.notification(who)}/read"
    ),
    ("GET", "/api/equipment/{equipment_id}"): lambda f, who: Call("/api/equipment/p1"),
    ("GET", "/api/equipment/{equipment_id}/history"): lambda f, who: Call(
        "/api/equipment/p1/history", params={"point": "pressure", "hours": "1"}
    ),
    ("GET", "/api/alarms/{alarm_id}"): lambda f, who: Call(f"/api/alarms/{f.alarm()}"),
    ("POST", "/api/alarms/{alarm_id}/acknowledge"): lambda f, who: Call(
        f"/api/alarms/{f.alarm()}/acknowledge", body={"note": "seen"}
    ),
    ("GET", "/api/system-alarms/{alarm_id}"): lambda f, who: Call(
        f"/api/system-alarms/{f.system_alarm()}"
    ),
    ("POST", "/api/system-alarms/{alarm_id}/acknowledge"): lambda f, who: Call(
        f"/api/system-alarms/{f.system_alarm()}/acknowledge", body={"note": "seen"}
    ),
    ("GET", "/api/reports/monthly"): lambda f, who: Call(
        "/api/reports/monthly", params={"month": "2026-02"}
    ),
    ("GET", "/api/teams/{name}"): lambda f, who: Call(f"/api/teams/{f.new_team()}"),
    ("GET", "/api/work-orders/{ref}"): lambda f, who: Call(f"/api/work-orders/{f.work_order()}"),
    ("GET", "/api/work-orders/{ref}/audit"): lambda f, who: Call(
        f"/api/work-orders/{f.work_order()}/audit"
    ),
    ("POST", "/api/work-orders"): lambda f, who: Call(
        "/api/work-orders", body={"title": "Pump P1 is noisy", "equipment_id": "p1"}
    ),
    ("POST", "/api/work-orders/{ref}/comments"): lambda f, who: Call(
        f"/api/work-orders/{f.work_order()}/comments", body={"text": "noted"}
    ),
    ("POST", "/api/work-orders/{ref}/attachments"): lambda f, who: Call(
        f"/api/work-orders/{f.work_order()}/attachments",
        body={"url": "https://files.example.com/p1.jpg", "name": "p1.jpg"},
    ),
    ("POST", "/api/work-orders/{ref}/acknowledge"): wo_action("acknowledge", S.OPEN, owned=False),
    ("POST", "/api/work-orders/{ref}/start"): wo_action("start", S.ACKNOWLEDGED),
    ("POST", "/api/work-orders/{ref}/hold"): wo_action(
        "hold", S.IN_PROGRESS, body={"note": "waiting for parts"}
    ),
    ("POST", "/api/work-orders/{ref}/resume"): wo_action("resume", S.ON_HOLD),
    ("POST", "/api/work-orders/{ref}/resolve"): wo_action(
        "resolve", S.IN_PROGRESS, body={"note": "fixed"}
    ),
    ("POST", "/api/work-orders/{ref}/postpone"): postpone,
    ("POST", "/api/work-orders/{ref}/follow-up"): wo_action(
        "follow-up", S.RESOLVED, body={"note": "tenant happy"}
    ),
    ("POST", "/api/work-orders/{ref}/checklist/{index}"): check_item,
    ("POST", "/api/work-orders/{ref}/close"): wo_action("close", S.RESOLVED, owned=False),
    ("POST", "/api/work-orders/{ref}/cancel"): wo_action(
        "cancel", S.OPEN, owned=False, body={"note": "duplicate"}
    ),
    ("POST", "/api/work-orders/{ref}/assign"): wo_action(
        "assign", S.OPEN, owned=False, body={"assignee": "tech2"}
    ),
    ("GET", "/api/users/{username}"): lambda f, who: Call(f"/api/users/{f.new_user()}"),
    ("POST", "/api/users"): lambda f, who: Call(
        "/api/users", body={"username": f"new{next(f.serial)}", "role": "technician"}
    ),
    ("PATCH", "/api/users/{username}"): lambda f, who: Call(
        f"/api/users/{f.new_user()}", body={"display_name": "Renamed"}
    ),
    ("DELETE", "/api/users/{username}"): lambda f, who: Call(f"/api/users/{f.new_user()}"),
    ("POST", "/api/users/{username}/tokens"): lambda f, who: Call(
        f"/api/users/{f.new_user()}/tokens", body={"ttl_days": 1}
    ),
    ("POST", "/api/users/{username}/revoke-tokens"): lambda f, who: Call(
        f"/api/users/{f.new_user()}/revoke-tokens"
    ),
    ("POST", "/api/teams"): lambda f, who: Call(
        "/api/teams", body={"name": f"newteam{next(f.serial)}", "trade": "lifts"}
    ),
    ("DELETE", "/api/teams/{name}"): lambda f, who: Call(f"/api/teams/{f.new_team()}"),
    ("PUT", "/api/teams/{name}/members/{username}"): lambda f, who: Call(
        f"/api/teams/{f.new_team()}/members/{f.new_user()}"
    ),
    ("DELETE", "/api/teams/{name}/members/{username}"): member_delete,
    ("GET", "/report/{code}"): lambda f, who: Call("/report/p1"),
    ("GET", "/track/{reference}"): lambda f, who: Call("/track/whatever"),
    ("POST", "/api/public/requests"): lambda f, who: Call(
        "/api/public/requests",
        form={"code": "b2", "category": "other", "what": "noise", "name": "A", "phone": "1234567"},
    ),
    ("GET", "/api/public/requests/{reference}"): lambda f, who: Call(
        f"/api/public/requests/{f.public_request().token}"
    ),
    ("POST", "/api/public/requests/{reference}/answer"): lambda f, who: Call(
        f"/api/public/requests/{f.public_request(resolved=True).token}/answer",
        body={"fixed": True},
    ),
    ("GET", "/api/public/locations/{code}"): lambda f, who: Call("/api/public/locations/p1"),
    ("GET", "/api/requests/{request_id}"): lambda f, who: Call(
        f"/api/requests/{f.public_request().id}"
    ),
    ("GET", "/api/requests/{request_id}/photo"): lambda f, who: Call(
        f"/api/requests/{f.public_request(photo=b'jpeg bytes').id}/photo"
    ),
    ("POST", "/api/desk/calls"): lambda f, who: Call(
        "/api/desk/calls",
        body={
            "caller": "C",
            "phone": "1234567",
            "code": "b1",
            "category": "leak",
            "urgency": "urgent",
            "what": "leak",
        },
    ),
    ("POST", "/api/follow-ups/{follow_up_id}"): lambda f, who: Call(
        f"/api/follow-ups/{f.follow_up()}", body={"reached": False}
    ),
    ("POST", "/api/complaints"): lambda f, who: Call(
        "/api/complaints", body={"summary": "slow", "owner": "super1"}
    ),
    ("POST", "/api/complaints/{complaint_id}/resolve"): lambda f, who: Call(
        f"/api/complaints/{f.complaint()}/resolve", body={"resolution": "ok", "valid": False}
    ),
}


def build(key: Key, f: Fixtures, who: str | None) -> Call:
    builder = BUILDERS.get(key)
    if builder is not None:
        return builder(f, who)
    method, path = key
    assert "{" not in path, f"{method} {path}: a route with parameters needs a builder"
    return Call(path)


def expected(allowed: frozenset[Role] | None, caller: Role | str) -> str:
    if allowed is None:
        return "2xx"
    if caller == NO_TOKEN:
        return "401 missing_token"
    if caller in (EXPIRED, REVOKED):
        return "401 invalid_token"
    return "2xx" if caller in allowed else "403 forbidden"


def outcome(answer: Answer) -> str:
    if 200 <= answer.status < 300:
        return "2xx"
    return f"{answer.status} {answer.code}"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = settings_for(
        tmp_path,
        influx_url="http://127.0.0.1:9",  # nothing listens
        request_rate_per_address=1000,  # every caller reports from the same address
        request_rate_per_location=1000,
    )
    async with serve(settings, Clock()) as a:
        for role, username in ACTORS.items():
            a.user(username, role)
        a.user("tech2", Role.TECHNICIAN)
        a.user("withpw", Role.TECHNICIAN, password=PASSWORD)
        now = a.clock()
        with a.db.session() as session:
            holder = add_user(session, "holder", Role.TECHNICIAN, now=now)
            a.tokens[EXPIRED] = issue_token(session, holder, now=now - timedelta(days=91))
            a.tokens[REVOKED] = issue_token(session, holder, now=now)
            assert revoke_token(session, a.tokens[REVOKED], now=now)
        yield a


async def test_every_route_has_a_row(api: Api) -> None:
    served = set(app_routes(api.app))
    missing = sorted(served - set(ROLE_TABLE))
    gone = sorted(set(ROLE_TABLE) - served)
    assert not missing, f"routes with no row in ROLE_TABLE (say who may call them): {missing}"
    assert not gone, f"ROLE_TABLE rows for routes the app no longer serves: {gone}"
    assert not set(BUILDERS) - served, "builders for routes the app does not serve"


async def test_every_role_against_every_route(api: Api) -> None:
    f = Fixtures(api)
    wrong: list[str] = []
    for key in sorted(app_routes(api.app)):
        allowed = ROLE_TABLE.get(key, frozenset())
        method, path = key
        for caller in CALLERS:
            who = ACTORS.get(caller) if isinstance(caller, Role) else None
            c = build(key, f, who)
            token = c.token or (api.tokens[who] if who else api.tokens.get(str(caller)))
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            got = outcome(await call(api.app, method, c, headers))
            want = expected(allowed, caller)
            if got != want:
                wrong.append(f"{method} {path} as {caller}: got {got}, expected {want}")
    assert not wrong, "routes not protected as documented:\n  " + "\n  ".join(wrong)


async def test_the_event_stream_takes_a_token_in_the_query_too(api: Api) -> None:
    c = Call("/api/events", params={"token": api.tokens["eng1"]})
    assert (await call(api.app, "GET", c, {})).status == 200
    c = Call("/api/events", params={"token": api.tokens[REVOKED]})
    refused = await call(api.app, "GET", c, {})
    assert (refused.status, refused.code) == (401, "invalid_token")
