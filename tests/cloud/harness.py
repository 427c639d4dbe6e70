"""The cloud's test harness: a settable clock, the app served over httpx's ASGI transport with
an API client that signs users in, and a site on the session's real mosquitto.

Import what a test needs by name (`from tests.cloud.harness import Api, Clock, serve`); the
fixtures built on these live in tests/cloud/conftest.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import typer
import uvicorn
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cloud import faults, registry
from cloud.alarms.model import Alarm
from cloud.app import create_app
from cloud.db import Database
from cloud.enums import Channel, Priority, Role, WorkOrderKind
from cloud.maintenance import service as maintenance
from cloud.pm.loader import load_plans
from cloud.rules.loader import load_rules
from cloud.rules.model import Rule
from cloud.rules.service import RulesService
from cloud.sla import SlaPolicy
from cloud.state import AppState
from cloud.users.model import Team
from cloud.users.service import add_user, get_user, issue_token, set_member
from cloud.workorders import creation
from cloud.workorders.model import WorkOrder
from plantroom.inventory import Inventory, load_inventory
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from stack.pgserver import Postgres
from stack.services import Mosquitto
from tests.cloud.rows import equipment_row
from tests.harness import wait_for, wait_for_async, write_site

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STAFF = {  # the users the `api` fixture signs in
    "tech1": Role.TECHNICIAN,
    "tech2": Role.TECHNICIAN,
    "super1": Role.SUPERVISOR,
    "eng1": Role.ENGINEER,
}
CAMERA_MAKE = "PhoneMaker"
GPS_IFD = 0x8825  # the EXIF tag of the GPS data


def camera_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    """A phone camera's photo: a JPEG whose EXIF holds the camera's make (CAMERA_MAKE) and
    the place it was taken."""
    image = Image.new("RGB", size, (90, 110, 130))
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE  # Make
    exif[GPS_IFD] = {1: "N", 2: (22.0, 17.0, 0.0), 3: "E", 4: (114.0, 10.0, 0.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


class Clock:
    """The time the cloud sees, set and moved on by the test: `clock()` is an aware datetime,
    `clock.timestamp()` the same instant in epoch seconds (the rule engine's clock)."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move on by `seconds`, or by timedelta's keywords (`advance(days=1)`)."""
        self.now += timedelta(seconds=seconds, **delta)


@contextmanager
def postgres_schema(postgres: Postgres) -> Iterator[str]:
    """A schema of its own on the session's PostgreSQL, dropped afterwards: its database URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres.url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield f"{postgres.url}?options=-csearch_path%3D{schema}"
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def settings_for(tmp: Path, site: str = "cloud-s1", **extra: Any) -> CloudSettings:
    """Settings for an app on a temp SQLite file with tests/data/`site`.yaml as inventory."""
    write_site(tmp / "site.yaml", site)
    extra.setdefault("database_url", f"sqlite:///{tmp}/db/cloud.sqlite")
    return CloudSettings(
        inventory=tmp / "site.yaml",
        demo_credentials_path=tmp / "demo" / "credentials.json",
        api_port=8123,
        **extra,
    )


def site_database(tmp: Path, inventory: str) -> tuple[Inventory, Database]:
    """The inventory YAML `inventory` written to `tmp`/site.yaml and loaded, and a migrated
    SQLite database in `tmp`/db with its equipment registered."""
    (tmp / "site.yaml").write_text(inventory, encoding="utf-8")
    loaded = load_inventory(tmp / "site.yaml")
    db = Database(f"sqlite:///{tmp}/db/cloud.sqlite")
    db.migrate()
    with db.session() as session:
        registry.sync_inventory(session, loaded)
    return loaded, db


class Api:
    """The app and an httpx client on it; `user()` adds a user and keeps a token to call as."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: Clock) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self.tokens: dict[str, str] = {}

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.cloud
        return state

    @property
    def db(self) -> Database:
        return self.state.database()

    @property
    def rules(self) -> RulesService:
        service: RulesService = self.app.state.rules_service
        return service

    def user(self, username: str, role: Role, password: str | None = None) -> str:
        """Add `username` (or take the one there) and issue a token for it."""
        with self.db.session() as session:
            user = get_user(session, username) or add_user(
                session,
                username,
                role,
                now=self.clock(),
                password=password,
                display_name=username.title(),
            )
            self.tokens[username] = issue_token(session, user, now=self.clock())
        return self.tokens[username]

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def pm_job(
        self,
        session: Session,
        equipment_id: str,
        title: str,
        *,
        priority: Priority = Priority.LOW,
        team: Team | None = None,
    ) -> WorkOrder:
        """A PM job on `equipment_id`, created in `session` by the system."""
        return creation.create_work_order(
            session,
            title=title,
            kind=WorkOrderKind.PM,
            priority=priority,
            now=self.clock(),
            sla=self.state.sla,
            channel=Channel.SYSTEM,
            equipment=equipment_row(session, equipment_id),
            team=team,
        )

    def fault(self, equipment_id: str, rule_id: str, *, clear: bool = False) -> None:
        """Raise (or clear) the alarm of `rule_id` on `equipment_id` as the monitor would."""
        raise_fault(self.state, equipment_id, rule_id, now=self.clock(), clear=clear)

    async def get(self, url: str, who: str | None = "tech1", **kw: Any) -> httpx.Response:
        headers = self.auth(who) if who else {}
        return await self.client.get(url, headers=headers, **kw)

    async def post(self, url: str, who: str | None = "tech1", **kw: Any) -> httpx.Response:
        headers = self.auth(who) if who else {}
        return await self.client.post(url, headers=headers, **kw)


@asynccontextmanager
async def serve(
    settings: CloudSettings,
    clock: Clock | None = None,
    *,
    users: Mapping[str, Role] | None = None,
    notify: bool = False,
    rules_watch_s: float | None = None,
) -> AsyncIterator[Api]:
    """The app on `settings` with the test's clock: no telemetry consumer, no SLA ticker (tests
    tick it themselves) and, unless `notify`, nothing sent out; `users` signed in, and rule
    files looked at every `rules_watch_s` if given."""
    clock = clock or Clock()
    app = create_app(settings, clock=clock, ingest=False, escalate=False, notify=notify)
    if rules_watch_s is not None:
        service: RulesService = app.state.rules_service
        service.watch_interval = rules_watch_s
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
            api = Api(app, client, clock)
            for username, role in (users or {}).items():
                api.user(username, role)
            yield api


def raise_fault(
    state: AppState,
    equipment_id: str,
    rule_id: str,
    *,
    now: datetime,
    clear: bool = False,
    values: dict[str, Any] | None = None,
) -> None:
    """Raise (or clear) the alarm of the shipped rule `rule_id` on `equipment_id` in the app's
    database, as the monitor would, with `values` ({"x": True} unless given)."""
    rule = next(r for r in load_rules() if r.id == rule_id)
    with state.database().session() as session:
        if clear:
            clear_alarm(session, equipment_id, rule_id, now=now)
            return
        raise_alarm(session, equipment_id, rule, now=now, sla=state.sla, values=values)


def raise_alarm(
    session: Session,
    equipment_id: str,
    rule: Rule,
    *,
    now: datetime,
    sla: SlaPolicy,
    values: dict[str, Any] | None = None,
    site: str | None = None,
) -> Alarm:
    """`rule`'s alarm on `equipment_id` (of `site`) raised in `session` as the monitor would,
    with the rule's title and `values` ({"x": True} unless given); the alarm row."""
    equipment = equipment_row(session, equipment_id, site)
    assert equipment is not None
    alarm, _ = faults.raise_alarm(
        session,
        equipment=equipment,
        rule=rule,
        values={"x": True} if values is None else values,
        message=rule.title,
        now=now,
        sla=sla,
    )
    return alarm


