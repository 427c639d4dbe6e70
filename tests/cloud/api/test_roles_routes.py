"""Every route of the cloud app, for every role and for callers without a valid token.

The routes come from the application itself (`app.routes`, included routers flattened), so a
route added later fails `test_every_route_has_a_row` until it has a row in `ROLE_TABLE`
(tests/cloud/api/routes.py). The table is what docs/api.md and docs/workorders.md promise:

- technicians take and do jobs (acknowledge, start, hold, resume, resolve, postpone,
  follow-up, checklists);
- supervisors also assign, close and cancel, and read users;
- engineers read everything, ask for work, reload rules and run PM plans, and do not act on
  jobs;
- admins do everything a supervisor does and manage users and teams;
- everyone signed in keeps their own contact points and language; admins also anyone's;
- a message's acknowledge link (`/ack/{token}`) is its own credential: no bearer token.
- dispatchers (the service desk) log calls, work the follow-up list and the complaint
  register, which supervisors and admins may too; occupants report and follow their reports
  without a token (docs/requests.md);
- contractors (docs/contractors.md) see and work their own team's jobs (lists, pages, audit,
  messages, photos, checklists, sign-off, comments), their own teams, the event stream and
  their own profile; nothing else (no equipment, alarms, KPIs, reports, rules, rotas, users,
  requests). Another team's job is not found (404), tested in tests/cloud/test_contractors.py.

An allowed call is built to succeed (a fresh work order in the right status and owned by the
caller, a fresh user or team to change), so an allowed role must get a 2xx; a refused role a
403 `forbidden`; no token a 401 `missing_token`; an expired or revoked token a 401
`invalid_token`. Streaming routes are read up to their first chunk and then disconnected.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud.alarms.model import Alarm, SystemAlarm
from cloud.alarms.system import raise_system_alarm
from cloud.assets.schemas import AssetIn
from cloud.assets.service import SiteScope
from cloud.assets.service import create as create_asset
from cloud.enums import Channel, Priority, Role, Severity, WorkOrderKind, WorkOrderStatus
from cloud.notify import contacts, outbox
from cloud.notify.outbound import Outbound
from cloud.oncall import service as oncall_service
from cloud.oncall.model import RotaCover
from cloud.oncall.schemas import RotaIn
from cloud.oncall.service import set_rota
from cloud.requests import intake
from cloud.requests.complaints import log_complaint
from cloud.requests.desk import ServiceDesk
from cloud.requests.model import FollowUp, RepairRequest
from cloud.rules.loader import load_rules
from cloud.users.service import (
    add_team,
    add_user,
    get_team,
    get_user,
    issue_token,
    revoke_token,
    set_member,
)
from cloud.workorders import creation, photos
from cloud.workorders.model import Notification, WorkOrder
from tests.cloud.api.routes import ROLE_TABLE, Answer, Call, Key, app_routes, call
from tests.cloud.harness import (
    Api,
    Clock,
    hour_of_maintenance,
    png,
    raise_alarm,
    serve,
    settings_for,
)
from tests.cloud.notify.mail import smtp_server

pytestmark = pytest.mark.integration


ACTORS = {
    Role.TECHNICIAN: "tech1",
    Role.SUPERVISOR: "super1",
    Role.ENGINEER: "eng1",
    Role.ADMIN: "admin1",
    Role.DISPATCHER: "desk1",
    Role.CONTRACTOR: "lift1",
}
CONTRACTOR_TEAM = "lift-contractor"
NO_TOKEN, EXPIRED, REVOKED = "no token", "expired token", "revoked token"
CALLERS: list[Role | str] = [*ACTORS, NO_TOKEN, EXPIRED, REVOKED]
PASSWORD = "correct horse battery"


class Fixtures:
    """Fresh things for each call to act on, so that one call never spoils the next."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.caller: str | None = None  # who the next call is made as
        self.serial = itertools.count(1)
        self.alarm_id = 0
        self.system_alarm_id = 0

    def new_user(self, role: Role = Role.TECHNICIAN) -> str:
        name = f"target{next(self.serial)}"
        with self.api.db.session() as session:
            user = add_user(session, name, role, now=self.api.clock())
            issue_token(session, user, now=self.api.clock())
        return name

    def visible_team(self) -> str:
        """A fresh team, or the contractor's own when the caller is the contractor (the only
        teams they see)."""
        return CONTRACTOR_TEAM if self.caller == ACTORS[Role.CONTRACTOR] else self.new_team()

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
            if self.caller == ACTORS[Role.CONTRACTOR]:  # a job of theirs: they see no other
                wo.team = get_team(session, CONTRACTOR_TEAM)
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
            row.shelved_until = None
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

    def contact_point(self, username: str | None, *, code: str | None = None) -> str:
        """An unverified e-mail contact point of `username` (of a fresh user when None), with
        `code` sent to it if given."""
        owner_name = username or self.new_user()
        with self.api.db.session() as session:
            owner = get_user(session, owner_name)
            assert owner is not None
            point = contacts.add(
                session,
                owner,
                outbound(self.api).channels,
                channel="email",
                address=f"point{next(self.serial)}@example.com",
                now=self.api.clock(),
            )
            if code is not None:
                # what `send_test` keeps of the code it sent
                point.code_hash = contacts._hash(code)
                point.code_sent_at = self.api.clock()
            session.flush()
            return str(point.id)

    def photo(self) -> tuple[str, str]:
        """A job with a photo tech1 took: (its id, the photo's id)."""
        ref = self.work_order(WorkOrderStatus.ACKNOWLEDGED, owner="tech1")
        with self.api.db.session() as session:
            taker = get_user(session, "tech1")
            assert taker is not None
            settings = self.api.state.settings
            photo = photos.add_photo(
                session,
                int(ref),
                png(),
                user=taker,
                now=self.api.clock(),
                files=self.api.state.files(),
                max_bytes=settings.photo_max_bytes,
            )
            return ref, str(photo.id)

    def ack_token(self) -> str:
        """The token of a fresh message's acknowledge link: tech1 told of an open job."""
        notification = int(self.notification("tech1"))
        with self.api.db.session() as session:
            found = session.get(Notification, notification)
            assert found is not None
            row = outbox.enqueue(session, found)
            assert row is not None and row.link_jti is not None and row.user_id is not None
            link = outbound(self.api).links.link(
                outbox_id=row.id,
                user_id=row.user_id,
                work_order_id=row.work_order_id,
                jti=row.link_jti,
                now=self.api.clock(),
            )
        return link.rsplit("/", 1)[1]

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

    def maintenance_window(self) -> str:
        """A fresh window: p1 in maintenance for an hour from now."""
        now = self.api.clock()
        with self.api.db.session() as session:
            return str(hour_of_maintenance(session, "p1", now))

    def complaint(self) -> str:
        with self.api.db.session() as session:
            desk = get_user(session, "desk1")
            assert desk is not None
            row = log_complaint(
                session, user=desk, summary="slow", owner="super1", now=self.api.clock()
            )
            return str(row.id)


