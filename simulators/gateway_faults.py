"""Faults of a whole gateway: every unit behind one Modbus TCP port or one serial line.

A TCP gateway can have its port closed (`port_closed`: connections refused until cleared)
and any gateway can answer slowly (`slow`: a delay before every reply). Gateways are named
as the control endpoint names them: `host:port` (`[host]:port` for IPv6) or the serial
device.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from simulators.devices import SimDevice
from simulators.errors import UnknownFault, UnknownGateway
from simulators.faults import SERIAL_LINE_FAULTS, TCP_GATEWAY_FAULTS, FaultSpec
from simulators.modbus_server import ModbusService, ModbusTcpServer
from simulators.models.base import FaultParams
from simulators.serial_line import SerialLineServer

log = logging.getLogger(__name__)


class GatewayFaults:
    """The active faults of each gateway, applied to the server that plays it."""

    def __init__(self, services: Mapping[str, ModbusService]) -> None:
        self.services = services
        self.active: dict[str, dict[str, FaultParams]] = {}

    def service(self, gateway: str) -> ModbusService:
        try:
            return self.services[gateway]
        except KeyError:
            raise UnknownGateway(gateway, self.services) from None

    def specs(self, gateway: str) -> tuple[FaultSpec, ...]:
        server = self.service(gateway)
        return TCP_GATEWAY_FAULTS if isinstance(server, ModbusTcpServer) else SERIAL_LINE_FAULTS

    def inject(
        self, gateway: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        checked = self._spec(gateway, fault).validate(params)
        self.active.setdefault(gateway, {})[fault] = checked
        self._apply(gateway)
        log.info("injected %s into gateway %s", fault, gateway)
        return {
            "gateway": gateway,
            "fault": fault,
            "params": checked,
            "active": dict(self.active.get(gateway, {})),
        }

    def clear(self, gateway: str, fault: str | None = None) -> dict[str, Any]:
        if fault is None:
            self.service(gateway)  # UnknownGateway before anything changes
        else:
            self._spec(gateway, fault)
        active = self.active.get(gateway, {})
        cleared = [n for n in list(active) if fault is None or n == fault]
        for name in cleared:
            del active[name]
        if not active:
            self.active.pop(gateway, None)
        self._apply(gateway)
        log.info("cleared %s on gateway %s", ", ".join(cleared) or "nothing", gateway)
        return {"gateway": gateway, "cleared": cleared, "active": dict(active)}

    def _spec(self, gateway: str, fault: str) -> FaultSpec:
        """The gateway's spec of `fault`; UnknownGateway or UnknownFault if either is unknown."""
        specs = self.specs(gateway)
        for spec in specs:
            if spec.name == fault:
                return spec
        raise UnknownFault(gateway, "gateway", fault, [s.name for s in specs])

    def _apply(self, gateway: str) -> None:
        server = self.service(gateway)
        active = self.active.get(gateway, {})
        delay = active.get("slow", {}).get("delay_s") if "slow" in active else None
        server.delay = float(delay) if isinstance(delay, int | float) else 0.0
        if isinstance(server, ModbusTcpServer):
            closed = "port_closed" in active
            if closed != server.closed:
                server.set_closed(closed)

    def listing(self, devices: Mapping[str, SimDevice]) -> list[dict[str, Any]]:
        """Each gateway: framing, transport, units by unit id, buildings, faults, traffic."""
        out = []
        for gid, server in self.services.items():
            units = {
                unit: d.id for unit, d in sorted(server.units.items()) if isinstance(d, SimDevice)
            }
            buildings = sorted({devices[e].building.id for e in units.values()})
            entry: dict[str, Any] = {
                "id": gid,
                "framing": server.framing,
                "transport": "serial" if isinstance(server, SerialLineServer) else "tcp",
                "units": units,
                "buildings": buildings,
                "faults": dict(self.active.get(gid, {})),
                "requests": server.requests,
            }
            if isinstance(server, ModbusTcpServer):
                entry["listening"] = server.listening
                entry["connections"] = server.connections
            out.append(entry)
        return out
