"""Simulated devices: a behavioural model in its place in the inventory, on its transport.

A `ModbusDevice` answers one unit id of a Modbus gateway (TCP, RTU over TCP or a serial
line) from the register image of its model; a `MqttDevice` is a lighting controller whose
message goes out on its vendor topic. Both carry the transport faults of their kind beside
the model's own faults, and both can lose their power supply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from plantroom.inventory import Building, Equipment
from plantroom.kinds import Kind
from simulators.errors import UnknownFault
from simulators.faults import MODBUS_TRANSPORT_FAULTS, MQTT_TRANSPORT_FAULTS, FaultSpec
from simulators.models import MODELS, DeviceModel
from simulators.models.base import FaultParams
from simulators.models.lighting import LightingModel
from simulators.pdu import Answer, ExceptionCode, ModbusError
from simulators.profile_map import ServedProfile
from simulators.registers import RegisterImage, RegisterMap, Table, Value


def transport_faults(kind: Kind) -> tuple[FaultSpec, ...]:
    return MQTT_TRANSPORT_FAULTS if kind is Kind.LIGHTING else MODBUS_TRANSPORT_FAULTS


def fault_catalogue() -> dict[str, list[str]]:
    """Every kind's fault names: its model's faults, then its transport faults."""
    return {
        kind.value: [f.name for f in (*model.FAULTS, *transport_faults(kind))]
        for kind, model in MODELS.items()
    }


class SimDevice:
    """One simulated piece of equipment."""

    def __init__(self, building: Building, equipment: Equipment, model: DeviceModel) -> None:
        self.building = building
        self.equipment = equipment
        self.model = model
        self.transport: dict[str, FaultParams] = {}
        self._transport_specs = transport_faults(equipment.kind)
        self.refresh()

    @property
    def id(self) -> str:
        return self.equipment.id

    @property
    def kind(self) -> Kind:
        return self.equipment.kind

    def fault_specs(self) -> tuple[FaultSpec, ...]:
        return (*self.model.FAULTS, *self._transport_specs)

    def active_faults(self) -> dict[str, FaultParams]:
        return {**self.model.faults, **self.transport}

    def _spec(self, fault: str) -> FaultSpec:
        for spec in self.fault_specs():
            if spec.name == fault:
                return spec
        raise UnknownFault(self.id, self.kind.value, fault, [s.name for s in self.fault_specs()])

    def inject(self, fault: str, params: Mapping[str, Any] | None = None) -> FaultParams:
        """Make a fault active; raises UnknownFault or InvalidFaultParams."""
        spec = self._spec(fault)
        checked = spec.validate(params)
        if spec in self._transport_specs:
            self.transport[fault] = checked
        else:
            self.model.inject(fault, checked)
        self.refresh()
        return checked

    def clear(self, fault: str | None = None) -> list[str]:
        """Clear one fault (UnknownFault if the kind has no such fault) or all of them."""
        if fault is not None:
            self._spec(fault)
        cleared = self.model.clear(fault)
        for name in [n for n in self.transport if fault is None or n == fault]:
            del self.transport[name]
            cleared.append(name)
        self.refresh()
        return cleared

    @property
    def powered(self) -> bool:
        return self.model.powered

    def set_power(self, on: bool) -> None:
        """Cut or restore the device's supply (a battery-backed device keeps running)."""
        self.model.set_power(on)
        self.refresh()

    def write_values(self, values: Mapping[str, Value]) -> None:
        """Apply writes in engineering units, as a command would (ValueError if refused)."""
        for name, value in values.items():
            self.model.write(name, value)
        self.refresh()

    def advance(self, dt: float) -> None:
        self.model.advance(dt)
        self.refresh()

    def refresh(self) -> None:
        """Recompute what the device shows on its transport after its state changed."""

    def connection(self) -> dict[str, Any]:
        return self.equipment.connection.model_dump()

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "building": self.building.id,
            "profile": self.equipment.profile,
            "connection": self.connection(),
            "time": round(self.model.now, 3),
            "powered": self.powered,
            "faults": self.active_faults(),
            "points": self.model.values(),
            "detail": self.model.detail(),
        }


