"""A thousand devices in one simulator: ten gateway ports, 250 lighting controllers on MQTT."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from pathlib import Path

import aiomqtt
import pytest
from pymodbus.client import AsyncModbusTcpClient

from plantroom.inventory import load_inventory
from plantroom.ports import free_port, port_is_free
from plantroom.settings import SimSettings
from simulators.devices import ModbusDevice
from simulators.generate import generate_site, generated_ports
from simulators.registers import Table
from simulators.runner import Simulation
from stack.services import Mosquitto

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"
CONNECTIONS_PER_PORT = 3


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - count)
        if all(port_is_free(HOST, base + i) for i in range(count)):
            return base
    raise AssertionError(f"no {count} consecutive free ports found")


async def poll(port: int, devices: list[tuple[int, ModbusDevice]]) -> int:
    """Read every device's block once over one connection; count the answers that match."""
    matched = 0
    async with AsyncModbusTcpClient(HOST, port=port, timeout=5, retries=0) as client:
        for unit, device in devices:
            kind = device.kind.value
            if kind == "elevator":
                rr = await client.read_holding_registers(0, count=13, device_id=unit)
                want = device.image.registers[Table.HOLDING][6:8]  # trips
                got = rr.registers[6:8]
            elif kind == "pump":
                rr = await client.read_input_registers(0, count=16, device_id=unit)
                want = device.image.registers[Table.INPUT][12:14]  # starts
                got = rr.registers[12:14]
            else:
                rr = await client.read_input_registers(0, count=12, device_id=unit)
                want, got = [0] * 9, rr.registers[:9]  # every zone normal
            matched += not rr.isError() and got == want
    return matched


async def test_a_thousand_devices_in_one_process(tmp_path: Path, mosquitto: Mosquitto) -> None:
    ports = generated_ports(10, 25)
    base = free_port_block(ports)
    tag = f"scale{secrets.token_hex(3)}"
    path = tmp_path / "big.yaml"
    path.write_text(generate_site(10, 25, base, site=tag))
    settings = SimSettings(
        inventory=path,
        sim_control_port=free_port(),
        sim_speed=1e-6,
        sim_publish_interval_s=0.5,
        mqtt_host=mosquitto.host,
        mqtt_port=mosquitto.port,
    )
    async with (
        aiomqtt.Client(mosquitto.host, mosquitto.port) as mqtt,
        Simulation(load_inventory(path), settings, control=False) as sim,
    ):
        await mqtt.subscribe("lumen/+/state", qos=0)
        assert len(sim.devices) == 1000 and len(sim.gateways) == ports == 10
        jobs = []
        for (host, port), units in sim.gateways.items():
            assert host == HOST and len(units) == 75
            items = sorted(units.items())
            for i in range(CONNECTIONS_PER_PORT):
                jobs.append(poll(port, items[i::CONNECTIONS_PER_PORT]))
        assert sum(await asyncio.gather(*jobs)) == 750

        heard: set[str] = set()

        async def listen() -> None:
            async for message in mqtt.messages:
                assert isinstance(message.payload, bytes)
                name = json.loads(message.payload)["device"]
                if name.startswith(f"{tag}-"):
                    heard.add(name)
                    if len(heard) == 250:
                        return

        await asyncio.wait_for(listen(), 20)
