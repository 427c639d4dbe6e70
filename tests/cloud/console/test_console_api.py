"""The console's page and files, and equipment history from a real InfluxDB."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cloud.api.console import CONSOLE_DIR, bucket_seconds
from cloud.app import create_app
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from stack.services import Influxd
from tests.harness import influx_write

pytestmark = pytest.mark.integration

INVENTORY = """
site: {{id: {site}}}
buildings:
  - id: tower-a
    equipment:
      - {{id: pump-a1, kind: pump, profile: plantroom-sim-pump,
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}}}
      - {{id: pump-a2, kind: pump, profile: plantroom-sim-pump,
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 12}}}}
      - {{id: lift-a1, kind: elevator, profile: plantroom-sim-elevator,
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 1}}}}
"""


class Cloud:
    def __init__(self, client: httpx.AsyncClient, credentials: Path, site: str) -> None:
        self.client = client
        self.site = site
        users = json.loads(credentials.read_text())["users"]
        self.tokens = {u["username"]: u["token"] for u in users}

    def auth(self, username: str = "tech1") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def history(self, equipment: str, **params: object) -> httpx.Response:
        return await self.client.get(
            f"/api/equipment/{equipment}/history", params=params, headers=self.auth()
        )


async def cloud_for(tmp_path: Path, **settings: object) -> AsyncIterator[Cloud]:
    site = f"con-{uuid.uuid4().hex[:8]}"
    (tmp_path / "site.yaml").write_text(INVENTORY.format(site=site), encoding="utf-8")
    config = CloudSettings(
        inventory=tmp_path / "site.yaml",
        database_url=f"sqlite:///{tmp_path}/db/cloud.sqlite",
        demo_mode=True,
        demo_credentials_path=tmp_path / "credentials.json",
        **settings,  # type: ignore[arg-type]
    )
    app = create_app(config, ingest=False, escalate=False, notify=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://cloud") as client,
    ):
        yield Cloud(client, tmp_path / "credentials.json", site)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    async for c in cloud_for(tmp_path, influx_url=f"http://127.0.0.1:{free_port()}"):
        yield c


async def test_the_page_is_served_with_a_strict_policy_and_every_module_it_imports(
    cloud: Cloud,
) -> None:
    page = await cloud.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    referenced = set(re.findall(r'(?:src|href)="/console/([^"]+)"', page.text))
    assert referenced == {"console.css", "app.js"}
    # the occupants' pages (docs/requests.md) load their own modules under the same policy
    for public in ("/report/pump-a1", "/track/some-reference"):
        other = await cloud.client.get(public)
        assert other.headers["content-security-policy"] == policy
        assert re.findall(r'src="/console/([^"]+)"', other.text) in (["report.js"], ["track.js"])
    # every module the console and those pages import, transitively, is served as JavaScript
    seen: set[str] = set()
    todo = ["app.js", "report.js", "track.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        resp = await cloud.client.get(f"/console/{name}")
        assert resp.status_code == 200, name
        assert "javascript" in resp.headers["content-type"], name
        todo.extend(re.findall(r"from '\./([\w.]+)'", resp.text))
    # and the service worker, which app.js registers from the root scope (docs/console.md)
    worker = await cloud.client.get("/sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]
    assert seen | {"sw.js"} == {p.name for p in CONSOLE_DIR.glob("*.js")}
    css = await cloud.client.get("/console/console.css")
    assert css.headers["content-type"].startswith("text/css")
    missing = await cloud.client.get("/console/nothing.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "headers", "lang", "name"),
    [
        ({"lang": "zh"}, {}, "zh-CN", "Plantroom 控制台"),
        ({"lang": "zh-CN"}, {"Accept-Language": "en"}, "zh-CN", "Plantroom 控制台"),
        ({}, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-CN", "Plantroom 控制台"),
        ({"lang": "en"}, {"Accept-Language": "zh-CN"}, "en", "Plantroom console"),
        ({}, {"Accept-Language": "fr-FR,en;q=0.5"}, "en", "Plantroom console"),
        ({}, {}, "en", "Plantroom console"),
    ],
)
async def test_the_manifest_is_in_the_language_asked_else_the_browsers(
    cloud: Cloud, params: dict[str, str], headers: dict[str, str], lang: str, name: str
) -> None:
    r = await cloud.client.get("/manifest.webmanifest", params=params, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/manifest+json"
    )
    body = r.json()
    assert (body["lang"], body["name"], r.headers["content-language"]) == (lang, name, lang)
    assert body["short_name"] == "Plantroom" and body["start_url"] == "/#/jobs"
    chinese = lang == "zh-CN"
    assert any("\u4e00" <= c <= "\u9fff" for c in body["description"]) is chinese
    too_long = await cloud.client.get("/manifest.webmanifest", params={"lang": "x" * 36})
    assert too_long.status_code == 422


async def test_history_says_why_it_is_empty_when_influxdb_cannot_be_reached(
    cloud: Cloud,
) -> None:
    resp = await cloud.history("pump-a1", point="discharge_pressure")
    assert resp.status_code == 200
    body = resp.json()
    assert body["points"] == [] and body["value_type"] is None
    assert "unreachable" in body["message"] and "InfluxDB at http://127.0.0.1:" in body["message"]


async def test_history_refuses_bad_requests(cloud: Cloud) -> None:
    bad_point = await cloud.history("pump-a1", point='x" FROM y')
    assert bad_point.status_code == 422
    assert "point 'x\" FROM y'" in bad_point.json()["error"]["message"]
    assert (await cloud.history("pump-a1")).status_code == 422  # point is required
    assert (await cloud.history("pump-a1", point="speed", hours=0)).status_code == 422
    assert (await cloud.history("pump-a1", point="speed", hours=169)).status_code == 422
    unknown = await cloud.history("pump-zz", point="speed")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "equipment 'pump-zz' does not exist"
    anonymous = await cloud.client.get("/api/equipment/pump-a1/history?point=speed")
    assert anonymous.status_code == 401


async def test_history_reads_bucketed_means_and_states_of_one_equipment(
    tmp_path: Path, influxd: Influxd
) -> None:
    database = f"hist_{uuid.uuid4().hex[:8]}"
    async for cloud in cloud_for(tmp_path, influx_url=influxd.url, influx_database=database):
        now = int(time.time() * 1000)
        hour = 3_600_000
        step = bucket_seconds(24) * 1000
        base = (now - 2 * hour) // step * step  # the start of a bucket two hours ago
        tags = f"site={cloud.site},building=tower-a"
        influx_write(
            influxd.url,
            database,
            [
                # two samples in one bucket average; the state's last one counts
                f"pump,{tags},equipment=pump-a1 discharge_pressure=3.0,dry_run=false,"
                f'speed=1450i,run_state="running" {base + 1000}',
                f"pump,{tags},equipment=pump-a1 discharge_pressure=4.0,dry_run=true,"
                f"speed=1500i {base + 2000}",
                f"pump,{tags},equipment=pump-a1 discharge_pressure=2.0,dry_run=false {base + hour}",
                # other equipment, another site, and data older than the window: not counted
                f"pump,{tags},equipment=pump-a2 discharge_pressure=99.0 {base + 1000}",
                f"pump,site=elsewhere,building=tower-a,equipment=pump-a1 "
                f"discharge_pressure=99.0 {base + 1000}",
                f"pump,{tags},equipment=pump-a1 discharge_pressure=99.0 {now - 30 * hour}",
            ],
        )
        pressure = (await cloud.history("pump-a1", point="discharge_pressure")).json()
        assert pressure["value_type"] == "number" and pressure["message"] is None
        assert pressure["interval_s"] == 300 and pressure["hours"] == 24
        assert pressure["points"] == [{"t": base, "v": 3.5}, {"t": base + hour, "v": 2.0}]

        speed = (await cloud.history("pump-a1", point="speed", hours=3)).json()
        assert speed["value_type"] == "number"
        assert [p["v"] for p in speed["points"]] == [1475.0]
        assert speed["interval_s"] == 60

        dry = (await cloud.history("pump-a1", point="dry_run")).json()
        assert dry["value_type"] == "state"
        assert [p["v"] for p in dry["points"]] == [1.0, 0.0]

        text = (await cloud.history("pump-a1", point="run_state")).json()
        assert text["points"] == [] and "holds text" in text["message"]

        unknown = (await cloud.history("pump-a1", point="flow")).json()
        assert unknown["points"] == []
        assert unknown["message"] == (
            f"InfluxDB has no 'flow' values for any pump (database '{database}')"
        )

        quiet = (await cloud.history("pump-a1", point="discharge_pressure", hours=1)).json()
        assert quiet["points"] == []
        assert quiet["message"] == "no 'discharge_pressure' samples in the last 1 h"

        lift = (await cloud.history("lift-a1", point="discharge_pressure")).json()
        assert lift["points"] == [] and "for any elevator" in lift["message"]


async def test_history_names_a_missing_database(tmp_path: Path, influxd: Influxd) -> None:
    database = f"absent_{uuid.uuid4().hex[:8]}"
    async for cloud in cloud_for(tmp_path, influx_url=influxd.url, influx_database=database):
        body = (await cloud.history("pump-a1", point="discharge_pressure")).json()
        assert body["points"] == []
        assert "database not found" in body["message"] and database in body["message"]