def outbound(api: Api) -> Outbound:
    found: Outbound = api.app.state.outbound
    return found


Builder = Callable[[Fixtures, str | None], Call]
ROTA = {"rotation": "daily", "starts_on": "2026-03-01", "members": ["tech1", "tech2"]}


def asset(f: Fixtures) -> str:
    """A fresh register-only asset."""
    name = f"asset{next(f.serial)}"
    with f.api.db.session() as session:
        scope = SiteScope.of(f.api.state.inventory)
        create_asset(session, scope, AssetIn(id=name, kind="extinguisher", building="b2"))
    return name


def rota(f: Fixtures) -> str:
    """A fresh team with a daily rota of tech1 and tech2."""
    name = f.new_team()
    with f.api.db.session() as session:
        set_rota(
            session, get_team(session, name), RotaIn(**ROTA), now=f.api.clock(), site_zone="UTC"
        )
    return name


def cover_delete(f: Fixtures, who: str | None) -> Call:
    team = rota(f)
    with f.api.db.session() as session:
        found = oncall_service.rota_of(session, get_team(session, team))
        assert found is not None
        user = get_user(session, "tech2")
        assert user is not None
        cover = RotaCover(
            rota_id=found.id,
            kind="override",
            user_id=user.id,
            starts_at=f.api.clock(),
            ends_at=f.api.clock() + timedelta(hours=1),
            created_at=f.api.clock(),
        )
        session.add(cover)
        session.flush()
        return Call(f"/api/oncall/rotas/{team}/covers/{cover.id}")


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


def record_step(f: Fixtures, who: str | None) -> Call:
    ref = f.work_order(S.ACKNOWLEDGED, owner=who, kind=WorkOrderKind.PM)
    return Call(f"/api/work-orders/{ref}/steps/0", body={"result": "pass"})


def upload(action: str, name: str, form: dict[str, str]) -> Builder:
    """A PNG as the multipart field `name`, with `form`, to a job the caller is working."""

    def build(f: Fixtures, who: str | None) -> Call:
        ref = f.work_order(S.ACKNOWLEDGED, owner=who)
        image = {name: (f"{name}.png", png(), "image/png")}
        return Call(f"/api/work-orders/{ref}/{action}", files=image, form=form)

    return build


def get_photo(f: Fixtures, who: str | None) -> Call:
    ref, photo = f.photo()
    return Call(f"/api/work-orders/{ref}/photos/{photo}", params={"thumb": "true"})


CODE = "123456"


