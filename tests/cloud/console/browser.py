"""What the console's browser tests share: the cloud as its own process on the session's real
mosquitto and InfluxDB (`Stack`, started by the fixtures in conftest.py), Debian's Chromium
launched headless, screenshots, an accessibility check, the token sign-in and the console's
message catalogs.

Importing this module needs neither a browser nor Playwright: the fixtures use it too, and
Playwright is imported when a test first drives a browser (`chromium`) or expects of a page
(`expect`). Tests marked `browser` are skipped where Chromium or Playwright is missing
(tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import httpx
import yaml
from paho.mqtt import publish

from cloud.app import create_app
from cloud.enums import Role
from cloud.pm.loader import SHIPPED
from cloud.state import AppState
from cloud.users.demo import DEMO_ROTA
from cloud.users.service import add_user, issue_token
from cloud.users.sites import set_sites
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from stack.services import Influxd, Mosquitto
from tests.cloud.harness import cloud_process, cover_from_now, over_http
from tests.cloud.sites import north_and_south
from tests.harness import CHROMIUM, REPO, influx_write, request, terminate, wait_for, write_site

ARTIFACTS = REPO / "test-artifacts" / "console"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 640}
WAIT_MS = 20_000
LIFT_PLAN = "elevator.routine_maintenance"


@dataclass
class Stack:
    """The cloud process at `url`, serving `site` (tests/data/tower-a.yaml) on `broker`."""

    url: str
    site: str
    broker: Mosquitto
    credentials: Path
    seq: int = 0

    def token(self, username: str) -> str:
        users = json.loads(self.credentials.read_text())["users"]
        token: str = next(u["token"] for u in users if u["username"] == username)
        return token

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def api(self, path: str, username: str = "super1") -> Any:
        resp = request("GET", f"{self.url}{path}", headers=self.auth(username), timeout=5)
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: Mapping[str, Any], username: str) -> Any:
        resp = request(
            "POST", f"{self.url}{path}", json=body, headers=self.auth(username), timeout=5
        )
        assert resp.is_success, resp.text
        return resp.json()

    def told_at_any_hour(self) -> None:
        """Every team's rota tells its routine jobs at once, whatever the hour at the site.

        The demo rota holds routine jobs raised outside 07:00-22:00 until the morning; a test
        that watches a normal job's messages must not pass or fail by the time of day."""
        for team in self.api("/api/oncall"):
            if not team["has_rota"]:
                continue
            rota = self.api(f"/api/oncall/rotas/{team['team']}")
            body = {**DEMO_ROTA, "starts_on": rota["starts_on"], "routine": "always"}
            resp = request(
                "PUT",
                f"{self.url}/api/oncall/rotas/{team['team']}",
                json=body,
                headers=self.auth("super1"),
                timeout=5,
            )
            assert resp.is_success, resp.text

    def on_call(self, username: str, team: str = "tower-a-plumbing") -> None:
        """`username` on call for `team` for the next two hours (`cover_from_now`)."""
        body = cover_from_now(username, datetime.now(UTC))
        self.post(f"/api/oncall/rotas/{team}/overrides", body, "super1")
        on = self.api(f"/api/oncall?team={team}")[0]["primary"]
        assert on["username"] == username, on

    def pump(self, **points: Any) -> None:
        """Publish one pump sample, as the edge agent would."""
        self.seq += 1
        payload = {"ts": int(time.time() * 1000), "seq": self.seq, "points": points}
        publish.single(
            f"plantroom/v1/{self.site}/tower-a/pump/pump-a1/telemetry",
            json.dumps(payload),
            qos=1,
            hostname=self.broker.host,
            port=self.broker.port,
            client_id=f"console-test-{uuid.uuid4().hex[:8]}",
        )