class ModbusDevice(SimDevice):
    """A device behind one unit id; implements `simulators.pdu.ModbusUnit`.

    It answers from its model's own register map, or, `served`, from a vendor profile's map
    with the values the model shows through it.
    """

    def __init__(
        self,
        building: Building,
        equipment: Equipment,
        model: DeviceModel,
        served: ServedProfile | None = None,
    ) -> None:
        register_map = served.register_map if served is not None else model.register_map
        if register_map is None:
            raise ValueError(f"{equipment.kind} models have no register map")
        self.register_map: RegisterMap = register_map
        self.served = served
        self._image: RegisterImage | None = None
        super().__init__(building, equipment, model)
        self._transport_specs = MODBUS_TRANSPORT_FAULTS

    def values(self) -> dict[str, Value]:
        """The values the registers encode: the model's, or what it shows through `served`."""
        values = self.model.values()
        return self.served.values(values) if self.served is not None else values

    def refresh(self) -> None:
        self._image = None  # encoded again when next read, not on every tick

    @property
    def image(self) -> RegisterImage:
        """The register image the unit answers from, as of the model's current state."""
        if self._image is None:
            self._image = self.register_map.encode(self.values())
        return self._image

    def answer(self) -> Answer:
        if not self.transport and self.model.powered:
            return Answer.NORMAL
        if "no_response" in self.transport or not (self.model.powered or self.model.battery_backed):
            return Answer.SILENT
        if "exception" in self.transport:
            return Answer.DEVICE_FAILURE
        if "garbage" in self.transport:
            return Answer.GARBAGE
        return Answer.NORMAL

    def delay(self) -> float:
        slow = self.transport.get("slow")
        if slow is None:
            return 0.0
        delay = slow.get("delay_s")
        return float(delay) if isinstance(delay, int | float) else 0.0

    def _span(self, table: Table, address: int, count: int) -> slice:
        size = self.register_map.sizes[table]
        if address + count > size:
            raise ModbusError(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"{table} {address}..{address + count - 1} outside 0..{size - 1}",
            )
        return slice(address, address + count)

    def read_bits(self, table: Table, address: int, count: int) -> Sequence[bool]:
        return self.image.bits[table][self._span(table, address, count)]

    def read_registers(self, table: Table, address: int, count: int) -> Sequence[int]:
        return self.image.registers[table][self._span(table, address, count)]

    def _write(self, table: Table, address: int, raws: Sequence[int | bool]) -> None:
        decoded: list[tuple[str, Value]] = []
        for offset, raw in enumerate(raws):
            point = self.register_map.writable_point(table, address + offset)
            if point is None:
                raise ModbusError(
                    ExceptionCode.ILLEGAL_DATA_ADDRESS, f"{table} {address + offset} is read-only"
                )
            try:
                decoded.append((point.name, self.register_map.decode_write(point, raw)))
            except ValueError as exc:
                raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, str(exc)) from exc
        try:
            for name, value in decoded:
                self.model.write(name, value)
        except ValueError as exc:
            raise ModbusError(ExceptionCode.ILLEGAL_DATA_VALUE, str(exc)) from exc
        finally:
            self.refresh()

    def write_bits(self, address: int, values: Sequence[bool]) -> None:
        self._write(Table.COIL, address, values)

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        self._write(Table.HOLDING, address, values)


class MqttDevice(SimDevice):
    """A controller that publishes its own JSON on its vendor topic."""

    def __init__(
        self, building: Building, equipment: Equipment, model: DeviceModel, topic: str
    ) -> None:
        if not isinstance(model, LightingModel):
            raise ValueError(f"{equipment.kind} is not simulated over MQTT")
        self.lighting = model
        self.topic = topic
        parts = topic.split("/")
        # the controller's own name, e.g. "a-lc1" in lumen/a-lc1/state
        self.device_name = parts[1] if len(parts) >= 3 and parts[1] else equipment.id
        super().__init__(building, equipment, model)

    @property
    def online(self) -> bool:
        return "offline" not in self.transport and self.model.powered

    def message(self) -> bytes:
        return json.dumps(self.lighting.payload(self.device_name), separators=(",", ":")).encode()

    def state(self) -> dict[str, Any]:
        out = super().state()
        out["message"] = self.lighting.payload(self.device_name)
        return out
