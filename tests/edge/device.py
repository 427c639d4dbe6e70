"""A Modbus TCP device served in the tests: a small server of its own that answers function
codes 1-4 from per-unit tables and can make a unit fall silent or answer with an exception,
which is what the outage tests need."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

from plantroom.ports import free_port


@dataclass
class Unit:
    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    discrete: dict[int, bool] = field(default_factory=dict)
    silent: bool = False
    exception: int | None = None
    requests: int = 0


class ModbusDevice:
    """Modbus TCP server for units on one port (like a gateway with several slaves)."""

    def __init__(self, units: dict[int, Unit], port: int | None = None) -> None:
        self.units = units
        self.port = port or free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ModbusDevice:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _answer(self, unit: Unit, fc: int, address: int, count: int) -> bytes:
        if unit.exception is not None:
            return bytes([fc | 0x80, unit.exception])
        if fc in (3, 4):
            table = unit.holding if fc == 3 else unit.input
            words = [table.get(address + i, 0) for i in range(count)]
            return bytes([fc, 2 * count]) + struct.pack(f">{count}H", *words)
        if fc in (1, 2):
            table_bits = unit.coils if fc == 1 else unit.discrete
            data = bytearray((count + 7) // 8)
            for i in range(count):
                if table_bits.get(address + i, False):
                    data[i // 8] |= 1 << (i % 8)
            return bytes([fc, len(data)]) + bytes(data)
        return bytes([fc | 0x80, 1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                tid, _, length, unit_id = struct.unpack(">HHHB", await reader.readexactly(7))
                pdu = await reader.readexactly(length - 1)
                unit = self.units.get(unit_id)
                if unit is None or unit.silent:
                    continue
                unit.requests += 1
                fc = pdu[0]
                address, count = struct.unpack(">HH", pdu[1:5])
                answer = self._answer(unit, fc, address, count)
                writer.write(struct.pack(">HHHB", tid, 0, len(answer) + 1, unit_id) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def pump_unit() -> Unit:
    """Registers of profile plantroom-sim-pump."""
    return Unit(
        input={
            0: 1,  # run_state running
            1: 1450,  # speed rpm
            2: 123,  # current 12.3 A
            3: 456,  # power 4.56 kW
            4: 350,  # discharge_pressure 3.5 bar
            5: 0xFFFF,  # flow: not available
            6: 0xFFE2,  # motor_temperature -3.0 degC
            7: 12,  # vibration 0.12
            8: 0xFFFF,  # sump_level: not available
            10: 0x0001,
            11: 0x0000,  # run_hours 655.36 h
            12: 0,
            13: 42,  # starts
            14: 57,  # alarm_code dry_run
            15: 999,  # warning_code unknown
        },
        discrete={0: True, 3: True},
    )
