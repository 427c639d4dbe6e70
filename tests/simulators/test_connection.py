"""One Modbus connection's conversation, on a stand-in transport: order, delays, back-pressure."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from plantroom.inventory import Building, Equipment
from plantroom.kinds import Kind
from simulators.devices import ModbusDevice
from simulators.framing import rtu_frame
from simulators.modbus_server import MAX_BUFFERED, ModbusConnection, ModbusService
from simulators.models import ModelContext, create_model


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = 0
        self.resumed = 0
        self.aborted = False
        self.changed = asyncio.Event()

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(5):
            while not done():
                self.changed.clear()
                await self.changed.wait()

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1
        self.changed.set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


def lift() -> ModbusDevice:
    eq = Equipment.model_validate(
        {
            "id": "lift",
            "kind": "elevator",
            "profile": "plantroom-sim-elevator",
            "connection": {"type": "modbus_tcp", "host": "127.0.0.1", "port": 5020, "unit": 1},
        }
    )
    model = create_model(Kind.ELEVATOR, ModelContext("lift", floors=10))
    return ModbusDevice(Building(id="b", floors=10), eq, model)


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


READ = struct.pack(">BHH", 3, 0, 1)


def connect(framing: str) -> tuple[ModbusConnection, FakeTransport, ModbusDevice]:
    device = lift()
    conn = ModbusConnection(ModbusService("test", {1: device}, framing))
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, device


async def test_pipelined_requests_are_answered_at_once_and_in_order() -> None:
    conn, transport, _ = connect("mbap")
    conn.data_received(b"".join(mbap(t, 1 if t % 2 else 7, READ) for t in range(6))[:-3])
    assert [struct.unpack(">H", w[:2])[0] for w in transport.written] == [0, 1, 2, 3, 4]
    assert transport.written[0][7:] == bytes([0x83, 0x0B])  # nobody behind unit 7
    conn.data_received(mbap(5, 1, READ)[-3:])
    assert struct.unpack(">H", transport.written[-1][:2])[0] == 5
    conn.data_received(struct.pack(">HHHB", 9, 3, 6, 1))  # not Modbus
    assert transport.aborted


async def test_a_slow_unit_holds_the_line_and_reading_pauses_when_requests_pile_up() -> None:
    conn, transport, device = connect("mbap")
    device.inject("slow", {"delay_s": 0.05})
    flood = b"".join(mbap(t % 65536, 1, READ) for t in range(MAX_BUFFERED // 12 + 10))
    conn.data_received(flood)
    assert transport.written == [] and transport.paused == 1
    device.clear("slow")
    await transport.until(lambda: transport.resumed > 0)
    assert len(transport.written) == MAX_BUFFERED // 12 + 10
    assert [struct.unpack(">H", w[:2])[0] for w in transport.written[:3]] == [0, 1, 2]


async def test_an_rtu_request_of_unknown_shape_is_answered_after_silence() -> None:
    conn, transport, _ = connect("rtu")
    conn.data_received(rtu_frame(1, bytes([0x2B, 0x0E, 0x01, 0x00])))
    assert transport.written == []
    await transport.until(lambda: bool(transport.written))
    assert transport.written == [rtu_frame(1, bytes([0xAB, 0x01]))]
    conn.data_received(rtu_frame(1, READ))
    assert transport.written[-1][:3] == bytes([1, 3, 2]) and not transport.aborted
    conn.connection_lost(None)
