"""The control endpoint over HTTP, its client, and `plantroom sim` end to end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pymodbus.client import AsyncModbusTcpClient

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.control import ControlClient
from simulators.errors import ControlError
from simulators.runner import Simulation
from stack.services import Mosquitto
from tests.harness import REPO
from tests.simulators.harness import write_one_building

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"
T = TypeVar("T")


def write_inventory(path: Path, port: int, light_topic: str | None = None) -> Path:
    equipment: list[dict[str, Any]] = [
        {
            "id": "lift-1",
            "kind": "elevator",
            "profile": "plantroom-sim-elevator",
            "connection": {"type": "modbus_tcp", "host": HOST, "port": port, "unit": 1},
        },
        {
            "id": "fire-1",
            "kind": "fire_panel",
            "profile": "plantroom-sim-fire-panel",
            "connection": {"type": "modbus_tcp", "host": HOST, "port": port, "unit": 21},
        },
    ]
    if light_topic:
        equipment.append(
            {
                "id": "light-1",
                "kind": "lighting",
                "profile": "lumen-lc4",
                "connection": {"type": "mqtt", "topic": light_topic},
            }
        )
    return write_one_building(path, "ctl", 8, equipment)


class Site:
    def __init__(self, sim: Simulation, port: int) -> None:
        self.sim = sim
        self.port = port
        assert sim.control_url is not None
        self.url = sim.control_url


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    port = free_port()
    path = write_inventory(tmp_path, port)
    settings = SimSettings(inventory=path, sim_control_port=free_port(), sim_speed=1e-6)
    async with Simulation(load_inventory(path), settings) as sim:
        yield Site(sim, port)


async def test_http_endpoints(site: Site) -> None:
    async with (
        httpx.AsyncClient(base_url=site.url, timeout=5) as http,
        AsyncModbusTcpClient(HOST, port=site.port, timeout=2, retries=0) as modbus,
    ):
        r = await http.get("/faults")
        assert r.status_code == 200
        body = r.json()
        assert body["active"] == {}
        assert "fire_alarm" in body["kinds"]["fire_panel"]
        assert body["kinds"]["lighting"][-1] == "offline"

        r = await http.post(
            "/inject", json={"equipment": "fire-1", "fault": "fire_alarm", "params": {"zone": 5}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["params"] == {"zone": 5}
        assert (await http.get("/faults")).json()["active"] == {"fire-1": ["fire_alarm"]}
        regs = (await modbus.read_input_registers(0, count=12, device_id=21)).registers
        assert regs[5] == 2 and regs[0] == 2 and regs[11] & 0b100
        state = (await http.get("/equipment/fire-1")).json()
        assert state["points"]["zone_5"] == "alarm"
        assert state["faults"] == {"fire_alarm": {"zone": 5}}
        assert state["connection"]["unit"] == 21

        r = await http.post("/inject", json={"equipment": "lift-1", "fault": "no_response"})
        assert r.status_code == 200
        listing = (await http.get("/equipment")).json()
        assert {e["id"]: e["faults"] for e in listing} == {
            "lift-1": ["no_response"],
            "fire-1": ["fire_alarm"],
        }

        r = await http.post("/clear", json={"equipment": "fire-1", "fault": None})
        assert r.json() == {"equipment": "fire-1", "cleared": ["fire_alarm"], "active": {}}
        regs = (await modbus.read_input_registers(0, count=12, device_id=21)).registers
        assert regs[0] == 0 and regs[5] == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/equipment/nope", None, 404, "no simulated equipment 'nope'"),
        ("POST", "/inject", {"equipment": "nope", "fault": "fire_alarm"}, 404, "lift-1"),
        ("POST", "/clear", {"equipment": "nope"}, 404, "no simulated equipment"),
        (
            "POST",
            "/inject",
            {"equipment": "lift-1", "fault": "dry_run"},
            422,
            "valid faults: door_open_fault, door_close_fault",
        ),
        ("POST", "/clear", {"equipment": "lift-1", "fault": "dry_run"}, 422, "unknown fault"),
        (
            "POST",
            "/inject",
            {"equipment": "fire-1", "fault": "fire_alarm", "params": {"zone": 12}},
            422,
            "must be within 1..8",
        ),
        ("POST", "/inject", {"equipment": "fire-1"}, 422, "fault"),
    ],
)
async def test_http_errors(
    site: Site, method: str, path: str, body: dict[str, Any] | None, status: int, needle: str
) -> None:
    async with httpx.AsyncClient(base_url=site.url, timeout=5) as http:
        r = await http.request(method, path, json=body)
    assert r.status_code == status
    assert needle in json.dumps(r.json())


async def in_thread(fn: Callable[[], T]) -> T:
    """Run a blocking call off the event loop that serves the endpoint, in a pool we own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)


