"""Transport faults on the wire (garbage, slow, port closed), gateways and scenarios over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import typer
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from typer.testing import CliRunner

from plantroom.errors import ConfigError
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.cli import register
from simulators.control import ControlClient
from simulators.errors import ControlError
from simulators.runner import run
from simulators.scenario import load_scenario
from tests.harness import REPO, wait_for_async
from tests.simulators.harness import HOST, Site, two_buildings, write_two_buildings

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with two_buildings(
        tmp_path, control=True, without={"pump-2"}, id="wire", timezone="UTC"
    ) as site:
        yield site


def frame(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


READ_FLOOR = struct.pack(">BHH", 3, 0, 1)
READ_PANEL = struct.pack(">BHH", 4, 0, 1)


async def in_thread(fn: Callable[[], T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)


async def test_garbage_answers_in_turn_while_neighbours_stay_clean(site: Site) -> None:
    site.sim.inject("lift-1", "garbage")
    reader, writer = await asyncio.open_connection(HOST, site.port_a)
    try:
        writer.write(frame(7, 1, READ_FLOOR))
        answer = await asyncio.wait_for(reader.readexactly(11), 5)
        assert struct.unpack(">HHHB", answer[:7]) == (8, 0, 5, 1)  # wrong transaction id
        writer.write(frame(8, 1, READ_FLOOR))
        answer = await asyncio.wait_for(reader.readexactly(11), 5)
        assert struct.unpack(">HHHB", answer[:7]) == (8, 0, 10, 1)  # wrong length
        writer.write(frame(9, 1, READ_FLOOR))
        noise = await asyncio.wait_for(reader.read(64), 5)
        assert 9 <= len(noise) <= 24
        writer.write(frame(10, 21, READ_PANEL))  # the connection stays open for others
        answer = await asyncio.wait_for(reader.readexactly(11), 5)
        assert struct.unpack(">HHHB", answer[:7]) == (10, 0, 5, 21)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_slow_unit_holds_its_answers_back(site: Site) -> None:
    # the delay is far above both the impatient client's timeout and a prompt answer on a
    # loaded machine: "prompt" (< DELAY / 2) and "held back" (>= DELAY) cannot be confused
    delay = 1.2
    site.sim.inject("lift-1", "slow", {"delay_s": delay})
    impatient = AsyncModbusTcpClient(HOST, port=site.port_a, timeout=0.3, retries=0)
    patient = AsyncModbusTcpClient(HOST, port=site.port_a, timeout=3, retries=0)
    assert await impatient.connect() and await patient.connect()
    try:
        with pytest.raises(ModbusIOException):
            await impatient.read_holding_registers(0, count=1, device_id=1)
        started = time.monotonic()
        rr = await patient.read_input_registers(0, count=1, device_id=21)
        assert not rr.isError() and time.monotonic() - started < delay / 2  # neighbour prompt
        started = time.monotonic()
        rr = await patient.read_holding_registers(0, count=1, device_id=1)
        assert not rr.isError() and time.monotonic() - started >= delay
        site.sim.clear("lift-1", "slow")
        started = time.monotonic()
        rr = await patient.read_holding_registers(0, count=1, device_id=1)
        assert not rr.isError() and time.monotonic() - started < delay / 2
    finally:
        impatient.close()
        patient.close()


async def test_gateway_faults_over_http(site: Site) -> None:
    gateway_a = f"{HOST}:{site.port_a}"
    async with httpx.AsyncClient(base_url=site.url, timeout=5) as http:
        listing = (await http.get("/gateways")).json()["gateways"]
        assert {g["id"]: sorted(g["units"].values()) for g in listing} == {
            gateway_a: ["fire-1", "lift-1", "pump-1"],
            f"{HOST}:{site.port_b}": ["lift-2"],
        }
        # a delay far above a prompt answer on a loaded machine (< delay / 2), so that the
        # other gateway's promptness and this one's slowness cannot be confused
        delay = 1.2
        r = await http.post(
            "/inject", json={"gateway": gateway_a, "fault": "slow", "params": {"delay_s": delay}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["active"] == {"slow": {"delay_s": delay}}
        assert (await http.get("/faults")).json()["active"] == {gateway_a: ["slow"]}
        async with (
            AsyncModbusTcpClient(HOST, port=site.port_a, timeout=3, retries=0) as a,
            AsyncModbusTcpClient(HOST, port=site.port_b, timeout=3, retries=0) as b,
        ):
            started = time.monotonic()
            assert not (await b.read_holding_registers(0, count=1, device_id=1)).isError()
            assert time.monotonic() - started < delay / 2
            assert not (await a.read_input_registers(0, count=1, device_id=21)).isError()
            assert time.monotonic() - started >= delay
        r = await http.post("/clear", json={"gateway": gateway_a})
        assert r.json() == {"gateway": gateway_a, "cleared": ["slow"], "active": {}}
        r = await http.post("/inject", json={"gateway": "10.9.9.9:502", "fault": "slow"})
        assert r.status_code == 404 and gateway_a in r.json()["detail"]
        r = await http.post("/inject", json={"gateway": gateway_a, "fault": "garbage"})
        assert r.status_code == 422 and "port_closed, slow" in r.json()["detail"]
        r = await http.post(
            "/inject", json={"gateway": gateway_a, "equipment": "lift-1", "fault": "slow"}
        )
        assert r.status_code == 422 and "either equipment or gateway" in r.text


async def connect_refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(HOST, port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def test_a_closed_port_drops_its_connections_and_reopens(site: Site) -> None:
    client = ControlClient(site.url)
    gateway_a = f"{HOST}:{site.port_a}"
    reader, writer = await asyncio.open_connection(HOST, site.port_a)
    try:
        out = await in_thread(lambda: client.inject_gateway(gateway_a, "port_closed"))
        assert out["active"] == {"port_closed": {}}
        assert await asyncio.wait_for(reader.read(), 5) == b""  # dropped
    finally:
        writer.close()
        await writer.wait_closed()
    assert await connect_refused(site.port_a)
    listing = {g["id"]: g for g in await in_thread(client.gateways)}
    assert listing[gateway_a]["listening"] is False and listing[gateway_a]["connections"] == 0
    async with AsyncModbusTcpClient(HOST, port=site.port_b, timeout=2, retries=0) as other:
        assert not (await other.read_holding_registers(0, count=1, device_id=1)).isError()
    await in_thread(lambda: client.clear_gateway(gateway_a, "port_closed"))

    async def reopened() -> bool:
        return not await connect_refused(site.port_a)

    await wait_for_async(reopened, "the port to open again", within=5.0)
    async with AsyncModbusTcpClient(HOST, port=site.port_a, timeout=2, retries=0) as again:
        assert not (await again.read_input_registers(0, count=1, device_id=21)).isError()


async def test_scenarios_over_http_and_the_cli(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "name: drill\nsteps:\n"
        "  - {at: 0s, do: comm_loss, building: b2}\n"
        "  - {at: 0s, do: inject, equipment: fire-1, fault: fire_alarm, params: {zone: 4}}\n"
        "  - {at: 1h, do: comm_restore, building: b2}\n"
    )
    client = ControlClient(site.url)
    app = typer.Typer()
    register(app)
    result = await in_thread(
        lambda: CliRunner().invoke(app, ["scenario", "--file", str(path), "--url", site.url])
    )
    assert result.exit_code == 0, result.output
    assert '"applied": 2' in result.output
    assert site.sim.active_faults() == {"lift-2": ["no_response"], "fire-1": ["fire_alarm"]}
    async with AsyncModbusTcpClient(HOST, port=site.port_a, timeout=2, retries=0) as a:
        regs = (await a.read_input_registers(0, count=5, device_id=21)).registers
        assert regs[0] == 2 and regs[4] == 2
    site.sim.advance(3600)
    assert site.sim.active_faults() == {"fire-1": ["fire_alarm"]}
    runs = await in_thread(client.scenarios)
    assert [(r["name"], r["applied"], r["done"]) for r in runs] == [("drill", 3, True)]

    async with httpx.AsyncClient(base_url=site.url, timeout=5) as http:
        r = await http.post("/scenario", json={"file": str(path)})
        assert r.status_code == 200 and r.json()["applied"] == 2
        path.write_text("name: bad\nsteps:\n  - {at: 0s, do: power_fail, building: b9}\n")
        r = await http.post("/scenario", json={"file": str(path)})
        assert r.status_code == 422
        assert f"{path}:3: steps.0.building: no simulated building 'b9'" in r.json()["detail"]
    with pytest.raises(ControlError, match=r"drill.yaml:3: steps.0.building: no simulated"):
        await in_thread(lambda: client.scenario(load_scenario(path)))
    result = await in_thread(
        lambda: CliRunner().invoke(app, ["scenario", "-f", str(tmp_path / "none.yaml")])
    )
    assert result.exit_code == 2 and "cannot read" in result.output


def test_a_scenario_named_at_start(tmp_path: Path) -> None:
    port_a, port_b, control = free_port(), free_port(), free_port()
    inventory = write_two_buildings(
        tmp_path, port_a, port_b, without={"pump-2"}, id="wire", timezone="UTC"
    )
    drill = tmp_path / "drill.yaml"
    drill.write_text("name: drill\nsteps:\n  - {at: 0s, do: power_fail, building: b2}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - {at: soon, do: power_fail, building: b2}\n")
    settings = SimSettings(inventory=inventory, sim_control_port=control)
    with pytest.raises(ConfigError, match=r"bad.yaml:3: steps.0.at: .*'soon' is not a duration"):
        run(settings, scenario=bad)  # refused before any port is bound
    code = (
        "import logging, sys; from pathlib import Path; logging.basicConfig(level='INFO'); "
        "from plantroom.settings import SimSettings; "
        "from simulators.runner import run; "
        "run(SimSettings(), scenario=Path(sys.argv[1]))"
    )
    env = {
        **os.environ,
        "PLANTROOM_INVENTORY": str(inventory),
        "PLANTROOM_SIM_CONTROL_PORT": str(control),
    }
    log = tmp_path / "sim.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(drill)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        client = ControlClient(f"http://{HOST}:{control}", timeout=1)
        deadline = time.monotonic() + 30
        while True:  # the control endpoint may answer a moment before the scenario has run
            try:
                runs = client.scenarios()
            except ControlError:
                runs = []
            if [(r["name"], r["done"]) for r in runs] == [("drill", True)]:
                break
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the drill did not run: {runs}"
            time.sleep(0.1)
        assert client.equipment("lift-2")["powered"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    assert "scenario drill (" in log.read_text()
