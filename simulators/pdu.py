"""Modbus PDUs: what a unit answers to a request, or the exception response it gives.

Function codes 1, 2, 3, 4 (reads), 5, 6, 15, 16 (writes). Exception responses follow the
Modbus application protocol: 01 illegal function, 02 illegal data address, 03 illegal data
value, 04 server device failure, 0x0B gateway target device failed to respond. Each unit id
maps to a `ModbusUnit` that answers reads and writes from its tables and says whether, and
how soon, it answers at all.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, IntEnum
from typing import Protocol

from simulators.framing import MalformedFrame
from simulators.registers import Table

log = logging.getLogger(__name__)

MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_WRITE_BITS = 1968


class ExceptionCode(IntEnum):
    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    GATEWAY_TARGET_FAILED = 0x0B


class ModbusError(Exception):
    """Raised by a unit (or the PDU decoder) to answer with a Modbus exception."""

    def __init__(self, code: ExceptionCode, reason: str = "") -> None:
        super().__init__(f"{code.name}: {reason}" if reason else code.name)
        self.code = code


class Answer(Enum):
    NORMAL = "normal"
    SILENT = "silent"  # send nothing back (the device does not respond)
    DEVICE_FAILURE = "device_failure"  # answer every request with exception 04
    GARBAGE = "garbage"  # answer with malformed frames


class ModbusUnit(Protocol):
    """What the server needs from a device behind one unit id."""

    def answer(self) -> Answer: ...

    def delay(self) -> float:
        """Real seconds to wait before answering (0 for a healthy unit)."""
        ...

    def read_bits(self, table: Table, address: int, count: int) -> Sequence[bool]: ...

    def read_registers(self, table: Table, address: int, count: int) -> Sequence[int]: ...

    def write_bits(self, address: int, values: Sequence[bool]) -> None: ...

    def write_registers(self, address: int, values: Sequence[int]) -> None: ...


def exception_pdu(function: int, code: ExceptionCode) -> bytes:
    return bytes(((function | 0x80) & 0xFF, code))


def _pack_bits(bits: Sequence[bool]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _unpack_bits(data: bytes, count: int) -> list[bool]:
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def _check_span(address: int, count: int) -> None:
    if address + count > 0x10000:
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_ADDRESS, "request runs past address 65535")


def _address_count(pdu: bytes) -> tuple[int, int]:
    if len(pdu) != 5:
        raise MalformedFrame(f"function {pdu[0]} needs a 5-byte PDU, got {len(pdu)}")
    address, count = struct.unpack(">HH", pdu[1:5])
    return address, count


_READ_TABLES = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}


def _read(unit: ModbusUnit, pdu: bytes) -> bytes:
    fc = pdu[0]
    address, count = _address_count(pdu)
    table = _READ_TABLES[fc]
    bits = fc in (1, 2)
    limit = MAX_READ_BITS if bits else MAX_READ_REGISTERS
    if not 1 <= count <= limit:
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"quantity {count} not in 1..{limit}")
    _check_span(address, count)
    if bits:
        data = _pack_bits(unit.read_bits(table, address, count))
    else:
        words = unit.read_registers(table, address, count)
        data = struct.pack(f">{len(words)}H", *words)
    return bytes((fc, len(data))) + data


def _write_single_coil(unit: ModbusUnit, pdu: bytes) -> bytes:
    address, value = _address_count(pdu)
    if value not in (0x0000, 0xFF00):
        raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"coil value 0x{value:04X}")
    unit.write_bits(address, [value == 0xFF00])
    return pdu


def _write_single_register(unit: ModbusUnit, pdu: bytes) -> bytes:
    address, value = _address_count(pdu)
    unit.write_registers(address, [value])
    return pdu


def _write_multiple(unit: ModbusUnit, pdu: bytes) -> bytes:
    fc = pdu[0]
    if len(pdu) < 6:
        raise MalformedFrame(f"function {fc} PDU too short ({len(pdu)} bytes)")
    address, count, byte_count = struct.unpack(">HHB", pdu[1:6])
    data = pdu[6:]
    if len(data) != byte_count:
        raise MalformedFrame(f"byte count {byte_count} but {len(data)} data bytes")
    if fc == 15:
        if not 1 <= count <= MAX_WRITE_BITS or byte_count != (count + 7) // 8:
            raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"coil quantity {count}")
        _check_span(address, count)
        unit.write_bits(address, _unpack_bits(data, count))
    else:
        if not 1 <= count <= MAX_WRITE_REGISTERS or byte_count != 2 * count:
            raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, f"register quantity {count}")
        _check_span(address, count)
        unit.write_registers(address, list(struct.unpack(f">{count}H", data)))
    return pdu[:5]


HANDLERS: dict[int, Callable[[ModbusUnit, bytes], bytes]] = {
    1: _read,
    2: _read,
    3: _read,
    4: _read,
    5: _write_single_coil,
    6: _write_single_register,
    15: _write_multiple,
    16: _write_multiple,
}


def handle_pdu(units: Mapping[int, ModbusUnit], unit_id: int, pdu: bytes) -> bytes | None:
    """Answer one request PDU; None means send nothing. Raises MalformedFrame."""
    if not pdu:
        raise MalformedFrame("empty PDU")
    fc = pdu[0]
    unit = units.get(unit_id)
    if unit is None:
        return exception_pdu(fc, ExceptionCode.GATEWAY_TARGET_FAILED)
    answer = unit.answer()
    if answer is Answer.SILENT:
        return None
    handler = HANDLERS.get(fc)
    if handler is None:
        return exception_pdu(fc, ExceptionCode.ILLEGAL_FUNCTION)
    if answer is Answer.DEVICE_FAILURE:
        return exception_pdu(fc, ExceptionCode.SERVER_DEVICE_FAILURE)
    try:
        return handler(unit, pdu)
    except ModbusError as exc:
        log.debug("unit %d function %d: %s", unit_id, fc, exc)
        return exception_pdu(fc, exc.code)
    except MalformedFrame:
        raise
    except Exception:  # a failing device answers 04; the server carries on
        log.exception("unit %d function %d failed", unit_id, fc)
        return exception_pdu(fc, ExceptionCode.SERVER_DEVICE_FAILURE)
