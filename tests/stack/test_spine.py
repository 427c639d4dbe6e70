"""The whole path on real servers: simulated campus → edge → MQTT → gateway → InfluxDB, and
fault → alarm → work order → acknowledged by a technician → fault cleared → alarm cleared.

Runs the demo stack itself (every process a child process, as `make demo` runs them) on free
ports, against a copy of the demo campus whose Modbus gateways are moved to free ports.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import aiomqtt
import httpx
import pytest

from plantroom.ports import free_port
from simulators.control import ControlClient
from stack.demo import Demo, DemoPorts
from tests.harness import REPO, call_api, influx_query, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

KINDS = ("elevator", "pump", "lighting", "fire_panel")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("spine")
    text = (REPO / "sites" / "demo.yaml").read_text()
    for port in sorted(set(re.findall(r"port: (\d+)", text))):
        text = text.replace(f"port: {port}", f"port: {free_port()}")
    inventory = tmp / "campus.yaml"
    inventory.write_text(text)
    (tmp / "campus-assets.csv").write_bytes((REPO / "sites" / "demo-assets.csv").read_bytes())
    ports = DemoPorts(
        api=free_port(), mqtt=free_port(), influx=free_port(), sim=free_port(), smtp=free_port()
    )
    demo = Demo(ports, inventory=inventory, var_dir=tmp / "var", out=io.StringIO())
    try:
        demo.start()
        creds = demo.wait_ready(timeout=60)
        yield demo, creds
    finally:
        demo.stop()


def token_of(creds: dict[str, Any], username: str) -> str:
    return next(u["token"] for u in creds["users"] if u["username"] == username)


def test_telemetry_of_every_kind_lands_in_influxdb(stack: tuple[Demo, dict[str, Any]]) -> None:
    demo, _ = stack

    def kinds_with_data() -> set[str] | None:
        found = {
            kind
            for kind in KINDS
            if influx_query(demo.influxd.url, "plantroom", f'SELECT count("seq") FROM "{kind}"')
        }
        return found if found == set(KINDS) else None

    wait_for(kinds_with_data, "samples of all four kinds in InfluxDB", within=30, interval=0.5)

    def pressure_series() -> list[dict[str, Any]] | None:
        found = influx_query(
            demo.influxd.url,
            "plantroom",
            'SELECT last("discharge_pressure"), last("seq") FROM "pump" '
            'WHERE "equipment" = \'pump-a1\' GROUP BY "site", "building", "floor"',
        )
        return found if found and found[0]["values"][0][1] is not None else None

    # pressure is a normal-class point: it arrives a few fast polls after the first sample
    series = wait_for(pressure_series, "a pump pressure reading", within=30, interval=0.5)
    assert series[0]["tags"] == {"site": "harbour", "building": "tower-a", "floor": "B2"}
    _, pressure, seq = series[0]["values"][0]
    assert pressure > 0 and seq >= 0
    fields = influx_query(demo.influxd.url, "plantroom", 'SHOW FIELD KEYS FROM "pump"')
    types = dict(fields[0]["values"])
    assert types["discharge_pressure"] == "float"
    assert types["seq"] == "integer"
    assert types["dry_run"] == "boolean"
    assert types["run_state"] == "string"


def test_pump_fault_raises_one_work_order_that_a_technician_acknowledges(
    stack: tuple[Demo, dict[str, Any]],
) -> None:
    demo, creds = stack
    base, tech = demo.api_url, token_of(creds, "tech1")

    def pump_work_orders() -> list[dict[str, Any]]:
        status, body = call_api(base, "GET", "/api/work-orders?limit=100", tech)
        assert status == 200, body
        return [w for w in body["items"] if w["equipment_id"] == "pump-a2"]

    assert pump_work_orders() == []
    # inject through the CLI, as a person on the demo would
    subprocess.run(
        [sys.executable, "-m", "stack", "sim", "inject", "--equipment", "pump-a2",
         "--fault", "dry_run", "--url", demo.sim_url],
        check=True, capture_output=True, env={**os.environ}, timeout=30,
    )  # fmt: skip
    orders = wait_for(pump_work_orders, "a work order for pump-a2", within=15)

    def active_alarm() -> dict[str, Any] | None:
        _, body = call_api(base, "GET", "/api/alarms?state=active", tech)
        return next((a for a in body["items"] if a["equipment_id"] == "pump-a2"), None)

    alarm = wait_for(active_alarm, "an active alarm on pump-a2", within=10)
    assert len(orders) == 1
    order = orders[0]
    assert order["status"] == "open" and order["kind"] == "fault"
    assert order["alarm_id"] == alarm["id"]

    # the fault goes on being seen in every sample; still exactly one work order
    def last_seq() -> int:
        _, eq = call_api(base, "GET", "/api/equipment/pump-a2", tech)
        return int(eq["last_seq"])

    seen = last_seq()
    wait_for(lambda: last_seq() >= seen + 3, "three more samples of the faulty pump", within=15)
    assert active_alarm() is not None
    assert len(pump_work_orders()) == 1

    status, detail = call_api(base, "POST", f"/api/work-orders/{order['id']}/acknowledge", tech, {})
    assert status == 200, detail
    assert detail["status"] == "acknowledged"
    assert detail["assignee"]["username"] == "tech1"
    ack = [e for e in detail["events"] if e["action"] == "acknowledge"]
    assert len(ack) == 1 and ack[0]["actor"] == "tech1"
    assert ack[0]["from_status"] == "open" and ack[0]["to_status"] == "acknowledged"
    assert datetime.fromisoformat(detail["acknowledged_at"]) == datetime.fromisoformat(ack[0]["at"])

    # a second acknowledgement is refused, not an error of the server
    status, body = call_api(base, "POST", f"/api/work-orders/{order['id']}/acknowledge", tech, {})
    assert status == 409, body

    ControlClient(demo.sim_url).clear("pump-a2")
    wait_for(lambda: active_alarm() is None, "the pump alarm to clear", within=15)
    _, cleared = call_api(base, "GET", "/api/alarms?state=cleared", tech)
    assert any(a["id"] == alarm["id"] and a["cleared_at"] for a in cleared["items"])
    assert len(pump_work_orders()) == 1


async def test_the_demo_broker_refuses_anonymous_clients(
    stack: tuple[Demo, dict[str, Any]],
) -> None:
    demo, _ = stack
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", demo.ports.mqtt, identifier="anonymous"):
            pass
    logins = json.loads(demo.mqtt_credentials_path.read_text())
    assert demo.mqtt_credentials_path.stat().st_mode & 0o077 == 0
    async with aiomqtt.Client(
        "127.0.0.1", demo.ports.mqtt, username="admin", password=logins["admin"]
    ) as admin:
        await admin.subscribe("plantroom/v1/+/+/pump/+/telemetry", qos=1)
        async with asyncio.timeout(15):
            async for msg in admin.messages:
                assert str(msg.topic).startswith("plantroom/v1/harbour/")
                break


def test_an_occupants_report_on_a_light_is_closed_by_their_fixed(
    stack: tuple[Demo, dict[str, Any]],
) -> None:
    """A report posted without a token for a lighting controller becomes a job for the
    building's electrical team; the tracking page follows it, and "fixed" closes it."""
    demo, creds = stack
    base, tech, desk = demo.api_url, token_of(creds, "tech1"), token_of(creds, "desk1")
    form = {"code": "light-a1", "what": "the lobby lights flicker", "name": "Li Wei",
            "phone": "+86 138 0013 8000"}  # fmt: skip
    created = httpx.post(f"{base}/api/public/requests", data=form, timeout=10)
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    status, listed = call_api(base, "GET", "/api/requests?limit=5", desk)
    assert status == 200, listed
    request = next(r for r in listed["items"] if r["reference"] == reference)
    _, job = call_api(base, "GET", f"/api/work-orders/{request['work_order']}", tech)
    assert (job["equipment_id"], job["team"]) == ("light-a1", "tower-a-electrical")
    _, tracked = call_api(base, "GET", f"/api/public/requests/{reference}")
    assert tracked["stage"] == "received"
    for action, body in (("acknowledge", {}), ("start", {}), ("resolve", {"note": "new driver"})):
        status, done = call_api(base, "POST", f"/api/work-orders/{job['id']}/{action}", tech, body)
        assert status == 200, done
    _, tracked = call_api(base, "GET", f"/api/public/requests/{reference}")
    assert (tracked["stage"], tracked["asking"]) == ("resolved", True)
    status, answered = call_api(
        base, "POST", f"/api/public/requests/{reference}/answer", None, {"fixed": True}
    )
    assert status == 200, answered
    assert (answered["stage"], answered["confirmation"]) == ("closed", "confirmed")
    _, job = call_api(base, "GET", f"/api/work-orders/{job['id']}", tech)
    assert job["status"] == "closed"


def test_the_demo_seeds_its_asset_register_once(stack: tuple[Demo, dict[str, Any]]) -> None:
    """The register file next to the inventory is imported at start: register-only assets
    with their register fields; seeding again finds the register seeded and adds nothing."""
    demo, creds = stack
    base, tech = demo.api_url, token_of(creds, "tech1")
    status, page = call_api(base, "GET", "/api/assets?connected=false", tech)
    assert status == 200, page
    wanted = (REPO / "sites" / "demo-assets.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(e["id"] for e in page["items"]) == sorted(line.split(",")[0] for line in wanted)
    gen = next(e for e in page["items"] if e["id"] == "gen-a1")
    assert (gen["kind"], gen["make"], gen["connected"]) == ("generator", "Cummins", False)
    assert len(gen["documents"]) == 2
    demo.seed_assets(creds)
    assert call_api(base, "GET", "/api/assets?connected=false", tech)[1]["total"] == page["total"]
