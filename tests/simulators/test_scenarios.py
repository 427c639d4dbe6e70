"""The shipped scenarios on the demo campus, on fast simulated time, read over the wire.

The demo inventory is copied into the test's tmp dir with free ports and topics of its own.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
import yaml
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.models.elevator_spec import BOOT_S, CORRECTION_RUN_S
from simulators.runner import Simulation
from stack.services import Mosquitto
from tests.harness import REPO, wait_for_async

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"
SCENARIOS = REPO / "sites" / "scenarios"
HK = ZoneInfo("Asia/Hong_Kong")  # the demo campus's timezone


class Campus:
    """The demo campus on ports and topics of the test's own."""

    def __init__(self, tmp_path: Path, keep: Callable[[str], bool] = lambda eid: True) -> None:
        data = yaml.safe_load((REPO / "sites" / "demo.yaml").read_text())
        self.ports = {5020: free_port(), 5021: free_port(), 5022: free_port()}
        self.tag = secrets.token_hex(3)
        for building in data["buildings"]:
            building["equipment"] = [e for e in building["equipment"] if keep(e["id"])]
            for e in building["equipment"]:
                conn = e["connection"]
                if conn["type"] == "modbus_tcp":
                    conn["port"] = self.ports[conn["port"]]
                else:
                    conn["topic"] = conn["topic"].replace("lumen/", f"lumen/{self.tag}-")
        data["buildings"] = [b for b in data["buildings"] if b["equipment"]]
        self.path = tmp_path / "campus.yaml"
        self.path.write_text(yaml.safe_dump(data))
        self.tower_a, self.tower_b = self.ports[5020], self.ports[5021]

    def settings(self, speed: float, mosquitto: Mosquitto | None = None) -> SimSettings:
        extra: dict[str, Any] = {}
        if mosquitto is not None:
            extra = {"mqtt_host": mosquitto.host, "mqtt_port": mosquitto.port}
        return SimSettings(
            inventory=self.path,
            sim_control_port=free_port(),
            sim_speed=speed,
            sim_publish_interval_s=0.2,
            **extra,
        )


def site_time(sim: Simulation) -> datetime:
    return datetime.fromtimestamp(sim.now, HK)


async def test_burst_pipe_at_night(tmp_path: Path) -> None:
    campus = Campus(tmp_path)
    start = datetime(2026, 3, 2, 1, 49, tzinfo=HK).timestamp()
    settings = campus.settings(speed=1200)
    sim = Simulation(load_inventory(campus.path), settings, start_time=start, control=False)
    run = sim.run_scenario(SCENARIOS / "burst-pipe-at-night.yaml")  # before the clock runs
    assert run.log == [] and datetime.fromtimestamp(run.next_due(), HK).hour == 2
    async with (
        sim,
        AsyncModbusTcpClient(HOST, port=campus.tower_a, timeout=2, retries=0) as a,
        AsyncModbusTcpClient(HOST, port=campus.tower_b, timeout=2, retries=0) as b,
    ):

        async def flooded() -> tuple[list[bool], list[bool]] | None:
            booster = (await a.read_discrete_inputs(0, count=5, device_id=11)).bits[:5]
            sump = (await a.read_discrete_inputs(0, count=5, device_id=12)).bits[:5]
            return (booster, sump) if booster[1] and sump[3] else None

        booster, sump = await wait_for_async(
            flooded, "low pressure and high level in tower A", within=30.0
        )
        seen = site_time(sim)
        assert (seen.hour, seen.day) == (2, 2) and seen.minute < 30
        assert booster == [False, True, False, False, False]  # low_pressure only
        assert sump[3] and not sump[1]
        assert (await a.read_input_registers(14, count=1, device_id=11)).registers == [206]
        assert (await a.read_input_registers(14, count=1, device_id=12)).registers == [191]
        pressure = (await a.read_input_registers(4, count=1, device_id=11)).registers[0]
        assert pressure < 150  # below 1.5 bar
        for unit in (11, 12):  # tower B is dry
            assert (await b.read_input_registers(14, count=1, device_id=unit)).registers == [0]

        await asyncio.wait_for(run.wait(), 30)
        assert [e["did"] for e in run.log] == [
            "inject low_pressure tower-a",
            "inject high_level tower-a",
            "clear low_pressure tower-a",
            "clear high_level tower-a",
        ]

        async def recovered() -> bool:
            booster = (await a.read_discrete_inputs(0, count=5, device_id=11)).bits[:5]
            sump = (await a.read_discrete_inputs(0, count=5, device_id=12)).bits[:5]
            return not booster[1] and not sump[3]

        await wait_for_async(recovered, "tower A to recover", within=30.0)
        assert site_time(sim).hour == 3


async def read_or_silence(client: AsyncModbusTcpClient, unit: int) -> list[int] | None:
    try:
        rr = await client.read_holding_registers(0, count=1, device_id=unit)
    except ModbusIOException:
        return None
    return list(rr.registers)