@contextmanager
def running_cloud(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    *,
    site: str,
    database: str,
    env: Mapping[str, str] | None = None,
    within: float = 120,
    zone: str | None = None,
) -> Iterator[Stack]:
    """`plantroom cloud` as its own process on tower-a as `site` (in time zone `zone`, UTC
    unless given), writing to `database`, with `env` added to its environment; stopped
    afterwards, and it must stop cleanly."""
    write_site(tmp_path / "site.yaml", "tower-a", id=site, **({"timezone": zone} if zone else {}))
    port = free_port()
    credentials = tmp_path / "credentials.json"
    cmd, base_env = cloud_process(
        tmp_path,
        tmp_path / "site.yaml",
        port,
        broker=mosquitto,
        influx_url=influxd.url,
        influx_database=database,
        credentials=credentials,
        extra=["--log-level", "WARNING"],
    )
    log_path = tmp_path / "cloud.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env={**base_env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def connected() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the cloud service exited: {log_path.read_text()}")
        try:
            health = request("GET", f"{url}/api/health", timeout=1).json()
        except httpx.TransportError:
            return False
        return bool(health["mqtt"]["connected"]) and credentials.exists()

    try:
        wait_for(connected, "the cloud service to listen and reach the broker", within=within)
        yield Stack(url=url, site=site, broker=mosquitto, credentials=credentials)
    finally:
        terminate(proc)
        log.close()
    assert proc.returncode == 0, log_path.read_text()


def write_history(influxd: Influxd, database: str, site: str) -> None:
    """A day of discharge pressure for pump-a1, as the gateway would have written it."""
    now_ms = int(time.time() * 1000)
    lines = []
    for i in range(24 * 12):
        ts = now_ms - (24 * 12 - i) * 300_000
        pressure = 3.2 + 0.4 * ((i % 48) / 48) - (1.5 if 200 <= i < 210 else 0)
        lines.append(
            f"pump,site={site},building=tower-a,equipment=pump-a1,floor=B2 "
            f"discharge_pressure={pressure:.3f},speed={1450 if i < 280 else 0}i,"
            f"dry_run={'true' if i >= 280 else 'false'},seq={i}i {ts}"
        )
    influx_write(influxd.url, database, lines)


def lift_plan_due_today(folder: Path, zone: tzinfo) -> None:
    """The shipped lift visit, due today at the site (whose time zone is `zone`), in a site
    plan folder (replacing it by id). The machine's own date may be the site's tomorrow or
    yesterday, and the visit would then fall due on another day than the test says."""
    shipped = yaml.safe_load((SHIPPED / "elevator.yaml").read_text(encoding="utf-8"))
    plan = next(p for p in shipped["plans"] if p["id"] == LIFT_PLAN)
    folder.mkdir()
    today = datetime.now(zone).date()
    text = yaml.safe_dump({"plans": [{**plan, "start": today.isoformat()}]})
    (folder / "lift.yaml").write_text(text, encoding="utf-8")


def raise_lift_visit(stack: Stack) -> dict[str, Any]:
    """The PM scheduler run now, raising the lift visit due today: the visit in full."""
    ran = request("POST", f"{stack.url}/api/pm/run", headers=stack.auth("super1"), timeout=30)
    ran.raise_for_status()
    jobs = stack.api("/api/work-orders?kind=pm&equipment_id=lift-a1")["items"]
    visit = next(j for j in jobs if j["title"].startswith("Lift half-monthly"))
    return dict(stack.api(f"/api/work-orders/{visit['id']}"))


def launch(p: Any) -> Any:
    """Debian's Chromium, headless, from a running `sync_playwright()` `p`."""
    return p.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, closed afterwards."""
    # imported here: the fixtures import this module where Playwright may be missing
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    # an expectation waits as long as a page's own actions do (Playwright's is 5 s): on a
    # machine busy with other work a page's requests can take seconds, and that is no failure
    playwright_expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield browser
        finally:
            browser.close()


def expect(actual: Any, message: str | None = None) -> Any:
    """Playwright's `expect` on `actual` (a page, a locator or an answer): assertions that wait,
    up to WAIT_MS once `chromium` has started, for the page to get there."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


