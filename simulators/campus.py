"""The simulated campus: every inventory device as a model behind its transport.

Modbus devices are grouped by gateway — a host:port (Modbus TCP, or RTU frames over TCP) or
a serial line (Modbus RTU) — one server per gateway answering each device's unit id;
lighting controllers are MQTT publishers. A `Campus` is wired but not served: it binds no
socket and keeps no clock (`simulators.runner.Simulation` serves it and moves it on). What
the control endpoint and scenarios do to equipment (faults, writes, supply) happens here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plantroom.errors import ConfigError
from plantroom.inventory import (
    Building,
    Equipment,
    Inventory,
    ModbusRtu,
    ModbusRtuOverTcp,
    ModbusTcp,
    Mqtt,
)
from plantroom.kinds import Kind
from plantroom.settings import SimSettings
from simulators.devices import ModbusDevice, MqttDevice, SimDevice, fault_catalogue
from simulators.errors import UnknownBuilding, UnknownEquipment
from simulators.faults import FaultSpec
from simulators.gateway_faults import GatewayFaults
from simulators.modbus_server import ModbusService, ModbusTcpServer
from simulators.models import DeviceModel, ModelContext, create_model
from simulators.models.base import FaultParams
from simulators.models.elevator import ElevatorModel
from simulators.profile_map import served_profile
from simulators.registers import Value
from simulators.serial_line import LineSettings, SerialLineServer
from simulators.vendors import VENDOR_MAPS

log = logging.getLogger(__name__)

Address = tuple[str, int]


def gateway_id(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Campus:
    """The equipment of one inventory wired to its gateways, at simulated `start_time`."""

    def __init__(self, inventory: Inventory, settings: SimSettings, start_time: float) -> None:
        self.inventory = inventory
        self.settings = settings
        try:
            tz = ZoneInfo(inventory.site.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"site {inventory.site.id!r}: unknown timezone {inventory.site.timezone!r}"
            ) from exc
        self.start_time = start_time
        self.tz = tz
        self.devices: dict[str, SimDevice] = {}
        self.gateways: dict[Address, dict[int, ModbusDevice]] = {}  # TCP: MBAP or RTU framed
        self.serial_lines: dict[str, dict[int, ModbusDevice]] = {}
        self.lighting: list[MqttDevice] = []
        self.skipped: dict[str, str] = {}
        self._framing: dict[Address, str] = {}
        self._lines: dict[str, LineSettings] = {}
        self._device_gateway: dict[str, str] = {}
        for building, equipment in inventory.equipment():
            ctx = ModelContext(
                equipment_id=equipment.id,
                seed=settings.sim_seed,
                start_time=start_time,
                timezone=tz,
                floors=building.floors,
                tags=equipment.tags,
            )
            self._add(building, equipment, ctx)
        self.services: dict[str, ModbusService] = {}
        for address, units in self.gateways.items():
            self.services[gateway_id(address)] = ModbusTcpServer(
                *address, units, framing=self._framing[address], bind_host=settings.sim_bind_host
            )
        for device, units in self.serial_lines.items():
            self.services[device] = SerialLineServer(device, units, self._lines[device])
        self._gateway_faults = GatewayFaults(self.services)

    def _add(self, building: Building, equipment: Equipment, ctx: ModelContext) -> None:
        conn = equipment.connection
        kind = equipment.kind
        lighting = isinstance(conn, Mqtt) and kind is Kind.LIGHTING
        vendor = equipment.profile in VENDOR_MAPS and not isinstance(conn, Mqtt)
        if not (lighting or vendor) and (isinstance(conn, Mqtt) or kind is Kind.LIGHTING):
            reason = (
                f"{kind.value} over {conn.type} is not simulated (Modbus TCP, RTU over TCP or "
                f"serial RTU for elevators, pumps and fire panels; MQTT for lighting; Modbus "
                f"for the vendor profiles in simulators/vendors.py)"
            )
            self.skipped[equipment.id] = reason
            log.warning("not simulating %s: %s", equipment.id, reason)
            return
        try:
            model = create_model(kind, ctx)
        except ValueError as exc:
            raise ConfigError(f"equipment {equipment.id!r}: {exc}") from exc
        try:
            served = served_profile(equipment.profile, model)
        except ConfigError as exc:
            raise ConfigError(f"equipment {equipment.id!r}: {exc}") from exc
        device: SimDevice
        if isinstance(conn, Mqtt):
            publisher = MqttDevice(building, equipment, model, conn.topic)
            self.lighting.append(publisher)
            device = publisher
        else:
            unit = ModbusDevice(building, equipment, model, served)
            self._attach(equipment, conn, unit)
            device = unit
        self.devices[equipment.id] = device

    def _attach(
        self,
        equipment: Equipment,
        conn: ModbusTcp | ModbusRtuOverTcp | ModbusRtu,
        unit: ModbusDevice,
    ) -> None:
        """Put a Modbus device behind its gateway: a TCP address or a serial line."""
        if isinstance(conn, ModbusRtu):
            where = conn.device
            line = LineSettings(conn.baudrate, conn.parity, conn.stopbits, conn.bytesize)
            known = self._lines.setdefault(where, line)
            if known != line:
                raise ConfigError(
                    f"equipment {equipment.id!r} sets serial line {where} to {line.describe()} "
                    f"but another device on it uses {known.describe()}"
                )
            units = self.serial_lines.setdefault(where, {})
            gateway = where
        else:
            address = (conn.host, conn.port)
            framing = "rtu" if isinstance(conn, ModbusRtuOverTcp) else "mbap"
            known_framing = self._framing.setdefault(address, framing)
            if known_framing != framing:
                raise ConfigError(
                    f"equipment {equipment.id!r} uses {conn.type} on {conn.host}:{conn.port}, "
                    f"where other devices use "
                    f"{'modbus_rtu_over_tcp' if known_framing == 'rtu' else 'modbus_tcp'}: one "
                    f"port speaks one framing"
                )
            units = self.gateways.setdefault(address, {})
            where = f"{conn.host}:{conn.port}"
            gateway = gateway_id(address)
        if conn.unit in units:
            raise ConfigError(
                f"equipment {equipment.id!r} and {units[conn.unit].id!r} both use unit "
                f"{conn.unit} on {where}"
            )
        units[conn.unit] = unit
        self._device_gateway[equipment.id] = gateway

    # -- what tests and the control endpoint use ----------------------------------------
    @property
    def models(self) -> dict[str, DeviceModel]:
        return {eid: d.model for eid, d in self.devices.items()}

    @property
    def modbus_addresses(self) -> list[Address]:
        """Every TCP address served (MBAP or RTU framed)."""
        return list(self.gateways)

    @property
    def timezone(self) -> tzinfo:
        return self.tz

    @property
    def gateway_faults(self) -> dict[str, dict[str, FaultParams]]:
        """Gateways with their active faults and each fault's parameters."""
        return self._gateway_faults.active

    def device(self, equipment: str) -> SimDevice:
        try:
            return self.devices[equipment]
        except KeyError:
            raise UnknownEquipment(equipment, self.devices) from None

    def fault_catalogue(self) -> dict[str, list[str]]:
        return fault_catalogue()

    def active_faults(self) -> dict[str, list[str]]:
        """Equipment and gateways with their active faults."""
        active = {eid: list(d.active_faults()) for eid, d in self.devices.items()}
        active.update({gid: list(faults) for gid, faults in self.gateway_faults.items()})
        return {eid: faults for eid, faults in active.items() if faults}

    def inject(
        self, equipment: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        device = self.device(equipment)
        checked = device.inject(fault, params)
        log.info("injected %s into %s %s", fault, device.kind.value, equipment)
        return {
            "equipment": equipment,
            "fault": fault,
            "params": checked,
            "active": device.active_faults(),
        }

    def clear(self, equipment: str, fault: str | None = None) -> dict[str, Any]:
        device = self.device(equipment)
        cleared = device.clear(fault)
        log.info("cleared %s on %s", ", ".join(cleared) or "nothing", equipment)
        return {"equipment": equipment, "cleared": cleared, "active": device.active_faults()}

    def equipment_list(self) -> list[dict[str, Any]]:
        return [
            {
                "id": d.id,
                "kind": d.kind.value,
                "building": d.building.id,
                "powered": d.powered,
                "faults": list(d.active_faults()),
            }
            for d in self.devices.values()
        ]

    def equipment_state(self, equipment: str) -> dict[str, Any]:
        return self.device(equipment).state()

    # -- gateways --------------------------------------------------------------------------
    def service(self, gateway: str) -> ModbusService:
        return self._gateway_faults.service(gateway)

    def gateway_fault_specs(self, gateway: str) -> tuple[FaultSpec, ...]:
        return self._gateway_faults.specs(gateway)

    def inject_gateway(
        self, gateway: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A gateway fault: `port_closed` (TCP) or `slow` (every unit behind it)."""
        return self._gateway_faults.inject(gateway, fault, params)

    def clear_gateway(self, gateway: str, fault: str | None = None) -> dict[str, Any]:
        return self._gateway_faults.clear(gateway, fault)

    def gateway_list(self) -> list[dict[str, Any]]:
        return self._gateway_faults.listing(self.devices)

    # -- what scenarios act on --------------------------------------------------------
    def devices_of(self, building: str) -> list[SimDevice]:
        found = [d for d in self.devices.values() if d.building.id == building]
        if not found:
            raise UnknownBuilding(building, {d.building.id for d in self.devices.values()})
        return found

    def gateways_of(self, building: str) -> list[str]:
        devices = self.devices_of(building)
        ids = [self._device_gateway[d.id] for d in devices if d.id in self._device_gateway]
        return list(dict.fromkeys(ids))

    def write(self, equipment: str, values: Mapping[str, Value]) -> None:
        """Command writes in engineering units (a scenario's `set`)."""
        self.device(equipment).write_values(values)

    def set_power(
        self, equipment: Sequence[str], on: bool, trapped: int | None = None
    ) -> list[str]:
        """Cut (or restore) the supply of these devices at once.

        On a cut, cars running between floors stop there; with `trapped`, at least that
        many cars are caught between floors with passengers aboard (running cars first).
        Returns the ids of the cars left between floors with passengers.
        """
        devices = [self.device(e) for e in equipment]
        if not on and trapped:
            lifts = [d.model for d in devices if isinstance(d.model, ElevatorModel) and d.powered]
            lifts.sort(key=lambda m: not m.between_floors())  # running cars are caught first
            for lift in lifts[:trapped]:
                lift.strand(1 + lift.rng.randrange(4))
        for device in devices:
            device.set_power(on)
        log.info("power %s for %s", "restored" if on else "cut", ", ".join(equipment))
        return [
            d.id
            for d in devices
            if isinstance(d.model, ElevatorModel) and d.model.passenger_trapped()
        ]