def clear_alarm(session: Session, equipment_id: str, rule_id: str, *, now: datetime) -> None:
    """The alarm of `rule_id` on `equipment_id` cleared in `session` as the monitor would."""
    equipment = equipment_row(session, equipment_id)
    assert equipment is not None, equipment_id
    faults.clear_alarm(
        session, equipment=equipment, rule_id=rule_id, values={}, message="cleared", now=now
    )


@contextmanager
def over_http(app: FastAPI) -> Iterator[tuple[str, int]]:
    """`app` served by uvicorn on a free port in a thread until the block ends: (host, port)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn")
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn to start", within=20)
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def signed_up(state: AppState, users: Mapping[str, Role]) -> dict[str, str]:
    """`users` added to the app's database, each with a token: username → token."""
    tokens = {}
    with state.database().session() as session:
        for name, role in users.items():
            user = add_user(session, name, role, now=state.clock())
            tokens[name] = issue_token(session, user, now=state.clock())
    return tokens


def run_cli(commands: typer.Typer, name: str, url: str, token: str | None, *args: str) -> Any:
    """`plantroom <name> <args>` as a person at a terminal runs it against the API at `url`,
    with `token` in the environment (none with None): typer's result (exit code, output)."""
    app = typer.Typer()
    app.add_typer(commands, name=name)
    env = {"PLANTROOM_API_URL": url}
    if token is not None:
        env["PLANTROOM_TOKEN"] = token
    return CliRunner().invoke(app, [name, *args], env=env)