def logout(f: Fixtures, who: str | None) -> Call:
    # a token of the caller's own, so that signing out spoils nothing for the next call
    return Call("/api/auth/logout", token=f.token(who) if who else None)


def member_delete(f: Fixtures, who: str | None) -> Call:
    user = f.new_user()
    return Call(f"/api/teams/{f.new_team(member=user)}/members/{user}")


BUILDERS: dict[Key, Builder] = {
    ("GET", "/console/{path}"): lambda f, who: Call("/console/app.js"),
    ("GET", "/icons/icon-{size}.png"): lambda f, who: Call("/icons/icon-192.png"),
    ("GET", "/equipment/{equipment_id}"): lambda f, who: Call("/equipment/p1"),
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
    ("POST", "/api/alarms/{alarm_id}/shelve"): lambda f, who: Call(
        f"/api/alarms/{f.alarm()}/shelve", body={"minutes": 30, "reason": "contractor on site"}
    ),
    ("POST", "/api/alarms/{alarm_id}/unshelve"): lambda f, who: Call(
        f"/api/alarms/{f.alarm()}/unshelve"
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
    ("GET", "/api/reports/monthly/readings"): lambda f, who: Call(
        "/api/reports/monthly/readings", params={"month": "2026-02"}
    ),
    ("GET", "/api/teams/{name}"): lambda f, who: Call(f"/api/teams/{f.visible_team()}"),
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
    ("POST", "/api/work-orders/{ref}/steps/{index}"): record_step,
    ("POST", "/api/work-orders/{ref}/photos"): upload("photos", "file", {"caption": "the seal"}),
    ("POST", "/api/work-orders/{ref}/sign-off"): upload(
        "sign-off", "signature", {"signer": "Building manager"}
    ),
    ("GET", "/api/work-orders/{ref}/photos/{photo_id}"): get_photo,
    ("GET", "/api/notifications/outbox"): lambda f, who: Call(
        "/api/notifications/outbox", params={"work_order": f.work_order()}
    ),
    ("GET", "/api/work-orders/{ref}/notifications"): lambda f, who: Call(
        f"/api/work-orders/{f.work_order()}/notifications"
    ),
    ("POST", "/api/me/contact-points"): lambda f, who: Call(
        "/api/me/contact-points",
        body={"channel": "email", "address": f"mine{next(f.serial)}@example.com"},
    ),
    ("DELETE", "/api/me/contact-points/{point_id}"): lambda f, who: Call(
        f"/api/me/contact-points/{f.contact_point(who)}"
    ),
    ("POST", "/api/me/contact-points/{point_id}/test"): lambda f, who: Call(
        f"/api/me/contact-points/{f.contact_point(who)}/test"
    ),
    ("POST", "/api/me/contact-points/{point_id}/verify"): lambda f, who: Call(
        f"/api/me/contact-points/{f.contact_point(who, code=CODE)}/verify", body={"code": CODE}
    ),
    ("PUT", "/api/me/language"): lambda f, who: Call("/api/me/language", body={"language": "en"}),
    ("PATCH", "/api/users/me"): lambda f, who: Call("/api/users/me", body={"language": "en"}),
    ("GET", "/api/users/{username}/contact-points"): lambda f, who: Call(
        f"/api/users/{f.new_user()}/contact-points"
    ),
    ("POST", "/api/users/{username}/contact-points"): lambda f, who: Call(
        f"/api/users/{f.new_user()}/contact-points",
        body={"channel": "email", "address": "site@example.com", "verified": True},
    ),
    ("POST", "/api/maintenance"): lambda f, who: Call(
        "/api/maintenance", body={"equipment_id": "p1", "minutes": 60, "reason": "pump isolated"}
    ),
    ("GET", "/api/maintenance/{window_id}"): lambda f, who: Call(
        f"/api/maintenance/{f.maintenance_window()}"
    ),
    ("POST", "/api/maintenance/{window_id}/end"): lambda f, who: Call(
        f"/api/maintenance/{f.maintenance_window()}/end", body={"note": "done"}
    ),
    ("GET", "/ack/{token}"): lambda f, who: Call(f"/ack/{f.ack_token()}"),
    ("POST", "/ack/{token}"): lambda f, who: Call(f"/ack/{f.ack_token()}"),
    ("POST", "/api/work-orders/{ref}/close"): wo_action("close", S.RESOLVED, owned=False),
    ("POST", "/api/work-orders/{ref}/cancel"): wo_action(
        "cancel", S.OPEN, owned=False, body={"note": "duplicate"}
    ),
    ("POST", "/api/work-orders/{ref}/assign"): wo_action(
        "assign", S.OPEN, owned=False, body={"assignee": "tech2"}
    ),
    ("GET", "/api/users/{username}"): lambda f, who: Call(f"/api/users/{f.new_user()}"),
    ("GET", "/api/users/{username}/sites"): lambda f, who: Call(f"/api/users/{f.new_user()}/sites"),
    ("PUT", "/api/users/{username}/sites"): lambda f, who: Call(
        f"/api/users/{f.new_user()}/sites", body={"sites": {"s1": "technician"}}
    ),
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
    ("PATCH", "/api/teams/{name}"): lambda f, who: Call(
        f"/api/teams/{f.new_team()}",
        body={
            "contractor": True,
            "company": "Harbour Pumps Ltd",
            "contacts": [{"channel": "email", "address": "desk@pumps.example.com"}],
        },
    ),
    ("DELETE", "/api/teams/{name}"): lambda f, who: Call(f"/api/teams/{f.new_team()}"),
    ("PUT", "/api/teams/{name}/members/{username}"): lambda f, who: Call(
        f"/api/teams/{f.new_team()}/members/{f.new_user()}"
    ),
    ("DELETE", "/api/teams/{name}/members/{username}"): member_delete,
    ("GET", "/api/oncall/rotas/{team}"): lambda f, who: Call(f"/api/oncall/rotas/{rota(f)}"),
    ("PUT", "/api/oncall/rotas/{team}"): lambda f, who: Call(
        f"/api/oncall/rotas/{f.new_team()}", body=ROTA
    ),
    ("DELETE", "/api/oncall/rotas/{team}"): lambda f, who: Call(f"/api/oncall/rotas/{rota(f)}"),
    ("POST", "/api/oncall/rotas/{team}/overrides"): lambda f, who: Call(
        f"/api/oncall/rotas/{rota(f)}/overrides",
        body={"user": "tech2", "starts_at": "2026-03-01T08:00Z", "ends_at": "2026-03-01T09:00Z"},
    ),
    ("POST", "/api/oncall/rotas/{team}/swaps"): lambda f, who: Call(
        f"/api/oncall/rotas/{rota(f)}/swaps",
        body={"first": "2026-03-01T12:00Z", "second": "2026-03-02T12:00Z"},
    ),
    ("DELETE", "/api/oncall/rotas/{team}/covers/{cover_id}"): cover_delete,
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
    ("GET", "/api/assets/{equipment_id}"): lambda f, who: Call("/api/assets/p1"),
    ("POST", "/api/assets"): lambda f, who: Call(
        "/api/assets", body={"id": f"asset{next(f.serial)}", "kind": "fan", "building": "b1"}
    ),
    ("PATCH", "/api/assets/{equipment_id}"): lambda f, who: Call(
        "/api/assets/p1", body={"make": "Grundfos"}
    ),
    ("POST", "/api/assets/{equipment_id}/retire"): lambda f, who: Call(
        f"/api/assets/{asset(f)}/retire"
    ),
    ("POST", "/api/assets/import"): lambda f, who: Call(
        "/api/assets/import", csv="id,make,serial\np1,Grundfos,GF-1\n"
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
    # a redirect answers the call too (the QR labels' address sends to the console's page)
    if 200 <= answer.status < 300 or answer.status in (301, 302, 303, 307, 308):
        return "2xx"
    return f"{answer.status} {answer.code}"


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    # contact points need a configured channel, and "send me a test" a mail server that takes it
    with smtp_server(tmp_path, monkeypatch) as smtp:
        settings = settings_for(
            tmp_path,
            influx_url="http://127.0.0.1:9",  # nothing listens
            notifications_file=smtp.channels,
            notify_link_secret="k" * 32,
            data_dir=tmp_path / "data",
            request_rate_per_address=1000,  # every caller reports from the same address
            request_rate_per_location=1000,
        )
        async with serve(settings, Clock()) as a:
            yield prepared(a)


def prepared(a: Api) -> Api:
    """The app with the actors, a second technician, a user with a password, and an expired
    and a revoked token."""
    for role, username in ACTORS.items():
        a.user(username, role)
    a.user("tech2", Role.TECHNICIAN)
    a.user("withpw", Role.TECHNICIAN, password=PASSWORD)
    now = a.clock()
    with a.db.session() as session:
        team = add_team(session, CONTRACTOR_TEAM, "lifts", now=now)
        team.contractor, team.company = True, "Harbour Lift Services Ltd"
        contractor = get_user(session, ACTORS[Role.CONTRACTOR])
        assert contractor is not None
        set_member(session, team, contractor, member=True)
        holder = add_user(session, "holder", Role.TECHNICIAN, now=now)
        a.tokens[EXPIRED] = issue_token(session, holder, now=now - timedelta(days=91))
        a.tokens[REVOKED] = issue_token(session, holder, now=now)
        assert revoke_token(session, a.tokens[REVOKED], now=now)
    return a


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
            f.caller = who
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