def new_page(
    browser: Any, viewport: Mapping[str, int] = PHONE, scale: int = 1, locale: str = "en-GB"
) -> Any:
    """A page of `browser` at `viewport` size, waiting up to WAIT_MS for what it expects."""
    page = browser.new_page(viewport=viewport, device_scale_factor=scale, locale=locale)
    page.set_default_timeout(WAIT_MS)
    return page


def page_errors(page: Any) -> list[str]:
    """The list the page's uncaught script errors go to from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, stack: Stack, username: str, where: str | None = "/") -> None:
    """Sign in with `username`'s API token on the page at `where` (on the page as it is with
    None), in either language, and wait for the console's navigation."""
    if where is not None:
        page.goto(stack.url + where)
    token = page.locator("#token")
    token.fill(stack.token(username))
    token.press("Enter")
    page.locator("#nav").wait_for(state="visible")


def portfolio_people(state: AppState) -> dict[str, str]:
    """For an app serving north and south (tests/cloud/sites.py): `boss`, an admin of every
    site, and `tech-n`, a technician of north only, each with a token: username -> token."""
    tokens: dict[str, str] = {}
    with state.database().session() as session:
        for name, role, sites in (
            ("boss", Role.ADMIN, {}),
            ("tech-n", Role.TECHNICIAN, {"north": Role.TECHNICIAN}),
        ):
            person = add_user(session, name, role, now=state.clock(), display_name=name.title())
            tokens[name] = issue_token(session, person, now=state.clock())
            set_sites(session, person, sites, served=state.served_sites)
    return tokens


@contextmanager
def serving_portfolio(
    tmp: Path, database_url: str, **pumps: str
) -> Iterator[tuple[AppState, str, dict[str, str]]]:
    """The app serving north and south (`north_and_south(tmp, **pumps)`) over HTTP on
    `database_url`, with no InfluxDB behind it (a chart says it has no data): its state, its
    address and the tokens of `portfolio_people`."""
    settings = CloudSettings(
        inventory=north_and_south(tmp, **pumps),
        database_url=database_url,
        demo_credentials_path=tmp / "demo" / "credentials.json",
        data_dir=tmp / "data",
        influx_url="http://127.0.0.1:9",  # nothing listens
    )
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    with over_http(app) as (host, port):
        state: AppState = app.state.cloud
        yield state, f"http://{host}:{port}", portfolio_people(state)


def raise_job(url: str, token: str, job: Mapping[str, str]) -> dict[str, Any]:
    """A work order raised with `token` on the app at `url`, `job` the request's body: the
    job as created."""
    resp = request(
        "POST",
        f"{url}/api/work-orders",
        json=dict(job),
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def sign_in_with(page: Any, url: str, token: str, where: str = "/") -> None:
    """Sign in with `token` on the console at `url`, opened at `where`, and wait for its
    navigation."""
    page.goto(url + where)
    box = page.locator("#token")
    box.fill(token)
    box.press("Enter")
    page.locator("#nav").wait_for(state="visible")


def draw_signature(page: Any, pad: Any) -> None:
    """A zigzag drawn with the mouse across the signature `pad`, as a finger signs."""
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(
            box["x"] + 20 + k * 25, box["y"] + box["height"] * (0.3 if k % 2 else 0.7), steps=3
        )
    page.mouse.up()


def check_accessible_basics(page: Any) -> None:
    """Landmarks, a labelled control for every input, a name for every button."""
    problems = page.evaluate(
        """() => {
          const out = [];
          for (const sel of ['header', 'nav[aria-label]', 'main']) {
            if (!document.querySelector(sel)) out.push('no ' + sel);
          }
          for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label')) {
              out.push('unlabelled ' + el.outerHTML.slice(0, 80));
            }
          }
          for (const b of document.querySelectorAll('button')) {
            if (!b.textContent.trim() && !b.getAttribute('aria-label')) out.push('nameless button');
          }
          if (document.querySelectorAll('h1').length !== 1) out.push('not one h1');
          return out;
        }"""
    )
    assert problems == []


def catalog(name: str) -> dict[str, str]:
    """The console's message catalog `name` (en, zh-CN): key → text."""
    path = REPO / "cloud" / "console" / "i18n" / f"{name}.json"
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data