def lift_visit(api: Api) -> int:
    """The shipped half-monthly lift visit raised for e1, as the PM scheduler raises it: its
    id."""
    plan = next(p for p in load_plans() if p.id == "elevator.routine_maintenance")
    with api.db.session() as session:
        wo = creation.raise_for_rule(
            session,
            rule_id=f"pm.{plan.id}",
            key="e1",
            title=f"{plan.plan.title}: e1",
            kind=WorkOrderKind.PM,
            priority=Priority.NORMAL,
            now=api.clock(),
            sla=api.state.sla,
            equipment=equipment_row(session, "e1"),
            description=None,
            note="PM plan",
            checklist=[item.entry() for item in plan.plan.checklist],
        )
        wo.sign_off_required = plan.plan.sign_off == "required"
        wo.pm_plan_id = plan.id
        session.flush()
        return wo.id


async def lift_visit_started(api: Api) -> int:
    """The shipped lift visit raised for e1 (`lift_visit`), acknowledged and started by tech1:
    its id."""
    wo = lift_visit(api)
    for action in ("acknowledge", "start"):
        answer = await api.post(f"/api/work-orders/{wo}/{action}")
        assert answer.status_code == 200, answer.text
    return wo


def png(size: tuple[int, int] = (300, 120)) -> bytes:
    """A transparent PNG (a signature pad's picture)."""
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


async def step(api: Api, wo: int, index: int, key: str | None = None, **body: Any) -> Any:
    """tech1 answers step `index` of job `wo` with `body` (and the Idempotency-Key `key`)."""
    headers = {**api.auth("tech1"), **({"Idempotency-Key": key} if key else {})}
    return await api.client.post(f"/api/work-orders/{wo}/steps/{index}", json=body, headers=headers)


def table(html: str, name: str) -> list[list[str]]:
    """The cells of each row of the HTML table with id `name` (a report's)."""
    found = re.search(rf'<table id="{name}">(.*?)</table>', html, flags=re.S)
    assert found, name
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), flags=re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows if "<td" in row]


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert that `response` is the API's error `code` with `status`; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


# -- the service on a real broker -------------------------------------------------------------


class LiveSite:
    """A site of its own on the session's mosquitto: a unique site id and share group, an
    inventory from tests/data/, a SQLite file, demo users, and telemetry to publish."""

    def __init__(
        self,
        tmp: Path,
        broker: Mosquitto,
        *,
        inventory: str = "tower-a",
        clock: Clock | None = None,
        rules: bool = False,
    ) -> None:
        self.site = f"it-{uuid.uuid4().hex[:8]}"
        self.broker = broker
        self.clock = clock
        write_site(tmp / "site.yaml", inventory, id=self.site)
        self.rules = tmp / "rules"
        if rules:
            self.rules.mkdir()
        extra: dict[str, Any] = {"rules_dir": self.rules} if rules else {}
        self.settings = CloudSettings(
            inventory=tmp / "site.yaml",
            database_url=f"sqlite:///{tmp}/db/cloud.sqlite",
            mqtt_host=broker.host,
            mqtt_port=broker.port,
            demo_mode=True,
            demo_credentials_path=tmp / "credentials.json",
            cloud_share_group=f"rules-{uuid.uuid4().hex[:8]}",
            **extra,
        )
        self.seq = 0

    def topic(self, equipment: str, kind: str, leaf: str = "telemetry") -> str:
        return f"plantroom/v1/{self.site}/tower-a/{kind}/{equipment}/{leaf}"

    def telemetry(self, points: dict[str, Any]) -> bytes:
        """The next sample, stamped by the site's clock (or the wall clock without one)."""
        self.seq += 1
        now = self.clock().timestamp() if self.clock else time.time()
        return json.dumps({"ts": int(now * 1000), "seq": self.seq, "points": points}).encode()

    def token(self, username: str) -> dict[str, str]:
        data = json.loads(self.settings.demo_credentials_path.read_text())
        token = next(u["token"] for u in data["users"] if u["username"] == username)
        return {"Authorization": f"Bearer {token}"}

    def publisher(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.broker.host, self.broker.port, identifier=f"test-pub-{uuid.uuid4().hex[:8]}"
        )

    @asynccontextmanager
    async def running(
        self, app: FastAPI
    ) -> AsyncIterator[tuple[httpx.AsyncClient, aiomqtt.Client]]:
        """`app` started, with an HTTP client on it and a publisher on the broker, once its
        telemetry consumer is connected."""
        async with app.router.lifespan_context(app), asgi(app) as api, self.publisher() as mqtt:
            await wait_for_async(lambda: connected(api), "the consumer to connect", within=15.0)
            yield api, mqtt

    @asynccontextmanager
    async def serving(
        self, tick_interval: float = 0.2
    ) -> AsyncIterator[tuple[httpx.AsyncClient, aiomqtt.Client]]:
        """The whole app on this site's settings, `running`."""
        async with self.running(create_app(self.settings, tick_interval=tick_interval)) as both:
            yield both

    async def active_alarms(self, api: httpx.AsyncClient) -> list[dict[str, Any]] | None:
        """The site's active alarms as a technician sees them, or None while there are none."""
        params = {"state": "active"}
        page = (await api.get("/api/alarms", params=params, headers=self.token("tech1"))).json()
        return page["items"] if page["total"] else None

    async def on_call(
        self, api: httpx.AsyncClient, username: str, team: str = "tower-a-plumbing"
    ) -> None:
        """`username` on call for `team` for the next two hours (`cover_from_now`)."""
        now = self.clock() if self.clock else datetime.now(UTC)
        body = cover_from_now(username, now)
        r = await api.post(
            f"/api/oncall/rotas/{team}/overrides", json=body, headers=self.token("super1")
        )
        assert r.status_code == 201, r.text

    async def caught_up(self, api: httpx.AsyncClient, equipment: str) -> dict[str, Any] | None:
        """`equipment` as the API shows it once it has taken the last sample published, or None
        before."""
        eq: dict[str, Any] = (
            await api.get(f"/api/equipment/{equipment}", headers=self.token("tech1"))
        ).json()
        return eq if eq["last_seq"] == self.seq else None


