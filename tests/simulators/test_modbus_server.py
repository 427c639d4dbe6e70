"""The simulators over real Modbus TCP: pymodbus and mbpoll (libmodbus) as clients."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from plantroom.errors import PortInUseError
from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.runner import Simulation
from tests.simulators.harness import HOST, Site, two_buildings, write_two_buildings

pytestmark = pytest.mark.integration


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with two_buildings(tmp_path) as site:
        yield site


@pytest.fixture
async def client(site: Site) -> AsyncIterator[AsyncModbusTcpClient]:
    c = AsyncModbusTcpClient(HOST, port=site.port_a, timeout=2, retries=0)
    assert await c.connect()
    yield c
    c.close()


def words_to_u32(hi: int, lo: int) -> int:
    return (hi << 16) | lo


async def test_pymodbus_reads_the_elevator_block(site: Site, client: AsyncModbusTcpClient) -> None:
    model = site.device("lift-1").model
    rr = await client.read_holding_registers(0, count=13, device_id=1)
    assert not rr.isError()
    regs = rr.registers
    v = model.values()
    assert regs[0] == v["floor"]
    assert regs[1] == {"idle": 0, "up": 1, "down": 2}[str(v["direction"])]
    assert regs[3] == 0  # mode normal
    assert regs[4] == v["load"]
    assert regs[5] / 10 == pytest.approx(v["drive_temperature"], abs=0.3)
    assert words_to_u32(regs[6], regs[7]) == v["trips"]
    assert words_to_u32(regs[8], regs[9]) == v["door_cycles"]
    hours = struct.unpack(">f", struct.pack(">HH", regs[10], regs[11]))[0]
    assert hours == pytest.approx(v["run_hours"], rel=1e-6)
    assert regs[12] == 0
    bits = await client.read_discrete_inputs(0, count=3, device_id=1)
    assert bits.bits[:3] == [True, True, False]


async def test_pymodbus_reads_pumps_and_fire_panel(
    site: Site, client: AsyncModbusTcpClient
) -> None:
    booster = (await client.read_input_registers(0, count=16, device_id=11)).registers
    sump = (await client.read_input_registers(0, count=16, device_id=12)).registers
    assert booster[8] == 0xFFFF  # no level sensor on a booster
    level = site.device("pump-2").model.values()["sump_level"]
    assert isinstance(level, float) and sump[8] == round(level * 10)
    for regs, eid in ((booster, "pump-1"), (sump, "pump-2")):
        v = site.device(eid).model.values()
        assert regs[0] in (0, 1)
        assert words_to_u32(regs[12], regs[13]) == v["starts"]
        assert words_to_u32(regs[10], regs[11]) / 100 == pytest.approx(v["run_hours"], abs=0.006)
        assert regs[4] / 100 == pytest.approx(v["discharge_pressure"], abs=0.05)
        assert regs[14] == regs[15] == 0
    panel = (await client.read_input_registers(0, count=12, device_id=21)).registers
    assert panel[:9] == [0] * 9
    assert 2700 < panel[9] < 2760
    assert panel[10] == 0
    assert panel[11] == 0b11  # mains_ok, battery_ok


async def test_same_unit_id_on_another_port_is_another_device(site: Site) -> None:
    c = AsyncModbusTcpClient(HOST, port=site.port_b, timeout=2, retries=0)
    assert await c.connect()
    try:
        site.sim.inject("lift-2", "stopped_outside_landing_zone")
        rr = await c.read_holding_registers(12, count=1, device_id=1)
        assert rr.registers == [3]
        bits = await c.read_discrete_inputs(0, count=3, device_id=1)
        assert bits.bits[:3] == [False, True, True]  # between floors, safety ok, trapped
    finally:
        c.close()


async def test_fault_signatures_on_the_wire(site: Site, client: AsyncModbusTcpClient) -> None:
    sim = site.sim
    sim.inject("lift-1", "door_open_fault")  # the idle car is called to its own floor
    regs = (await client.read_holding_registers(0, count=13, device_id=1)).registers
    assert (regs[2], regs[3], regs[12]) == (4, 1, 1)  # door fault, out of service, code 1
    sim.clear("lift-1")

    sim.inject("fire-1", "fire_alarm", {"zone": 3})
    panel = (await client.read_input_registers(0, count=12, device_id=21)).registers
    assert panel[0] == 2 and panel[3] == 2 and panel[10] == 1
    assert panel[11] & 0b100
    sim.clear("fire-1", "fire_alarm")
    panel = (await client.read_input_registers(0, count=12, device_id=21)).registers
    assert panel[0] == 0 and panel[3] == 0 and not panel[11] & 0b100

    sim.inject("pump-1", "dry_run")
    sim.advance(3600)
    regs = (await client.read_input_registers(0, count=16, device_id=11)).registers
    assert regs[0] == 1 and regs[5] < 5 and regs[14] == 57
    bits = await client.read_discrete_inputs(0, count=5, device_id=11)
    assert bits.bits[:5] == [True, True, False, False, False]  # dry running, pressure gone
    sim.clear("pump-1")
    sim.advance(3600)
    regs = (await client.read_input_registers(0, count=16, device_id=11)).registers
    assert regs[14] == 0


async def test_writes_reach_the_models(site: Site, client: AsyncModbusTcpClient) -> None:
    rr = await client.write_coil(0, True, device_id=1)
    assert not rr.isError()
    site.sim.advance(300)
    assert (await client.read_holding_registers(3, count=1, device_id=1)).registers == [1]
    rr = await client.write_registers(0, [550, 600, 150], device_id=11)
    assert not rr.isError()
    rr = await client.read_holding_registers(0, count=3, device_id=11)
    assert rr.registers == [550, 600, 150]
    rr = await client.write_register(0, 950, device_id=11)
    assert rr.isError() and rr.exception_code == 3
    rr = await client.write_coils(0, [True, False, True], device_id=21)
    assert not rr.isError()
    panel = (await client.read_input_registers(0, count=12, device_id=21)).registers
    assert panel[1:4] == [5, 0, 5] and panel[11] & 0b100000


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda c: c.read_holding_registers(0, count=1, device_id=99), 0x0B),
        (lambda c: c.read_holding_registers(10, count=5, device_id=1), 2),
        (lambda c: c.read_input_registers(0, count=1, device_id=1), 2),
        (lambda c: c.write_register(0, 3, device_id=1), 2),
    ],
)
async def test_exception_responses(client: AsyncModbusTcpClient, call: object, code: int) -> None:
    assert callable(call)
    rr = await call(client)
    assert rr.isError() and rr.exception_code == code


async def test_no_response_times_out_while_neighbours_answer(site: Site) -> None:
    site.sim.inject("lift-1", "no_response")
    c = AsyncModbusTcpClient(HOST, port=site.port_a, timeout=0.5, retries=0)
    other = AsyncModbusTcpClient(HOST, port=site.port_a, timeout=2, retries=0)
    assert await c.connect() and await other.connect()
    try:
        silent = asyncio.ensure_future(c.read_holding_registers(0, count=1, device_id=1))
        neighbour = await other.read_input_registers(0, count=16, device_id=11)
        assert not neighbour.isError()
        with pytest.raises(ModbusIOException):
            await silent
        # the same connection still serves the other units
        rr = await c.read_input_registers(0, count=12, device_id=21)
        assert not rr.isError()
        site.sim.clear("lift-1", "no_response")
        rr = await c.read_holding_registers(0, count=1, device_id=1)
        assert not rr.isError()
        site.sim.inject("lift-1", "exception")
        rr = await c.read_holding_registers(0, count=1, device_id=1)
        assert rr.isError() and rr.exception_code == 4
    finally:
        c.close()
        other.close()


# -- raw frames -------------------------------------------------------------------------
def frame(tid: int, unit: int, pdu: bytes, protocol: int = 0) -> bytes:
    return struct.pack(">HHHB", tid, protocol, len(pdu) + 1, unit) + pdu


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    header = await asyncio.wait_for(reader.readexactly(7), 5)
    tid, _, length, unit = struct.unpack(">HHHB", header)
    return tid, unit, await reader.readexactly(length - 1)


async def test_pipelined_requests_are_answered_in_order(site: Site) -> None:
    reader, writer = await asyncio.open_connection(HOST, site.port_a)
    try:
        units = [1, 11, 12, 21, 99]
        reqs = []
        for tid in range(100):
            unit = units[tid % len(units)]
            fc = 3 if unit == 1 else 4
            reqs.append(frame(tid, unit, struct.pack(">BHH", fc, 0, 1)))
        reqs.append(frame(500, 1, struct.pack(">BHH", 3, 0, 126)))
        reqs.append(frame(501, 21, struct.pack(">BHH", 4, 0, 0)))
        writer.write(b"".join(reqs))
        await writer.drain()
        for tid in range(100):
            got_tid, unit, pdu = await read_frame(reader)
            assert got_tid == tid and unit == units[tid % len(units)]
            if unit == 99:
                assert pdu == bytes([0x84, 0x0B])
            else:
                assert len(pdu) == 4
        assert (await read_frame(reader))[2] == bytes([0x83, 3])
        assert (await read_frame(reader))[2] == bytes([0x84, 3])
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "garbage",
    [
        frame(1, 1, struct.pack(">BHH", 3, 0, 1), protocol=7),  # not Modbus
        struct.pack(">HHHB", 1, 0, 1, 1),  # no PDU
        struct.pack(">HHHB", 1, 0, 400, 1) + b"x" * 399,  # longer than any PDU
        frame(1, 1, b"\x03\x00"),  # truncated read request
    ],
)
async def test_malformed_frames_close_only_their_connection(site: Site, garbage: bytes) -> None:
    reader, writer = await asyncio.open_connection(HOST, site.port_a)
    try:
        writer.write(garbage)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    finally:
        writer.close()
        await writer.wait_closed()
    reader, writer = await asyncio.open_connection(HOST, site.port_a)
    try:
        writer.write(frame(2, 21, struct.pack(">BHH", 4, 0, 1)))
        await writer.drain()
        assert (await read_frame(reader))[0] == 2
    finally:
        writer.close()
        await writer.wait_closed()


async def test_many_concurrent_clients(site: Site) -> None:
    clients = [
        AsyncModbusTcpClient(HOST, port=site.port_a, timeout=3, retries=0) for _ in range(20)
    ]
    try:
        assert all(await asyncio.gather(*(c.connect() for c in clients)))

        async def poll(c: AsyncModbusTcpClient) -> int:
            ok = 0
            for _ in range(10):
                rr = await c.read_input_registers(0, count=16, device_id=11)
                ok += not rr.isError()
            return ok

        assert await asyncio.gather(*(poll(c) for c in clients)) == [10] * 20
    finally:
        for c in clients:
            c.close()


async def test_a_taken_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        path = write_two_buildings(tmp_path, taken, free_port())
        settings = SimSettings(inventory=path, sim_control_port=free_port())
        with pytest.raises(PortInUseError, match=f"{taken} is already in use"):
            async with Simulation(load_inventory(path), settings):
                pass
        path = write_two_buildings(tmp_path, free_port(), free_port())
        settings = SimSettings(inventory=path, sim_control_port=taken)
        with pytest.raises(PortInUseError, match="simulator control"):
            async with Simulation(load_inventory(path), settings):
                pass


# -- mbpoll (libmodbus) -------------------------------------------------------------------
async def run_mbpoll(port: int, unit: int, *args: str, timeout_s: int = 2) -> tuple[int, str]:
    """mbpoll once against `unit` on `port` with `args`: its exit code and its output."""
    proc = await asyncio.create_subprocess_exec(
        "mbpoll",
        "-m",
        "tcp",
        "-a",
        str(unit),
        "-1",
        "-o",
        str(timeout_s),
        "-p",
        str(port),
        *args,
        HOST,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def mbpoll(port: int, unit: int, *args: str) -> list[str]:
    code, out = await run_mbpoll(port, unit, *args)
    assert code == 0, out
    return re.findall(r"^\[\d+\]:\s+(\S+)", out, flags=re.M)


async def test_mbpoll_reads_every_kind(site: Site) -> None:
    p = site.port_a
    lift = site.device("lift-1").model.values()
    # holding registers 0..12, 1-based references as mbpoll counts them
    regs = [int(x) for x in await mbpoll(p, 1, "-t", "4", "-r", "1", "-c", "13")]
    assert regs[0] == lift["floor"] and regs[4] == lift["load"]
    assert [int(x) for x in await mbpoll(p, 1, "-t", "4:int", "-B", "-r", "7", "-c", "2")] == [
        lift["trips"],
        lift["door_cycles"],
    ]
    hours = float((await mbpoll(p, 1, "-t", "4:float", "-B", "-r", "11", "-c", "1"))[0])
    assert hours == pytest.approx(lift["run_hours"], rel=1e-5)
    assert await mbpoll(p, 1, "-t", "1", "-r", "1", "-c", "3") == ["1", "1", "0"]
    assert await mbpoll(p, 1, "-t", "0", "-0", "-r", "0", "-c", "1") == ["0"]

    pump = site.device("pump-1").model.values()
    regs = [int(x) for x in await mbpoll(p, 11, "-t", "3", "-0", "-r", "0", "-c", "16")]
    assert regs[8] == 0xFFFF and regs[14] == 0
    starts = int((await mbpoll(p, 11, "-t", "3:int", "-B", "-r", "13", "-c", "1"))[0])
    assert starts == pump["starts"]
    site.sim.inject("pump-1", "leak")
    assert await mbpoll(p, 11, "-t", "1", "-r", "1", "-c", "5") == ["0", "0", "0", "0", "1"]

    site.sim.inject("fire-1", "mains_failure")
    regs = [int(x) for x in await mbpoll(p, 21, "-t", "3", "-r", "1", "-c", "12")]
    assert regs[0] == 3  # panel state fault
    assert 2500 <= regs[9] <= 2560
    assert regs[11] == 0b1010  # battery ok, trouble; mains lost


@pytest.mark.parametrize(
    ("unit", "register", "error"),
    [(42, "1", "Target device failed to respond"), (21, "13", "Illegal data address")],
    ids=["no-such-unit", "no-such-register"],
)
async def test_mbpoll_sees_gateway_and_address_errors(
    site: Site, unit: int, register: str, error: str
) -> None:
    _, out = await run_mbpoll(site.port_a, unit, "-t", "3", "-r", register, timeout_s=1)
    assert error in out
