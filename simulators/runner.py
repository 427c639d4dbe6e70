"""Runs the simulated campus: every inventory device on its transport, on simulated time.

Modbus devices are grouped by gateway — a host:port (Modbus TCP, or RTU frames over TCP) or
a serial line (Modbus RTU) — one server per gateway answering each device's unit id;
lighting controllers publish on their vendor topics; the control endpoint injects and clears
faults and starts scenarios. Simulated time advances in fixed quanta (`TICK_S` times the
speed), so a seed and a speed give the same trajectory however the process is scheduled;
scenario steps land on their exact simulated second.

    plantroom sim            → run(settings), blocking until SIGINT/SIGTERM
    async with Simulation(inventory, settings) as sim: ...   (tests, embedding)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType
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
    load_inventory,
)
from plantroom.kinds import Kind
from plantroom.settings import SimSettings
from simulators.control import ControlServer, create_app
from simulators.devices import ModbusDevice, MqttDevice, SimDevice, fault_catalogue
from simulators.errors import (
    SimulatorError,
    UnknownBuilding,
    UnknownEquipment,
    UnknownFault,
    UnknownGateway,
)
from simulators.faults import SERIAL_LINE_FAULTS, TCP_GATEWAY_FAULTS, FaultSpec
from simulators.modbus_server import ModbusService, ModbusTcpServer
from simulators.models import DeviceModel, ModelContext, create_model
from simulators.models.base import FaultParams
from simulators.models.elevator import ElevatorModel
from simulators.publisher import LightingPublisher
from simulators.registers import Value
from simulators.scenario import Scenario, load_scenario
from simulators.scenario_run import ScenarioRun, prune, resolve
from simulators.serial_line import LineSettings, SerialLineServer

log = logging.getLogger(__name__)

TICK_S = 0.1  # real seconds between model updates
MAX_LAG_S = 2.0  # further behind than this, simulated time skips ahead (logged once)
START_TIMEOUT_S = 10.0

Address = tuple[str, int]
ScenarioSource = Scenario | str | Path


def gateway_id(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Simulation:
    """The simulated equipment of one inventory, served while the context is open."""

    def __init__(
        self,
        inventory: Inventory,
        settings: SimSettings,
        *,
        start_time: float | None = None,
        control: bool = True,
    ) -> None:
        self.inventory = inventory
        self.settings = settings
        self.speed = settings.sim_speed
        try:
            tz = ZoneInfo(inventory.site.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"site {inventory.site.id!r}: unknown timezone {inventory.site.timezone!r}"
            ) from exc
        self.start_time = time.time() if start_time is None else start_time
        self.now = self.start_time
        self.tz = tz
        self.devices: dict[str, SimDevice] = {}
        self.gateways: dict[Address, dict[int, ModbusDevice]] = {}  # TCP: MBAP or RTU framed
        self.serial_lines: dict[str, dict[int, ModbusDevice]] = {}
        self.lighting: list[MqttDevice] = []
        self.skipped: dict[str, str] = {}
        self.scenarios: list[ScenarioRun] = []
        self.gateway_faults: dict[str, dict[str, FaultParams]] = {}
        self._framing: dict[Address, str] = {}
        self._lines: dict[str, LineSettings] = {}
        self._device_gateway: dict[str, str] = {}
        for building, equipment in inventory.equipment():
            ctx = ModelContext(
                equipment_id=equipment.id,
                seed=settings.sim_seed,
                start_time=self.start_time,
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
        self._modbus_devices = [d for d in self.devices.values() if isinstance(d, ModbusDevice)]
        self._control = (
            ControlServer(create_app(self), settings.sim_control_host, settings.sim_control_port)
            if control
            else None
        )
        self._publisher = (
            LightingPublisher(self.lighting, settings, settings.sim_publish_interval_s)
            if self.lighting
            else None
        )
        self._task: asyncio.Task[None] | None = None
        self._lag_logged = False

    def _add(self, building: Building, equipment: Equipment, ctx: ModelContext) -> None:
        conn = equipment.connection
        kind = equipment.kind
        lighting = isinstance(conn, Mqtt) and kind is Kind.LIGHTING
        if not lighting and (isinstance(conn, Mqtt) or kind is Kind.LIGHTING):
            reason = (
                f"{kind.value} over {conn.type} is not simulated (Modbus TCP, RTU over TCP or "
                f"serial RTU for elevators, pumps and fire panels; MQTT for lighting)"
            )
            self.skipped[equipment.id] = reason
            log.warning("not simulating %s: %s", equipment.id, reason)
            return
        try:
            model = create_model(kind, ctx)
        except ValueError as exc:
            raise ConfigError(f"equipment {equipment.id!r}: {exc}") from exc
        device: SimDevice
        if isinstance(conn, Mqtt):
            publisher = MqttDevice(building, equipment, model, conn.topic)
            self.lighting.append(publisher)
            device = publisher
        else:
            unit = ModbusDevice(building, equipment, model)
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
    def control_url(self) -> str | None:
        return self._control.url if self._control else None

    @property
    def publisher(self) -> LightingPublisher | None:
        return self._publisher

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

    def service(self, gateway: str) -> ModbusService:
        try:
            return self.services[gateway]
        except KeyError:
            raise UnknownGateway(gateway, self.services) from None

    def gateway_fault_specs(self, gateway: str) -> tuple[FaultSpec, ...]:
        server = self.service(gateway)
        return TCP_GATEWAY_FAULTS if isinstance(server, ModbusTcpServer) else SERIAL_LINE_FAULTS

    def inject_gateway(
        self, gateway: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """A gateway fault: `port_closed` (TCP) or `slow` (every unit behind it)."""
        server = self.service(gateway)
        specs = self.gateway_fault_specs(gateway)
        spec = next((s for s in specs if s.name == fault), None)
        if spec is None:
            raise UnknownFault(gateway, "gateway", fault, [s.name for s in specs])
        checked = spec.validate(params)
        self.gateway_faults.setdefault(gateway, {})[fault] = checked
        self._apply_gateway(server, gateway)
        log.info("injected %s into gateway %s", fault, gateway)
        return {
            "gateway": gateway,
            "fault": fault,
            "params": checked,
            "active": dict(self.gateway_faults.get(gateway, {})),
        }

    def clear_gateway(self, gateway: str, fault: str | None = None) -> dict[str, Any]:
        server = self.service(gateway)
        specs = self.gateway_fault_specs(gateway)
        if fault is not None and fault not in {s.name for s in specs}:
            raise UnknownFault(gateway, "gateway", fault, [s.name for s in specs])
        active = self.gateway_faults.get(gateway, {})
        cleared = [n for n in list(active) if fault is None or n == fault]
        for name in cleared:
            del active[name]
        if not active:
            self.gateway_faults.pop(gateway, None)
        self._apply_gateway(server, gateway)
        log.info("cleared %s on gateway %s", ", ".join(cleared) or "nothing", gateway)
        return {"gateway": gateway, "cleared": cleared, "active": dict(active)}

    def _apply_gateway(self, server: ModbusService, gateway: str) -> None:
        active = self.gateway_faults.get(gateway, {})
        delay = active.get("slow", {}).get("delay_s") if "slow" in active else None
        server.delay = float(delay) if isinstance(delay, int | float) else 0.0
        if isinstance(server, ModbusTcpServer):
            closed = "port_closed" in active
            if closed != server.closed:
                server.set_closed(closed)

    def gateway_list(self) -> list[dict[str, Any]]:
        out = []
        for gid, server in self.services.items():
            units = {
                unit: d.id for unit, d in sorted(server.units.items()) if isinstance(d, SimDevice)
            }
            buildings = sorted({self.devices[e].building.id for e in units.values()})
            entry: dict[str, Any] = {
                "id": gid,
                "framing": server.framing,
                "transport": "serial" if isinstance(server, SerialLineServer) else "tcp",
                "units": units,
                "buildings": buildings,
                "faults": dict(self.gateway_faults.get(gid, {})),
                "requests": server.requests,
            }
            if isinstance(server, ModbusTcpServer):
                entry["listening"] = server.listening
                entry["connections"] = server.connections
            out.append(entry)
        return out

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

    # -- scenarios ---------------------------------------------------------------------
    def run_scenario(self, source: ScenarioSource) -> ScenarioRun:
        """Start a scenario (a file or a loaded `Scenario`) on this simulation's clock.

        Its steps are checked against the inventory first (ConfigError names the file, line
        and step field); steps due at once are applied before this returns. Await
        `run.wait()` for the last step.
        """
        scenario = source if isinstance(source, Scenario) else load_scenario(source)
        run = resolve(scenario, self)
        prune(self.scenarios)
        self.scenarios.append(run)
        log.info(
            "scenario %s (%s): %d steps from simulated %s",
            run.name,
            scenario.source,
            len(run.steps),
            datetime.fromtimestamp(run.t0, self.tz).isoformat(timespec="seconds"),
        )
        run.apply_due(self.now)
        return run

    def start_scenario(self, scenario: Scenario) -> dict[str, Any]:
        """`run_scenario` for the control endpoint: the run's summary."""
        return self.run_scenario(scenario).summary()

    def scenario_list(self) -> list[dict[str, Any]]:
        return [run.summary() for run in self.scenarios]

    def advance(self, dt: float) -> None:
        """Move every device forward `dt` simulated seconds, stopping at scenario steps."""
        end = self.now + dt
        while True:
            due = min((r.next_due() for r in self.scenarios if not r.done), default=math.inf)
            if due > end:
                break
            if due > self.now:
                self._advance_devices(due - self.now)
                self.now = due
            for run in self.scenarios:
                run.apply_due(self.now)
        if end > self.now:
            self._advance_devices(end - self.now)
        self.now = end

    def _advance_devices(self, dt: float) -> None:
        for device in self.devices.values():
            device.advance(dt)

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> Simulation:
        started: list[ModbusTcpServer | SerialLineServer] = []
        try:
            for server in self._servers():
                await server.start()
                started.append(server)
            if self._control:
                self._control.bind()
        except BaseException:
            for server in started:
                await server.close()
            raise
        self._task = asyncio.create_task(self._supervise(), name="simulation")
        await self._wait_started()
        self._log_summary()
        return self

    async def _wait_started(self) -> None:
        if self._control is None:
            return
        assert self._task is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while not self._control.started:
            if self._task.done():
                await self._stop()  # raises what stopped it
                raise SimulatorError("the simulation stopped while starting")
            if loop.time() > deadline:
                await self._stop()
                raise SimulatorError(f"control endpoint did not start within {START_TIMEOUT_S}s")
            await asyncio.sleep(0.01)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers():
            await server.close()

    def _servers(self) -> list[ModbusTcpServer | SerialLineServer]:
        return [
            s for s in self.services.values() if isinstance(s, ModbusTcpServer | SerialLineServer)
        ]

    async def wait(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; raises what stopped the simulation if it failed."""
        assert self._task is not None, "use `async with Simulation(...)` first"
        stopper = asyncio.create_task(stop.wait(), name="stop-signal")
        try:
            await asyncio.wait({stopper, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
        if self._task.done():
            self._task.result()

    async def _supervise(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._tick(), name="sim-clock")
                for server in self._servers():
                    tg.create_task(server.serve(), name=f"modbus {server.address}")
                if self._publisher:
                    tg.create_task(self._publisher.run(), name="lighting-publisher")
                if self._control:
                    tg.create_task(self._control.serve(), name="control")
        except ExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        quantum = TICK_S * self.speed
        due = loop.time()
        while True:
            due += TICK_S
            self.advance(quantum)
            behind = loop.time() - due
            if behind > MAX_LAG_S:
                if not self._lag_logged:
                    log.warning(
                        "simulation is %.1fs behind real time at speed %g; skipping ahead",
                        behind,
                        self.speed,
                    )
                    self._lag_logged = True
                due = loop.time()
            await asyncio.sleep(max(0.0, due - loop.time()))

    def _log_summary(self) -> None:
        for (host, port), units in self.gateways.items():
            ids = _units(units)
            what = "Modbus TCP" if self._framing[(host, port)] == "mbap" else "Modbus RTU over TCP"
            log.info("%s %s:%d serving %d units (%s)", what, host, port, len(units), ids)
        for device, units in self.serial_lines.items():
            line = self._lines[device].describe()
            log.info(
                "Modbus RTU %s (%s) serving %d units (%s)", device, line, len(units), _units(units)
            )
        if self.lighting:
            topics = ", ".join(f"{d.topic} ({d.id})" for d in self.lighting)
            log.info(
                "lighting on mqtt://%s:%d every %gs: %s",
                self.settings.mqtt_host,
                self.settings.mqtt_port,
                self.settings.sim_publish_interval_s,
                topics,
            )
        if self._control:
            log.info(
                "control endpoint %s (GET /faults, POST /inject, POST /clear)", self._control.url
            )
        log.info(
            "simulating %d devices of site %s at speed %g, seed %d",
            len(self.devices),
            self.inventory.site.id,
            self.speed,
            self.settings.sim_seed,
        )


def _units(units: Mapping[int, ModbusDevice]) -> str:
    if len(units) > 12:
        first, last = min(units), max(units)
        return f"{units[first].id} … {units[last].id}, unit ids {first}..{last}"
    return ", ".join(f"{u}={d.id}" for u, d in sorted(units.items()))


def run(settings: SimSettings, scenario: Path | None = None) -> None:
    """`plantroom sim`: serve the inventory's equipment until SIGINT or SIGTERM.

    `scenario` (or the `sim_scenario` setting) starts a scenario file once serving.
    """
    inventory = load_inventory(settings.inventory)
    path = scenario or settings.sim_scenario
    loaded = load_scenario(path) if path is not None else None  # fail before binding ports
    asyncio.run(_main(inventory, settings, loaded))


async def _main(
    inventory: Inventory, settings: SimSettings, scenario: Scenario | None = None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Simulation(inventory, settings) as sim:
            if scenario is not None:
                sim.run_scenario(scenario)
            await sim.wait(stop)
            log.info("stopping")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