def asgi(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cloud")


async def connected(client: httpx.AsyncClient) -> bool:
    """Whether the service's telemetry consumer is connected to the broker."""
    health = (await client.get("/api/health")).json()
    return bool(health["mqtt"]["connected"])


# -- the service as its own process -----------------------------------------------------------


def cloud_process(
    tmp: Path,
    inventory: Path,
    port: int,
    *,
    broker: Mosquitto,
    influx_url: str,
    influx_database: str,
    credentials: Path,
    extra: Sequence[str] = (),
) -> tuple[list[str], dict[str, str]]:
    """The command and environment that start the cloud in demo mode on `port`, with
    `inventory`, a SQLite file under `tmp`/db, the broker, InfluxDB and a share group of its
    own, demo users' tokens written to `credentials`; `extra` arguments last."""
    env = {
        **os.environ,
        "PLANTROOM_MQTT_HOST": broker.host,
        "PLANTROOM_MQTT_PORT": str(broker.port),
        "PLANTROOM_INFLUX_URL": influx_url,
        "PLANTROOM_INFLUX_DATABASE": influx_database,
        "PLANTROOM_DEMO_CREDENTIALS_PATH": str(credentials),
        "PLANTROOM_CLOUD_SHARE_GROUP": f"rules-{port}",
    }
    cmd = [
        sys.executable,
        "-m",
        "stack",
        "cloud",
        "--inventory",
        str(inventory),
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{tmp}/db/cloud.sqlite",
        "--demo-mode",
        *extra,
    ]
    return cmd, env


def add_members(session: Session, team: Team, usernames: Iterable[str]) -> None:
    """The users `usernames`, added before, made members of `team`."""
    for username in usernames:
        user = get_user(session, username)
        assert user is not None, username
        set_member(session, team, user, member=True)


def cover_from_now(username: str, now: datetime, hours: float = 2) -> dict[str, str]:
    """The body of an override putting `username` on call from a minute before `now` for
    `hours`: a test that watches who a job is told to must not depend on whose day it is (the
    demo rota alternates tech1 and tech2 daily, handing over at 08:00 at the site)."""
    return {
        "user": username,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=hours)).isoformat(),
        "note": "on call for the test",
    }


def hour_of_maintenance(
    session: Session, equipment_id: str, now: datetime, site: str | None = None
) -> int:
    """A maintenance window for `equipment_id` (of `site`) from now for an hour, set by the
    service (no user): its id."""
    window = maintenance.create(
        session,
        user=None,
        equipment_id=equipment_id,
        site=site,
        building=None,
        starts_at=None,
        ends_at=now + timedelta(hours=1),
        reason="pump isolated",
        now=now,
        max_duration=timedelta(days=1),
        past_skew=timedelta(0),
    )
    return window.id


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body
