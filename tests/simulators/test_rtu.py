"""Modbus RTU: frames with a CRC over TCP (a serial-to-Ethernet bridge) and on a serial line.

The serial line is a pseudo-terminal pair made by socat: the simulator opens one end, the
pymodbus serial client the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.framing import rtu_frame
from simulators.runner import Simulation
from tests.simulators.harness import write_one_building

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"


def write_inventory(path: Path, bridge_port: int, line: Path | None) -> Path:
    equipment: list[dict[str, Any]] = [
        {
            "id": "lift-r",
            "kind": "elevator",
            "profile": "plantroom-sim-elevator",
            "connection": {"type": "modbus_rtu_over_tcp", "host": HOST, "port": bridge_port},
        },
        {
            "id": "pump-r",
            "kind": "pump",
            "profile": "plantroom-sim-pump",
            "connection": {
                "type": "modbus_rtu_over_tcp",
                "host": HOST,
                "port": bridge_port,
                "unit": 11,
            },
        },
    ]
    if line is not None:
        equipment.append(
            {
                "id": "fire-s",
                "kind": "fire_panel",
                "profile": "plantroom-sim-fire-panel",
                "connection": {"type": "modbus_rtu", "device": str(line), "unit": 5},
            }
        )
    return write_one_building(path, "rtu", 9, equipment)


class Rig:
    def __init__(self, sim: Simulation, port: int) -> None:
        self.sim = sim
        self.port = port


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, line: Path | None = None) -> AsyncIterator[Rig]:
    port = free_port()
    path = write_inventory(tmp_path, port, line)
    settings = SimSettings(inventory=path, sim_control_port=free_port(), sim_speed=1e-6)
    async with Simulation(load_inventory(path), settings, control=False) as sim:
        yield Rig(sim, port)


async def test_rtu_over_tcp_with_pymodbus(tmp_path: Path) -> None:
    async with (
        rig(tmp_path) as r,
        AsyncModbusTcpClient(
            HOST, port=r.port, framer=FramerType.RTU, timeout=1, retries=0
        ) as client,
    ):
        lift = r.sim.models["lift-r"].values()
        rr = await client.read_holding_registers(0, count=13, device_id=1)
        assert not rr.isError()
        assert rr.registers[0] == lift["floor"] and rr.registers[4] == lift["load"]
        rr = await client.read_input_registers(0, count=16, device_id=11)
        assert not rr.isError() and rr.registers[8] == 0xFFFF  # a booster: no level sensor
        assert not (await client.write_register(0, 520, device_id=11)).isError()
        assert r.sim.models["pump-r"].values()["pressure_setpoint"] == pytest.approx(5.2)
        rr = await client.read_holding_registers(20, count=1, device_id=1)
        assert rr.isError() and rr.exception_code == 2
        r.sim.inject("lift-r", "exception")
        rr = await client.read_holding_registers(0, count=1, device_id=1)
        assert rr.isError() and rr.exception_code == 4


async def test_rtu_over_tcp_silence_and_corruption(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        reader, writer = await asyncio.open_connection(HOST, r.port)
        try:
            read = struct.pack(">BHH", 3, 0, 1)
            corrupt = bytearray(rtu_frame(1, read))
            corrupt[-1] ^= 0xFF
            writer.write(bytes(corrupt))  # ignored, as on a line
            writer.write(rtu_frame(42, read))  # nobody is unit 42 on an RTU line: silence
            await writer.drain()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(1), 0.3)
            writer.write(rtu_frame(1, read))
            answer = await asyncio.wait_for(reader.readexactly(7), 5)
            assert answer[:3] == bytes([1, 3, 2]) and answer == rtu_frame(1, answer[1:5])
            writer.write(rtu_frame(1, bytes([0x2B, 0x0E, 0x01, 0x00])))  # sized by silence
            assert await asyncio.wait_for(reader.readexactly(5), 5) == rtu_frame(1, b"\xab\x01")
            r.sim.inject("lift-r", "garbage")
            writer.write(rtu_frame(1, read))
            bad = await asyncio.wait_for(reader.readexactly(7), 5)
            assert bad[:5] == answer[:5] and bad != answer  # the CRC is wrong
        finally:
            writer.close()
            await writer.wait_closed()


async def test_serial_rtu_through_a_pty_pair(tmp_path: Path, pty_pair: tuple[Path, Path]) -> None:
    sim_end, client_end = pty_pair
    async with rig(tmp_path, sim_end) as r:
        assert r.sim.serial_lines[str(sim_end)][5].id == "fire-s"
        client = AsyncModbusSerialClient(
            str(client_end), framer=FramerType.RTU, baudrate=9600, timeout=1, retries=0
        )
        assert await client.connect()
        try:
            rr = await client.read_input_registers(0, count=12, device_id=5)
            assert not rr.isError()
            assert rr.registers[0] == 0 and 2700 < rr.registers[9] < 2760
            r.sim.inject("fire-s", "fire_alarm", {"zone": 2})
            rr = await client.read_input_registers(0, count=12, device_id=5)
            assert rr.registers[0] == 2 and rr.registers[2] == 2 and rr.registers[11] & 0b100
            assert not (await client.write_coil(3, True, device_id=5)).isError()
            assert r.sim.models["fire-s"].values()["zone_4"] == "disabled"
            with pytest.raises(ModbusIOException):
                await client.read_input_registers(0, count=1, device_id=6)  # nobody there
            rr = await client.read_input_registers(0, count=1, device_id=5)
            assert not rr.isError()  # the line recovered from the silence
        finally:
            client.close()