async def test_building_power_failure(tmp_path: Path, mosquitto: Mosquitto) -> None:
    campus = Campus(tmp_path)
    noon = datetime(2026, 3, 2, 12, 0, tzinfo=HK).timestamp()
    settings = campus.settings(speed=1e-6, mosquitto=mosquitto)  # time moves by hand
    topic = "lumen/+/state"  # the campus's controllers are named {campus.tag}-...
    async with (
        Simulation(load_inventory(campus.path), settings, start_time=noon, control=False) as sim,
        AsyncModbusTcpClient(HOST, port=campus.tower_a, timeout=2, retries=0) as a,
        AsyncModbusTcpClient(HOST, port=campus.tower_b, timeout=2, retries=0) as b,
        # silence is probed with a short timeout on a connection of its own: the reads that
        # must answer keep a timeout a loaded machine cannot overrun
        AsyncModbusTcpClient(HOST, port=campus.tower_b, timeout=0.3, retries=0) as b_dark,
    ):
        assert sim.publisher is not None
        await asyncio.wait_for(sim.publisher.connected.wait(), 10)
        run = sim.run_scenario(SCENARIOS / "building-power-failure.yaml")
        sim.advance(61)  # the supply fails at +1 min
        assert run.position == 1

        for unit in (1, 2, 11, 12):  # lift and pump controllers are dark
            assert await read_or_silence(b_dark, unit) is None, unit
        panel = (await b.read_input_registers(0, count=12, device_id=21)).registers
        assert panel[0] == 3 and panel[11] & 0b1 == 0 and panel[11] & 0b1000
        assert 2555 <= panel[9] <= 2565  # on battery, 25.6 V
        assert await read_or_silence(a, 1) is not None  # tower A has power
        tower_a_panel = (await a.read_input_registers(0, count=12, device_id=21)).registers
        assert tower_a_panel[11] & 0b1 == 1

        trapped = [
            eid for eid in ("lift-b1", "lift-b2") if sim.models[eid].values()["passenger_trapped"]
        ]
        assert trapped, "the power cut caught no car between floors"

        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as mqtt:
            await mqtt.subscribe(topic, qos=1)
            heard: dict[str, int] = {}

            async def listen() -> None:
                async for message in mqtt.messages:
                    assert isinstance(message.payload, bytes)
                    name = json.loads(message.payload)["device"]
                    heard[name] = heard.get(name, 0) + 1
                    if heard.get(f"{campus.tag}-a-lc1", 0) >= 4:
                        return

            await asyncio.wait_for(listen(), 10)
        assert not any(n.startswith(f"{campus.tag}-b-") for n in heard), heard  # B is dark

        sim.advance(1800)
        later = (await b.read_input_registers(9, count=1, device_id=21)).registers[0]
        assert panel[9] - later >= 20  # the battery drains (0.5 V an hour)
        assert await read_or_silence(b_dark, 1) is None

        sim.advance(900)  # the supply returns at +46 min; one second later:
        assert run.done
        lift = {"lift-b1": 1, "lift-b2": 2}[trapped[0]]
        bits = (await b.read_discrete_inputs(0, count=3, device_id=lift)).bits[:3]
        assert bits == [False, True, True]  # between floors, safety chain ok, trapped
        regs = (await b.read_holding_registers(0, count=13, device_id=lift)).registers
        assert regs[3] == 4 and regs[12] == 3  # stopped, stopped outside the landing zone
        panel = (await b.read_input_registers(0, count=12, device_id=21)).registers
        assert panel[11] & 0b1 == 1 and panel[0] == 0
        assert await read_or_silence(b, 11) is not None

        sim.advance(BOOT_S + CORRECTION_RUN_S + 4)  # boot, correction run, doors open
        bits = (await b.read_discrete_inputs(0, count=3, device_id=lift)).bits[:3]
        assert bits == [True, True, False]  # at a landing, nobody trapped
        regs = (await b.read_holding_registers(0, count=13, device_id=lift)).registers
        assert (regs[2], regs[4], regs[12]) == (2, 0, 0)  # doors open, car empty, no fault

        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as mqtt:
            await mqtt.subscribe(topic, qos=1)

            async def lights_back() -> None:
                async for message in mqtt.messages:
                    assert isinstance(message.payload, bytes)
                    if json.loads(message.payload)["device"] == f"{campus.tag}-b-lc1":
                        return

            await asyncio.wait_for(lights_back(), 10)


async def test_bearing_wear_over_four_weeks(tmp_path: Path) -> None:
    campus = Campus(tmp_path, keep=lambda eid: eid == "pump-a1")
    settings = campus.settings(speed=1e-6)
    warned: float | None = None
    alarmed: float | None = None
    async with (
        Simulation(load_inventory(campus.path), settings, control=False) as sim,
        AsyncModbusTcpClient(HOST, port=campus.tower_a, timeout=2, retries=0) as a,
    ):
        run = sim.run_scenario(SCENARIOS / "bearing-wear.yaml")
        start = sim.now
        while not run.done:
            sim.advance(3600)
            regs = (await a.read_input_registers(0, count=16, device_id=11)).registers
            day = (sim.now - start) / 86400
            if regs[0] != 1:
                continue  # vibration is measured while the pump runs
            if warned is None and regs[15] == 148:
                warned = day
            if alarmed is None and regs[14] == 148:
                alarmed = day
                # at least the 7.1 mm/s alarm level, less four standard deviations of the
                # reading's 3 % noise (a single reading 5 % low happens one time in twenty)
                assert regs[7] > 710 * (1 - 4 * 0.03)
        assert warned is not None and 8 <= warned <= 13
        assert alarmed is not None and 17 <= alarmed <= 23
        for _ in range(48):  # a new bearing
            sim.advance(1800)
            regs = (await a.read_input_registers(0, count=16, device_id=11)).registers
            if regs[0] == 1:
                assert regs[7] < 250 and regs[14] == 0 and regs[15] == 0
                break
        else:
            raise AssertionError("the pump did not run in the day after the repair")
