"""Modbus request handling, PDU in → PDU out, against simulated devices (no sockets)."""

from __future__ import annotations

import struct

import pytest

from plantroom.inventory import Building, Equipment
from plantroom.kinds import Kind
from simulators.devices import ModbusDevice
from simulators.framing import MalformedFrame
from simulators.models import ModelContext, create_model
from simulators.pdu import ModbusUnit, handle_pdu
from simulators.registers import Table

PROFILES = {
    Kind.ELEVATOR: "plantroom-sim-elevator",
    Kind.PUMP: "plantroom-sim-pump",
    Kind.FIRE_PANEL: "plantroom-sim-fire-panel",
}


def device(kind: Kind, unit: int) -> ModbusDevice:
    eq = Equipment.model_validate(
        {
            "id": f"{kind.value}-{unit}",
            "kind": kind.value,
            "profile": PROFILES[kind],
            "connection": {"type": "modbus_tcp", "host": "127.0.0.1", "port": 5020, "unit": unit},
        }
    )
    building = Building(id="b1", floors=10)
    return ModbusDevice(building, eq, create_model(kind, ModelContext(eq.id, floors=10)))


@pytest.fixture
def units() -> dict[int, ModbusUnit]:
    return {1: device(Kind.ELEVATOR, 1), 11: device(Kind.PUMP, 11), 21: device(Kind.FIRE_PANEL, 21)}


def req(fc: int, *words: int) -> bytes:
    return bytes([fc]) + struct.pack(f">{len(words)}H", *words)


def exc(fc: int, code: int) -> bytes:
    return bytes([fc | 0x80, code])


def test_read_holding_registers(units: dict[int, ModbusUnit]) -> None:
    lift = units[1]
    assert isinstance(lift, ModbusDevice)
    resp = handle_pdu(units, 1, req(3, 0, 13))
    assert resp is not None and resp[:2] == bytes([3, 26])
    assert list(struct.unpack(">13H", resp[2:])) == lift.image.registers[Table.HOLDING]


def test_read_input_registers_and_bits(units: dict[int, ModbusUnit]) -> None:
    assert handle_pdu(units, 21, req(4, 9, 3)) is not None
    resp = handle_pdu(units, 1, req(2, 0, 3))
    assert resp is not None and resp[:2] == bytes([2, 1])
    assert resp[2] & 0b010 == 0b010  # safety circuit ok
    resp = handle_pdu(units, 21, req(1, 0, 8))
    assert resp == bytes([1, 1, 0])


@pytest.mark.parametrize(
    ("unit", "pdu", "code"),
    [
        (1, req(3, 0, 0), 3),  # count 0
        (1, req(3, 0, 126), 3),  # > 125 registers
        (1, req(2, 0, 2001), 3),  # > 2000 bits
        (1, req(3, 12, 2), 2),  # past the elevator's holding block
        (1, req(4, 0, 1), 2),  # the elevator has no input registers
        (11, req(4, 16, 1), 2),
        (11, req(3, 0xFFFF, 2), 2),  # past address 65535
        (1, bytes([7]), 1),  # read exception status: not supported
        (1, req(0x2B, 0x0E01), 1),
        (99, req(3, 0, 1), 0x0B),  # nobody behind unit 99
        (1, req(5, 0, 0x1234), 3),  # a coil is 0x0000 or 0xFF00
        (1, req(6, 0, 5), 2),  # the car's floor is read-only
        (11, req(6, 0, 900), 3),  # setpoint 9.00 bar is out of range
        (11, req(6, 2, 850), 3),  # stop level above start level
        (21, req(15, 0, 8) + bytes([2, 0, 0]), 3),  # byte count does not match quantity
        (21, req(15, 6, 4) + bytes([1, 0]), 2),  # coils 8 and 9 do not exist
        (11, req(16, 1, 2) + bytes([2]) + req(0, 600)[1:], 3),
    ],
)
def test_exception_responses(
    units: dict[int, ModbusUnit], unit: int, pdu: bytes, code: int
) -> None:
    assert handle_pdu(units, unit, pdu) == exc(pdu[0], code)


def test_writes(units: dict[int, ModbusUnit]) -> None:
    lift, pump, panel = units[1], units[11], units[21]
    assert isinstance(lift, ModbusDevice) and isinstance(pump, ModbusDevice)
    assert isinstance(panel, ModbusDevice)
    pdu = req(5, 0, 0xFF00)
    assert handle_pdu(units, 1, pdu) == pdu
    assert lift.model.values()["out_of_service_command"] is True
    assert lift.image.bits[Table.COIL][0] is True
    pdu = req(6, 0, 520)
    assert handle_pdu(units, 11, pdu) == pdu
    assert pump.model.values()["pressure_setpoint"] == pytest.approx(5.2)
    pdu = req(16, 1, 2) + bytes([4]) + struct.pack(">2H", 600, 150)
    assert handle_pdu(units, 11, pdu) == pdu[:5]
    assert handle_pdu(units, 11, req(3, 0, 3)) == bytes([3, 6]) + struct.pack(">3H", 520, 600, 150)
    pdu = req(15, 0, 8) + bytes([1, 0b1010_0001])
    assert handle_pdu(units, 21, pdu) == pdu[:5]
    values = panel.model.values()
    assert [values[f"zone_{z}"] for z in (1, 6, 8)] == ["disabled"] * 3
    assert values["zone_2"] == "normal" and values["zone_disabled"] is True


def test_transport_faults(units: dict[int, ModbusUnit]) -> None:
    lift = units[1]
    assert isinstance(lift, ModbusDevice)
    lift.inject("no_response")
    assert handle_pdu(units, 1, req(3, 0, 1)) is None
    assert handle_pdu(units, 11, req(4, 0, 1)) is not None  # its neighbours answer
    lift.clear("no_response")
    lift.inject("exception")
    assert handle_pdu(units, 1, req(3, 0, 1)) == exc(3, 4)
    assert handle_pdu(units, 1, req(5, 0, 0xFF00)) == exc(5, 4)
    lift.clear()
    assert handle_pdu(units, 1, req(3, 0, 1)) is not None


@pytest.mark.parametrize(
    "pdu", [b"", bytes([3, 0, 0]), req(3, 0, 1) + b"\x00", req(15, 0, 8) + bytes([3, 0])]
)
def test_malformed_requests(units: dict[int, ModbusUnit], pdu: bytes) -> None:
    with pytest.raises(MalformedFrame):
        handle_pdu(units, 1, pdu)
