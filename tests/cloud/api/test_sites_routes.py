"""Two sites in one service: a person of site north gets nothing of site south on any route.

The two sites' pumps have the same id, `pump-1` (an equipment id is unique within its site
only): a route given south's (`?site=south`, or `site` in a body) is refused as for any
other record of south, and one given the bare id finds north's, the only one the caller sees.

The routes come from the application itself, as in test_roles_routes.py: a route added later
fails `test_every_route_has_a_site_row` until `SITE_TABLE` says what it does with another
site's records. Every caller is of north only, with a role the route allows (so an answer
is about the site, not the role), and everything they are pointed at is south's:

- ONE: a route on one record of south (read or act) answers 404, as for a record that does
  not exist (docs/sites.md: another site's records are not revealed);
- LIST: a list or figures answer 2xx without anything of south in them;
- PLACE: asking for work, a window, a call, a complaint or an asset at a place of south is
  refused (404 for the place, 422 for a building the caller's register does not have);
- NONE: the route has no site's records (the caller's own profile, the service's health and
  its own alarms, the rule and plan files, a new person or team, the public pages), with why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.alarms.model import Alarm
from cloud.api.events import Message, Subscription
from cloud.enums import AlarmState, Channel, Priority, Role, WorkOrderStatus
from cloud.incidents.model import Incident
from cloud.oncall.model import RotaCover
from cloud.oncall.schemas import RotaIn
from cloud.oncall.service import rota_of, set_rota
from cloud.requests import intake
from cloud.requests.complaints import log_complaint
from cloud.requests.desk import ServiceDesk
from cloud.requests.model import FollowUp
from cloud.rules.loader import load_rules
from cloud.sla.escalator import Escalator
from cloud.users.model import User
from cloud.users.service import add_team, add_user, get_team, get_user, issue_token
from cloud.users.sites import set_sites
from cloud.workorders import creation
from cloud.workorders.model import Notification, PmSchedule, WorkOrder
from plantroom.settings import CloudSettings
from tests.cloud.api.routes import ROLE_TABLE, Answer, Call, Key, app_routes, call
from tests.cloud.harness import Api, Clock, hour_of_maintenance, png, raise_alarm, serve
from tests.cloud.sites import north_and_south

pytestmark = pytest.mark.integration  # once on PostgreSQL too

ONE, LIST, PLACE = "one", "list", "place"
PUMP = "pump-1"  # the id of north's pump and of south's
SOUTH_MARKS = ("s-lift", "s-tower", "s-fan", "s-plumbers", "south")


def none(why: str) -> str:
    return f"none: {why}"


OWN = none("the caller's own profile, session, messages and contact points")
SERVICE = none("the service itself: health, its own alarms, rule and plan files, PM runs")
NEW_PERSON = none("a new person is of no site until given sites")
PUBLIC = none("public pages and files, and signed links, which carry their own credential")

SITE_TABLE: dict[Key, str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/console/{path}"): PUBLIC,
    ("GET", "/manifest.webmanifest"): PUBLIC,
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/icons/icon-{size}.png"): PUBLIC,
    ("GET", "/equipment/{equipment_id}"): PUBLIC,  # the QR label's address: to the console
    ("GET", "/api/health"): SERVICE,
    ("POST", "/api/auth/token"): OWN,
    ("POST", "/api/auth/logout"): OWN,
    ("GET", "/api/me"): OWN,
    ("GET", "/api/me/profile"): OWN,
    ("GET", "/api/me/notifications"): OWN,
    ("POST", "/api/me/notifications/{notification_id}/read"): OWN,
    ("POST", "/api/me/notifications/read"): OWN,
    ("GET", "/api/me/contact-points"): OWN,
    ("POST", "/api/me/contact-points"): OWN,
    ("DELETE", "/api/me/contact-points/{point_id}"): OWN,
    ("POST", "/api/me/contact-points/{point_id}/test"): OWN,
    ("POST", "/api/me/contact-points/{point_id}/verify"): OWN,
    ("PUT", "/api/me/language"): OWN,
    ("PATCH", "/api/users/me"): OWN,
    ("GET", "/ack/{token}"): PUBLIC,
    ("POST", "/ack/{token}"): PUBLIC,
    ("GET", "/api/events"): none("a stream: filtered by site, tested below (Subscription)"),
    ("GET", "/api/sites"): LIST,
    ("GET", "/api/equipment"): LIST,
    ("GET", "/api/equipment/{equipment_id}"): ONE,
    ("GET", "/api/equipment/{equipment_id}/history"): ONE,
    ("GET", "/api/alarms"): LIST,
    ("GET", "/api/alarms/{alarm_id}"): ONE,
    ("GET", "/api/system-alarms"): SERVICE,
    ("GET", "/api/system-alarms/{alarm_id}"): SERVICE,
    ("POST", "/api/system-alarms/{alarm_id}/acknowledge"): SERVICE,
    ("GET", "/api/incidents"): LIST,
    ("GET", "/api/kpis"): LIST,
    ("GET", "/api/kpis/sites"): LIST,
    ("GET", "/api/reports/monthly"): LIST,
    ("GET", "/api/reports/monthly/readings"): LIST,
    ("GET", "/api/rules"): SERVICE,
    ("POST", "/api/rules/reload"): SERVICE,
    ("GET", "/api/pm/plans"): SERVICE,
    ("POST", "/api/pm/run"): SERVICE,
    ("GET", "/api/pm/schedules"): LIST,
    ("GET", "/api/teams"): LIST,
    ("GET", "/api/teams/{name}"): ONE,
    ("POST", "/api/teams"): none("a new team is of its building's site, or of every site"),
    ("PATCH", "/api/teams/{name}"): ONE,
    ("DELETE", "/api/teams/{name}"): ONE,
    ("PUT", "/api/teams/{name}/members/{username}"): ONE,
    ("DELETE", "/api/teams/{name}/members/{username}"): ONE,
    ("GET", "/api/work-orders"): LIST,
    ("POST", "/api/work-orders"): PLACE,
    ("GET", "/api/work-orders/{ref}"): ONE,
    ("GET", "/api/work-orders/{ref}/audit"): ONE,
    ("GET", "/api/work-orders/{ref}/photos/{photo_id}"): ONE,
    ("GET", "/api/work-orders/{ref}/notifications"): ONE,
    ("GET", "/api/notifications/outbox"): ONE,
    ("POST", "/api/alarms/{alarm_id}/acknowledge"): ONE,
    ("POST", "/api/alarms/{alarm_id}/shelve"): ONE,
    ("POST", "/api/alarms/{alarm_id}/unshelve"): ONE,
    ("POST", "/api/work-orders/{ref}/comments"): ONE,
    ("POST", "/api/work-orders/{ref}/attachments"): ONE,
    ("POST", "/api/work-orders/{ref}/acknowledge"): ONE,
    ("POST", "/api/work-orders/{ref}/start"): ONE,
    ("POST", "/api/work-orders/{ref}/hold"): ONE,
    ("POST", "/api/work-orders/{ref}/resume"): ONE,
    ("POST", "/api/work-orders/{ref}/resolve"): ONE,
    ("POST", "/api/work-orders/{ref}/postpone"): ONE,
    ("POST", "/api/work-orders/{ref}/follow-up"): ONE,
    ("POST", "/api/work-orders/{ref}/checklist/{index}"): ONE,
    ("POST", "/api/work-orders/{ref}/steps/{index}"): ONE,
    ("POST", "/api/work-orders/{ref}/photos"): ONE,
    ("POST", "/api/work-orders/{ref}/sign-off"): ONE,
    ("POST", "/api/work-orders/{ref}/close"): ONE,
    ("POST", "/api/work-orders/{ref}/cancel"): ONE,
    ("POST", "/api/work-orders/{ref}/assign"): ONE,
    ("GET", "/api/users"): LIST,
    ("GET", "/api/users/{username}"): ONE,
    ("POST", "/api/users"): NEW_PERSON,
    ("PATCH", "/api/users/{username}"): ONE,
    ("DELETE", "/api/users/{username}"): ONE,
    ("POST", "/api/users/{username}/tokens"): ONE,
    ("POST", "/api/users/{username}/revoke-tokens"): ONE,
    ("GET", "/api/users/{username}/contact-points"): ONE,
    ("POST", "/api/users/{username}/contact-points"): ONE,
    ("GET", "/api/users/{username}/sites"): ONE,
    ("PUT", "/api/users/{username}/sites"): ONE,
    ("GET", "/api/oncall"): LIST,
    ("GET", "/api/oncall/rotas/{team}"): ONE,
    ("PUT", "/api/oncall/rotas/{team}"): ONE,
    ("DELETE", "/api/oncall/rotas/{team}"): ONE,
    ("POST", "/api/oncall/rotas/{team}/overrides"): ONE,
    ("POST", "/api/oncall/rotas/{team}/swaps"): ONE,
    ("DELETE", "/api/oncall/rotas/{team}/covers/{cover_id}"): ONE,
    ("GET", "/report/{code}"): PUBLIC,
    ("GET", "/track/{reference}"): PUBLIC,
    ("POST", "/api/public/requests"): PUBLIC,
    ("GET", "/api/public/requests/{reference}"): PUBLIC,
    ("POST", "/api/public/requests/{reference}/answer"): PUBLIC,
    ("GET", "/api/public/locations/{code}"): PUBLIC,
    ("GET", "/api/requests"): LIST,
    ("GET", "/api/requests/{request_id}"): ONE,
    ("GET", "/api/requests/{request_id}/photo"): ONE,
    ("GET", "/api/complaints"): LIST,
    ("POST", "/api/desk/calls"): PLACE,
    ("GET", "/api/desk/stats"): LIST,
    ("GET", "/api/follow-ups"): LIST,
    ("POST", "/api/follow-ups/{follow_up_id}"): ONE,
    ("POST", "/api/complaints"): PLACE,
    ("POST", "/api/complaints/{complaint_id}/resolve"): ONE,
    ("GET", "/api/maintenance"): LIST,
    ("GET", "/api/maintenance/{window_id}"): ONE,
    ("POST", "/api/maintenance"): PLACE,
    ("POST", "/api/maintenance/{window_id}/end"): ONE,
    ("GET", "/api/asset-kinds"): SERVICE,
    ("GET", "/api/assets"): LIST,
    ("GET", "/api/assets.csv"): LIST,
    ("GET", "/api/assets/{equipment_id}"): ONE,
    ("POST", "/api/assets"): PLACE,
    ("PATCH", "/api/assets/{equipment_id}"): ONE,
    ("POST", "/api/assets/{equipment_id}/retire"): ONE,
    ("POST", "/api/assets/import"): PLACE,
}

# the callers, each of site north only: (username, role)
NORTH = {
    Role.TECHNICIAN: "tech-n",
    Role.SUPERVISOR: "super-n",
    Role.ENGINEER: "eng-n",
    Role.ADMIN: "admin-n",
    Role.DISPATCHER: "desk-n",
}


class South:
    """One of each of site south's records, made by the service's own functions; every call
    is refused, so one of each serves them all."""

    def __init__(self, api: Api) -> None:
        now = api.clock()
        sla = api.state.sla
        rule = next(r for r in load_rules() if r.kind == "pump")
        desk: ServiceDesk = api.app.state.desk
        with api.db.session() as session:
            boss = get_user(session, "boss")
            assert boss is not None
            for site, building in (("south", "s-tower"), ("north", "n-tower")):
                creation.create_request(
                    session,
                    user=boss,
                    title=f"{PUMP} of {building} is noisy",
                    description=None,
                    priority=Priority.NORMAL,
                    equipment_id=PUMP,
                    site=site,
                    building=building,
                    now=now,
                    sla=sla,
                    channel=Channel.API,
                )
                raise_alarm(session, PUMP, rule, now=now, sla=sla, site=site)
            session.flush()
            wo = session.scalars(
                select(WorkOrder).where(WorkOrder.site == "south", WorkOrder.equipment_id == PUMP)
            ).first()
            assert wo is not None
            self.work_order = str(wo.id)
            alarm = session.scalars(
                select(Alarm).where(Alarm.site == "south", Alarm.equipment_id == PUMP)
            ).one()
            self.alarm = str(alarm.id)
            session.add(
                Incident(
                    site="south",
                    building="s-tower",
                    kind="outage",
                    state=AlarmState.ACTIVE,
                    title="Outage in building s-tower: 2 devices lost at once",
                    devices_lost=2,
                    started_at=now,
                )
            )
            request = intake.submit(
                session,
                intake.Report(code="s-lift", what="stuck between floors", photo=b"jpeg bytes"),
                now=now,
                sla=sla,
                config=desk.config,
            )
            self.request = str(request.id)
            complaint = log_complaint(
                session,
                user=boss,
                summary="slow at s-tower",
                owner="boss",
                now=now,
                building="s-tower",
            )
            self.complaint = str(complaint.id)
            closed = creation.create_request(
                session,
                user=boss,
                title="south pump seal",
                description=None,
                priority=Priority.NORMAL,
                equipment_id=PUMP,
                site="south",
                building=None,
                now=now,
                sla=sla,
                channel=Channel.API,
            )
            closed.status = WorkOrderStatus.CLOSED
            session.flush()
            follow_up = FollowUp(work_order_id=closed.id, decided_at=now, sampled=True, attempts=0)
            session.add(follow_up)
            self.window = str(hour_of_maintenance(session, PUMP, now, site="south"))
            team = add_team(session, "s-plumbers", "plumbing", now=now, building="s-tower")
            assert team.site == "south"
            set_rota(
                session,
                team,
                RotaIn(rotation="daily", starts_on=date(2026, 3, 1), members=["boss"]),
                now=now,
                site_zone="Europe/London",
            )
            found = rota_of(session, get_team(session, "s-plumbers"))
            assert found is not None
            cover = RotaCover(
                rota_id=found.id,
                kind="override",
                user_id=boss.id,
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                created_at=now,
            )
            session.add(cover)
            session.add(
                PmSchedule(
                    plan_id="pump.s-service",
                    target=f"south/{PUMP}",
                    equipment_id=PUMP,
                    site="south",
                    building="s-tower",
                    anchor=now.date(),
                    next_due=now.date(),
                    meters={},
                    updated_at=now,
                )
            )
            session.flush()
            self.follow_up = str(follow_up.id)
            self.cover = str(cover.id)
        self.asset = "s-fan"  # added by the fixture


Builder = Callable[[South], Call]

BUILDERS: dict[Key, Builder] = {
    ("GET", "/api/equipment/{equipment_id}"): lambda s: Call(
        f"/api/equipment/{PUMP}", params={"site": "south"}
    ),
    ("GET", "/api/equipment/{equipment_id}/history"): lambda s: Call(
        f"/api/equipment/{PUMP}/history",
        params={"point": "pressure", "hours": "1", "site": "south"},
    ),
    ("GET", "/api/alarms/{alarm_id}"): lambda s: Call(f"/api/alarms/{s.alarm}"),
    ("POST", "/api/alarms/{alarm_id}/acknowledge"): lambda s: Call(
        f"/api/alarms/{s.alarm}/acknowledge", body={"note": "seen"}
    ),
    ("POST", "/api/alarms/{alarm_id}/shelve"): lambda s: Call(
        f"/api/alarms/{s.alarm}/shelve", body={"minutes": 30, "reason": "contractor on site"}
    ),
    ("POST", "/api/alarms/{alarm_id}/unshelve"): lambda s: Call(f"/api/alarms/{s.alarm}/unshelve"),
    ("GET", "/api/reports/monthly"): lambda s: Call(
        "/api/reports/monthly", params={"month": "2026-03"}
    ),
    ("GET", "/api/reports/monthly/readings"): lambda s: Call(
        "/api/reports/monthly/readings", params={"month": "2026-03"}
    ),
    ("GET", "/api/teams/{name}"): lambda s: Call("/api/teams/s-plumbers"),
    ("PATCH", "/api/teams/{name}"): lambda s: Call(
        "/api/teams/s-plumbers", body={"contractor": False}
    ),
    ("DELETE", "/api/teams/{name}"): lambda s: Call("/api/teams/s-plumbers"),
    ("PUT", "/api/teams/{name}/members/{username}"): lambda s: Call(
        "/api/teams/s-plumbers/members/tech-n"
    ),
    ("DELETE", "/api/teams/{name}/members/{username}"): lambda s: Call(
        "/api/teams/s-plumbers/members/boss"
    ),
    ("POST", "/api/work-orders"): lambda s: Call(
        "/api/work-orders", body={"title": "Pump is noisy", "equipment_id": PUMP, "site": "south"}
    ),
    ("GET", "/api/work-orders/{ref}"): lambda s: Call(f"/api/work-orders/{s.work_order}"),
    ("GET", "/api/work-orders/{ref}/audit"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/audit"
    ),
    ("GET", "/api/work-orders/{ref}/photos/{photo_id}"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/photos/1"
    ),
    ("GET", "/api/work-orders/{ref}/notifications"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/notifications"
    ),
    ("GET", "/api/notifications/outbox"): lambda s: Call(
        "/api/notifications/outbox", params={"work_order": s.work_order}
    ),
    ("POST", "/api/work-orders/{ref}/comments"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/comments", body={"text": "noted"}
    ),
    ("POST", "/api/work-orders/{ref}/attachments"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/attachments",
        body={"url": "https://files.example.com/p.jpg", "name": "p.jpg"},
    ),
    ("POST", "/api/work-orders/{ref}/postpone"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/postpone",
        body={"until": "2026-03-05T00:00:00Z", "note": "parts on order"},
    ),
    ("POST", "/api/work-orders/{ref}/checklist/{index}"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/checklist/0", body={"done": True}
    ),
    ("POST", "/api/work-orders/{ref}/steps/{index}"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/steps/0", body={"result": "pass"}
    ),
    ("POST", "/api/work-orders/{ref}/photos"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/photos",
        files={"file": ("file.png", png(), "image/png")},
        form={"caption": "the seal"},
    ),
    ("POST", "/api/work-orders/{ref}/sign-off"): lambda s: Call(
        f"/api/work-orders/{s.work_order}/sign-off",
        files={"signature": ("signature.png", png(), "image/png")},
        form={"signer": "Building manager"},
    ),
    ("GET", "/api/oncall/rotas/{team}"): lambda s: Call("/api/oncall/rotas/s-plumbers"),
    ("PUT", "/api/oncall/rotas/{team}"): lambda s: Call(
        "/api/oncall/rotas/s-plumbers",
        body={"rotation": "daily", "starts_on": "2026-03-01", "members": ["tech-n"]},
    ),
    ("DELETE", "/api/oncall/rotas/{team}"): lambda s: Call("/api/oncall/rotas/s-plumbers"),
    ("POST", "/api/oncall/rotas/{team}/overrides"): lambda s: Call(
        "/api/oncall/rotas/s-plumbers/overrides",
        body={"user": "boss", "starts_at": "2026-03-01T08:00Z", "ends_at": "2026-03-01T09:00Z"},
    ),
    ("POST", "/api/oncall/rotas/{team}/swaps"): lambda s: Call(
        "/api/oncall/rotas/s-plumbers/swaps",
        body={"first": "2026-03-01T12:00Z", "second": "2026-03-02T12:00Z"},
    ),
    ("DELETE", "/api/oncall/rotas/{team}/covers/{cover_id}"): lambda s: Call(
        f"/api/oncall/rotas/s-plumbers/covers/{s.cover}"
    ),
    ("GET", "/api/requests/{request_id}"): lambda s: Call(f"/api/requests/{s.request}"),
    ("GET", "/api/requests/{request_id}/photo"): lambda s: Call(f"/api/requests/{s.request}/photo"),
    ("POST", "/api/desk/calls"): lambda s: Call(
        "/api/desk/calls",
        body={
            "caller": "C",
            "phone": "1234567",
            "code": "s-tower",
            "category": "leak",
            "urgency": "urgent",
            "what": "leak",
        },
    ),
    ("POST", "/api/follow-ups/{follow_up_id}"): lambda s: Call(
        f"/api/follow-ups/{s.follow_up}", body={"reached": False}
    ),
    ("POST", "/api/complaints"): lambda s: Call(
        "/api/complaints", body={"summary": "slow", "owner": "desk-n", "building": "s-tower"}
    ),
    ("POST", "/api/complaints/{complaint_id}/resolve"): lambda s: Call(
        f"/api/complaints/{s.complaint}/resolve", body={"resolution": "ok", "valid": False}
    ),
    ("GET", "/api/maintenance/{window_id}"): lambda s: Call(f"/api/maintenance/{s.window}"),
    ("POST", "/api/maintenance"): lambda s: Call(
        "/api/maintenance",
        body={"equipment_id": PUMP, "site": "south", "minutes": 60, "reason": "isolated"},
    ),
    ("POST", "/api/maintenance/{window_id}/end"): lambda s: Call(
        f"/api/maintenance/{s.window}/end", body={"note": "done"}
    ),
    ("GET", "/api/assets/{equipment_id}"): lambda s: Call(f"/api/assets/{s.asset}"),
    ("POST", "/api/assets"): lambda s: Call(
        "/api/assets", body={"id": "s-fan-2", "kind": "fan", "building": "s-tower"}
    ),
    ("PATCH", "/api/assets/{equipment_id}"): lambda s: Call(
        f"/api/assets/{s.asset}", body={"make": "Grundfos"}
    ),
    ("POST", "/api/assets/{equipment_id}/retire"): lambda s: Call(f"/api/assets/{s.asset}/retire"),
    ("POST", "/api/assets/import"): lambda s: Call(
        "/api/assets/import", csv="id,kind,building\ns-fan-3,fan,s-tower\n"
    ),
}
for _action in ("acknowledge", "start", "resume", "close", "resolve", "hold", "cancel"):
    BUILDERS[("POST", f"/api/work-orders/{{ref}}/{_action}")] = lambda s, a=_action: Call(
        f"/api/work-orders/{s.work_order}/{a}", body={"note": "n"}
    )
for _key, _body in {
    ("GET", "/api/users/{username}"): None,
    ("PATCH", "/api/users/{username}"): {"display_name": "Renamed"},
    ("DELETE", "/api/users/{username}"): None,
    ("POST", "/api/users/{username}/tokens"): {"ttl_days": 1},
    ("POST", "/api/users/{username}/revoke-tokens"): None,
    ("GET", "/api/users/{username}/contact-points"): None,
    ("POST", "/api/users/{username}/contact-points"): {
        "channel": "email",
        "address": "south@example.com",
        "verified": True,
    },
    ("GET", "/api/users/{username}/sites"): None,
    ("PUT", "/api/users/{username}/sites"): {"sites": {"north": "technician"}},
}.items():
    BUILDERS[_key] = lambda s, k=_key, b=_body: Call(
        k[1].replace("{username}", "tech-south"), body=b
    )
BUILDERS[("POST", "/api/work-orders/{ref}/follow-up")] = lambda s: Call(
    f"/api/work-orders/{s.work_order}/follow-up", body={"note": "tenant happy"}
)
BUILDERS[("POST", "/api/work-orders/{ref}/assign")] = lambda s: Call(
    f"/api/work-orders/{s.work_order}/assign", body={"assignee": "tech-n"}
)


def caller_for(key: Key) -> str:
    """A north caller whose role the route allows."""
    allowed = ROLE_TABLE[key] or frozenset(Role)
    for role, username in NORTH.items():
        if role in allowed:
            return username
    raise AssertionError(f"{key}: no north caller may call it")


def leaks(answer: Answer) -> list[str]:
    text = answer.body.decode("utf-8", "replace")
    return [mark for mark in SOUTH_MARKS if mark in text]


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    settings = CloudSettings(
        inventory=north_and_south(tmp_path, north_pump=PUMP, south_pump=PUMP),
        database_url=database_url,
        demo_credentials_path=tmp_path / "demo" / "credentials.json",
        data_dir=tmp_path / "data",
        influx_url="http://127.0.0.1:9",  # nothing listens
        api_port=8123,
    )
    async with serve(settings, Clock()) as a:
        a.user("boss", Role.ADMIN)  # every site
        with a.db.session() as session:
            south = add_user(session, "tech-south", Role.TECHNICIAN, now=a.clock())
            set_sites(session, south, {"south": Role.TECHNICIAN}, served=a.state.served_sites)
            for role, username in NORTH.items():
                person = add_user(session, username, role, now=a.clock())
                a.tokens[username] = issue_token(session, person, now=a.clock())
                set_sites(session, person, {"north": role}, served=a.state.served_sites)
        # a register-only asset of south, as an admin of every site adds it
        response = await a.client.post(
            "/api/assets",
            json={"id": "s-fan", "kind": "fan", "building": "s-tower"},
            headers=a.auth("boss"),
        )
        assert response.status_code == 201, response.text
        yield a


async def test_every_route_has_a_site_row(api: Api) -> None:
    served = set(app_routes(api.app))
    missing = sorted(served - set(SITE_TABLE))
    gone = sorted(set(SITE_TABLE) - served)
    assert not missing, (
        f"routes with no row in SITE_TABLE (say what they show of a site): {missing}"
    )
    assert not gone, f"SITE_TABLE rows for routes the app no longer serves: {gone}"
    assert not set(BUILDERS) - served, "builders for routes the app does not serve"
    unbuilt = sorted(
        k for k, kind in SITE_TABLE.items() if kind in (ONE, PLACE) and k not in BUILDERS
    )
    assert not unbuilt, f"rows with nothing of south to call them on: {unbuilt}"


async def test_a_person_of_one_site_gets_nothing_of_the_other(api: Api) -> None:
    south = South(api)
    wrong: list[str] = []
    for key, kind in sorted(SITE_TABLE.items()):
        if kind.startswith("none"):
            continue
        method, path = key
        who = caller_for(key)
        builder = BUILDERS.get(key)
        c = builder(south) if builder is not None else Call(path)
        got = await call(api.app, method, c, {"Authorization": f"Bearer {api.tokens[who]}"})
        if kind == ONE and got.status != 404:
            wrong.append(f"{method} {path} as {who}: {got.status} {got.code}, expected 404")
        elif kind == PLACE and got.status not in (404, 422):
            wrong.append(f"{method} {path} as {who}: {got.status} {got.code}, expected refused")
        elif kind == LIST and (not 200 <= got.status < 300 or leaks(got)):
            wrong.append(f"{method} {path} as {who}: {got.status}, south's {leaks(got)} shown")
    assert not wrong, "another site's records reached:\n  " + "\n  ".join(wrong)


async def test_lists_and_figures_count_the_callers_sites_only(api: Api) -> None:
    South(api)
    with api.db.session() as session:
        sites = [w.site for w in session.scalars(select(WorkOrder))]
    north, south = sites.count("north"), sites.count("south")
    assert north and south and north + south == len(sites)
    api.clock.advance(60)  # the figures count jobs raised before now
    tech, boss = api.auth("tech-n"), api.auth("boss")
    jobs = (await api.client.get("/api/work-orders", headers=tech)).json()
    assert [j["site"] for j in jobs["items"]] == ["north"] * north
    every = (await api.client.get("/api/work-orders", headers=boss)).json()
    assert every["total"] == north + south
    only = await api.client.get("/api/work-orders", params={"site": "south"}, headers=boss)
    assert [j["site"] for j in only.json()["items"]] == ["south"] * south
    refused = await api.client.get("/api/work-orders", params={"site": "south"}, headers=tech)
    assert refused.status_code == 404
    kpis = (await api.client.get("/api/kpis", headers=tech)).json()
    assert kpis["counts"]["raised"] == north
    side = (await api.client.get("/api/kpis/sites", headers=boss)).json()
    assert [s["site"] for s in side["sites"]] == ["north", "south"]
    assert [s["counts"]["raised"] for s in side["sites"]] == [north, south]
    assert side["portfolio"]["counts"]["raised"] == north + south
    sites = (await api.client.get("/api/sites", headers=tech)).json()
    assert sites == [{"id": "north", "name": "Site north", "time_zone": "Asia/Hong_Kong"}]
    assert len((await api.client.get("/api/sites", headers=api.auth("boss"))).json()) == 2


async def test_a_site_role_narrows_the_persons_role_there(api: Api) -> None:
    """A supervisor who is a technician at south sees both sites' jobs and assigns north's
    only: on a job, a person acts with their role at its site."""
    South(api)
    with api.db.session() as session:
        person = get_user(session, "super-n")
        assert person is not None
        set_sites(
            session,
            person,
            {"north": Role.SUPERVISOR, "south": Role.TECHNICIAN},
            served=api.state.served_sites,
        )
        jobs = {
            w.site: w.id
            for w in session.scalars(
                select(WorkOrder).where(WorkOrder.status == WorkOrderStatus.OPEN)
            )
        }
    headers = api.auth("super-n")
    seen = (await api.client.get("/api/work-orders", headers=headers)).json()
    assert {j["site"] for j in seen["items"]} == {"north", "south"}  # reading: both
    south = await api.client.post(
        f"/api/work-orders/{jobs['south']}/assign", json={"assignee": "tech-n"}, headers=headers
    )
    assert south.status_code == 403, south.text  # a technician there: sees it, may not assign
    assert "the technician role may not assign" in south.text
    north = await api.client.post(
        f"/api/work-orders/{jobs['north']}/assign", json={"assignee": "tech-n"}, headers=headers
    )
    assert north.status_code == 200, north.text


async def test_an_admin_sets_a_persons_sites(api: Api) -> None:
    boss = api.auth("boss")
    put = await api.client.put(
        "/api/users/tech-n/sites", json={"sites": {"south": "technician"}}, headers=boss
    )
    assert put.status_code == 200, put.text
    assert put.json()["sites"] == {"south": "technician"}
    sites = (await api.client.get("/api/sites", headers=api.auth("tech-n"))).json()
    assert [s["id"] for s in sites] == ["south"]
    profile = (await api.client.get("/api/me/profile", headers=api.auth("tech-n"))).json()
    assert profile["time_zone"] == "Europe/London"  # their site's clock
    unknown = await api.client.put(
        "/api/users/tech-n/sites", json={"sites": {"west": "technician"}}, headers=boss
    )
    assert unknown.status_code == 422 and "sites.west" in unknown.text
    cleared = await api.client.put("/api/users/tech-n/sites", json={"sites": {}}, headers=boss)
    assert cleared.json()["sites"] == {}
    assert len((await api.client.get("/api/sites", headers=api.auth("tech-n"))).json()) == 2


def test_an_event_stream_shows_the_callers_sites_only() -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        sub = Subscription(loop, asyncio.Queue(), sites=frozenset({"north"}))
        north = Message(1, "work_order", "{}", None, "north")
        south = Message(2, "alarm", "{}", None, "south")
        assert sub.shows(north) and not sub.shows(south)
        assert Subscription(loop, asyncio.Queue()).shows(south)
    finally:
        loop.close()


async def test_nobody_is_told_of_a_job_of_a_site_they_do_not_see(api: Api) -> None:
    South(api)
    api.clock.advance(60)
    escalator = Escalator(api.db, api.state.sla, clock=api.clock)
    assert escalator.tick().dispatched > 0
    with api.db.session() as session:
        told = session.execute(
            select(User.username, WorkOrder.site)
            .join(Notification, Notification.user_id == User.id)
            .join(WorkOrder, WorkOrder.id == Notification.work_order_id)
        ).all()
    assert ("tech-n", "north") in told  # every technician, for a job of no team
    assert [(u, s) for u, s in told if u.endswith("-n") and s == "south"] == []


async def test_a_site_role_never_gives_more_than_the_persons_own(api: Api) -> None:
    boss = api.auth("boss")
    wider = await api.client.put(
        "/api/users/tech-n/sites", json={"sites": {"north": "supervisor"}}, headers=boss
    )
    assert wider.status_code == 422 and "sites.north: supervisor is more than" in wider.text
    # super-n is a supervisor at north: made a technician, they would be more than one there
    demoted = await api.client.patch(
        "/api/users/super-n", json={"role": "technician"}, headers=boss
    )
    assert demoted.status_code == 409 and demoted.json()["error"]["code"] == "role_sites"


async def test_a_job_goes_only_to_someone_who_works_at_its_site(api: Api) -> None:
    South(api)
    with api.db.session() as session:
        south = session.scalars(
            select(WorkOrder.id).where(
                WorkOrder.site == "south", WorkOrder.status == WorkOrderStatus.OPEN
            )
        ).first()
    refused = await api.client.post(
        f"/api/work-orders/{south}/assign", json={"assignee": "tech-n"}, headers=api.auth("boss")
    )
    assert refused.status_code == 422
    assert "assignee: 'tech-n' does not work at site 'south'" in refused.text


async def test_an_id_both_sites_use_is_each_callers_own_or_named_by_site(api: Api) -> None:
    """Both sites' pumps are `pump-1`: a person of north gets north's from the bare id; the
    portfolio, which sees both, says which (409 naming the sites until it does)."""
    South(api)
    tech, boss = api.auth("tech-n"), api.auth("boss")
    mine = await api.client.get(f"/api/equipment/{PUMP}", headers=tech)
    assert mine.status_code == 200 and mine.json()["site"] == "north"
    both = await api.client.get(f"/api/equipment/{PUMP}", headers=boss)
    assert both.status_code == 409, both.text
    assert "'pump-1' is at several sites ('north', 'south')" in both.json()["error"]["message"]
    for site, building in (("north", "n-tower"), ("south", "s-tower")):
        one = await api.client.get(f"/api/equipment/{PUMP}", params={"site": site}, headers=boss)
        assert (one.json()["site"], one.json()["building"]) == (site, building)
    listed = (await api.client.get("/api/equipment", headers=boss)).json()["items"]
    assert sorted((e["site"], e["id"]) for e in listed if e["id"] == PUMP) == [
        ("north", PUMP),
        ("south", PUMP),
    ]
    asked = await api.client.post(
        "/api/work-orders",
        json={"title": "Pump noisy", "equipment_id": PUMP, "site": "south"},
        headers=boss,
    )
    assert asked.status_code == 201, asked.text
    assert (asked.json()["site"], asked.json()["building"]) == ("south", "s-tower")
    unsaid = await api.client.post(
        "/api/work-orders", json={"title": "Pump noisy", "equipment_id": PUMP}, headers=boss
    )
    assert unsaid.status_code == 409, unsaid.text
    jobs = await api.client.get("/api/work-orders", params={"equipment_id": PUMP}, headers=tech)
    assert {j["site"] for j in jobs.json()["items"]} == {"north"}