async def test_control_client(site: Site) -> None:
    client = ControlClient(site.url)
    out = await in_thread(
        lambda: client.inject("lift-1", "stopped_outside_landing_zone", {"passengers": 2})
    )
    assert out["active"] == {"stopped_outside_landing_zone": {"passengers": 2}}
    assert site.sim.devices["lift-1"].model.values()["passenger_trapped"] is True
    faults = await in_thread(client.faults)
    assert faults["active"] == {"lift-1": ["stopped_outside_landing_zone"]}
    state = await in_thread(lambda: client.equipment("lift-1"))
    assert state["points"]["load"] == 150
    out = await in_thread(lambda: client.clear("lift-1"))
    assert out["cleared"] == ["stopped_outside_landing_zone"]

    with pytest.raises(ControlError, match="no simulated equipment 'ghost'") as info:
        await in_thread(lambda: client.inject("ghost", "fire_alarm"))
    assert info.value.status == 404
    with pytest.raises(ControlError, match=r"valid faults: .*zone_disabled") as info:
        await in_thread(lambda: client.clear("fire-1", "meltdown"))
    assert info.value.status == 422
    with pytest.raises(ControlError, match="parameter 'floor'"):
        await in_thread(lambda: client.inject("lift-1", "leveling_error", {"floor": 2}))


def test_control_client_without_a_simulator() -> None:
    url = f"http://{HOST}:{free_port()}"
    with pytest.raises(
        ControlError, match=f"no simulator answering at {url} — is `plantroom sim` running\\?"
    ):
        ControlClient(url).faults()


# -- the CLI, end to end ---------------------------------------------------------------------
def plantroom(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def test_plantroom_sim_end_to_end(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port, control = free_port(), free_port()
    path = write_inventory(tmp_path, port, light_topic="lumen/cli-lc1/state")
    url = f"http://{HOST}:{control}"
    env = {
        **os.environ,
        "PLANTROOM_MQTT_HOST": mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(mosquitto.port),
    }
    log = tmp_path / "sim.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stack",
                "sim",
                "-i",
                str(path),
                "--control-port",
                str(control),
                "--speed",
                "10",
                "--seed",
                "3",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ControlClient(url, timeout=1).faults()
                break
            except ControlError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "plantroom sim did not come up"
                time.sleep(0.1)

        r = plantroom("sim", "inject", "-e", "lift-1", "-f", "safety_circuit_open", "--url", url)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["active"] == {"safety_circuit_open": {}}
        mb = subprocess.run(
            ["mbpoll", "-m", "tcp", "-a", "1", "-1", "-p", str(port), "-t", "1", "-r", "2", HOST],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        assert "[2]: \t0" in mb.stdout  # safety circuit open
        r = plantroom("sim", "faults", "--url", url)
        assert json.loads(r.stdout)["active"] == {"lift-1": ["safety_circuit_open"]}
        r = plantroom("sim", "clear", "-e", "lift-1", "--url", url)
        assert json.loads(r.stdout)["cleared"] == ["safety_circuit_open"]
        r = plantroom("sim", "inject", "-e", "lift-1", "-f", "melting", "--url", url)
        assert r.returncode == 2 and "valid faults" in r.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    text = log.read_text()
    assert code == 0, text
    assert f"Modbus TCP {HOST}:{port} serving 2 units (1=lift-1, 21=fire-1)" in text
    assert "lumen/cli-lc1/state (light-1)" in text
    assert f"control endpoint {url}" in text
    assert "lighting: connected to" in text
    assert "stopping" in text and "Traceback" not in text

    r = plantroom("sim", "faults", "--url", url)
    assert r.returncode == 2 and "no simulator answering" in r.stderr
