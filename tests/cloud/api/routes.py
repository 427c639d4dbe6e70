"""The cloud app's routes as data: who may call each (the role table docs/api.md promises),
the routes the app serves, and one call straight through ASGI with its answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from cloud.enums import Role

ALL = frozenset(Role)


STAFF = ALL - {Role.CONTRACTOR}  # everyone signed in but contractors


FIELD = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})


WORKERS = FIELD | {Role.CONTRACTOR}  # who works a job (a contractor: their team's)


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
    # the installable console (docs/console.md) and the QR labels' address: public
    ("GET", "/manifest.webmanifest"): PUBLIC,
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/icons/icon-{size}.png"): PUBLIC,
    ("GET", "/equipment/{equipment_id}"): PUBLIC,
    # docs/api.md: every endpoint but /api/health needs a token; login takes a password
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/auth/token"): PUBLIC,
    ("POST", "/api/auth/logout"): ALL,
    ("GET", "/api/me"): ALL,
    ("GET", "/api/me/profile"): ALL,
    ("GET", "/api/me/notifications"): ALL,
    ("POST", "/api/me/notifications/{notification_id}/read"): ALL,
    ("POST", "/api/me/notifications/read"): ALL,
    # docs/notifications.md: each person's own contact points and language
    ("GET", "/api/me/contact-points"): ALL,
    ("POST", "/api/me/contact-points"): ALL,
    ("DELETE", "/api/me/contact-points/{point_id}"): ALL,
    ("POST", "/api/me/contact-points/{point_id}/test"): ALL,
    ("POST", "/api/me/contact-points/{point_id}/verify"): ALL,
    ("PUT", "/api/me/language"): ALL,
    ("PATCH", "/api/users/me"): ALL,
    # ... and the link a message carries: its signed token is the credential
    ("GET", "/ack/{token}"): PUBLIC,
    ("POST", "/ack/{token}"): PUBLIC,
    ("GET", "/api/events"): ALL,
    # docs/sites.md: the sites the caller sees; their KPIs side by side
    ("GET", "/api/sites"): ALL,
    ("GET", "/api/kpis/sites"): STAFF,
    # docs/sites.md: supervisors read a person's sites; admins set them
    ("GET", "/api/users/{username}/sites"): OFFICE,
    ("PUT", "/api/users/{username}/sites"): ADMIN,
    # reading: anyone signed in but contractors
    ("GET", "/api/equipment"): STAFF,
    ("GET", "/api/equipment/{equipment_id}"): STAFF,
    ("GET", "/api/equipment/{equipment_id}/history"): STAFF,
    ("GET", "/api/alarms"): STAFF,
    ("GET", "/api/alarms/{alarm_id}"): STAFF,
    ("GET", "/api/system-alarms"): STAFF,
    ("GET", "/api/system-alarms/{alarm_id}"): STAFF,
    ("GET", "/api/incidents"): STAFF,
    ("GET", "/api/kpis"): STAFF,
    ("GET", "/api/reports/monthly"): STAFF,
    ("GET", "/api/reports/monthly/readings"): STAFF,
    ("GET", "/api/rules"): STAFF,
    ("GET", "/api/pm/plans"): STAFF,
    ("GET", "/api/pm/schedules"): STAFF,
    # reading: anyone signed in; a contractor their own teams and their own teams' jobs
    ("GET", "/api/teams"): ALL,
    ("GET", "/api/teams/{name}"): ALL,
    ("GET", "/api/work-orders"): ALL,
    ("GET", "/api/work-orders/{ref}"): ALL,
    ("GET", "/api/work-orders/{ref}/audit"): ALL,
    ("GET", "/api/work-orders/{ref}/photos/{photo_id}"): ALL,
    # docs/notifications.md: a job's messages, as its page in the console shows them
    ("GET", "/api/notifications/outbox"): ALL,
    ("GET", "/api/work-orders/{ref}/notifications"): ALL,
    # docs/rules.md: any user who saw an alarm says so; it takes no job
    ("POST", "/api/alarms/{alarm_id}/acknowledge"): STAFF,
    # docs/api.md: anyone who may acknowledge an alarm may shelve it for a while
    ("POST", "/api/alarms/{alarm_id}/shelve"): STAFF,
    ("POST", "/api/alarms/{alarm_id}/unshelve"): STAFF,
    # docs/workorders.md: anyone asks for work; anyone who sees a job comments and attaches
    ("POST", "/api/work-orders"): STAFF,
    ("POST", "/api/work-orders/{ref}/comments"): ALL,
    ("POST", "/api/work-orders/{ref}/attachments"): ALL,
    # docs/workorders.md: field staff (and contractors, on their team's jobs) act on jobs
    ("POST", "/api/work-orders/{ref}/acknowledge"): WORKERS,
    ("POST", "/api/work-orders/{ref}/start"): WORKERS,
    ("POST", "/api/work-orders/{ref}/hold"): WORKERS,
    ("POST", "/api/work-orders/{ref}/resume"): WORKERS,
    ("POST", "/api/work-orders/{ref}/resolve"): WORKERS,
    ("POST", "/api/work-orders/{ref}/postpone"): WORKERS,
    ("POST", "/api/work-orders/{ref}/follow-up"): FIELD,
    ("POST", "/api/work-orders/{ref}/checklist/{index}"): WORKERS,
    # docs/api.md: working a job on a phone (steps, photos, sign-off)
    ("POST", "/api/work-orders/{ref}/steps/{index}"): WORKERS,
    ("POST", "/api/work-orders/{ref}/photos"): WORKERS,
    ("POST", "/api/work-orders/{ref}/sign-off"): WORKERS,
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
    ("GET", "/api/users/{username}/contact-points"): ADMIN,
    ("POST", "/api/users/{username}/contact-points"): ADMIN,
    ("POST", "/api/teams"): ADMIN,
    ("PATCH", "/api/teams/{name}"): ADMIN,
    ("DELETE", "/api/teams/{name}"): ADMIN,
    ("PUT", "/api/teams/{name}/members/{username}"): ADMIN,
    ("DELETE", "/api/teams/{name}/members/{username}"): ADMIN,
    # docs/oncall.md: the staff read who is on call and the rotas; supervisors set them
    ("GET", "/api/oncall"): STAFF,
    ("GET", "/api/oncall/rotas/{team}"): STAFF,
    ("PUT", "/api/oncall/rotas/{team}"): OFFICE,
    ("DELETE", "/api/oncall/rotas/{team}"): OFFICE,
    ("POST", "/api/oncall/rotas/{team}/overrides"): OFFICE,
    ("POST", "/api/oncall/rotas/{team}/swaps"): OFFICE,
    ("DELETE", "/api/oncall/rotas/{team}/covers/{cover_id}"): OFFICE,
    # docs/requests.md: occupants report and follow without a token; the desk's own routes
    ("GET", "/report/{code}"): PUBLIC,
    ("GET", "/track/{reference}"): PUBLIC,
    ("POST", "/api/public/requests"): PUBLIC,
    ("GET", "/api/public/requests/{reference}"): PUBLIC,
    ("POST", "/api/public/requests/{reference}/answer"): PUBLIC,
    ("GET", "/api/public/locations/{code}"): PUBLIC,
    ("GET", "/api/requests"): STAFF,
    ("GET", "/api/requests/{request_id}"): STAFF,
    ("GET", "/api/requests/{request_id}/photo"): STAFF,
    ("GET", "/api/complaints"): STAFF,
    ("POST", "/api/desk/calls"): DESK,
    ("GET", "/api/desk/stats"): DESK,
    ("GET", "/api/follow-ups"): DESK,
    ("POST", "/api/follow-ups/{follow_up_id}"): DESK,
    ("POST", "/api/complaints"): DESK,
    ("POST", "/api/complaints/{complaint_id}/resolve"): DESK,
    # docs/workorders.md: the staff read maintenance windows; the office and the desk set them
    ("GET", "/api/maintenance"): STAFF,
    ("GET", "/api/maintenance/{window_id}"): STAFF,
    ("POST", "/api/maintenance"): DESK,
    ("POST", "/api/maintenance/{window_id}/end"): DESK,
    # docs/assets.md: the staff read the asset register; supervisors and admins change it
    ("GET", "/api/asset-kinds"): STAFF,
    ("GET", "/api/assets"): STAFF,
    ("GET", "/api/assets.csv"): STAFF,
    ("GET", "/api/assets/{equipment_id}"): STAFF,
    ("POST", "/api/assets"): OFFICE,
    ("PATCH", "/api/assets/{equipment_id}"): OFFICE,
    ("POST", "/api/assets/{equipment_id}/retire"): OFFICE,
    ("POST", "/api/assets/import"): OFFICE,
}


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
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # multipart
    form: dict[str, str] = field(default_factory=dict)  # the multipart's other fields
    csv: str | None = None  # a text/csv body

    def content(self) -> tuple[bytes, str | None]:
        """The request's body and its content type."""
        if self.csv is not None:
            return self.csv.encode(), "text/csv"
        if self.files or self.form:  # multipart with files, else a urlencoded form
            encoded = httpx.Request(
                "POST", "http://cloud/", data=self.form, files=self.files or None
            )
            return encoded.read(), encoded.headers["content-type"]
        if self.body is not None:
            return json.dumps(self.body).encode(), "application/json"
        return b"", None


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
    payload, content_type = c.content()
    raw = [(b"host", b"cloud")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if content_type is not None:
        raw.append((b"content-type", content_type.encode()))
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
