"""Runs the simulated campus: every inventory device on its transport, on simulated time.

Modbus devices are grouped by host:port, one gateway-like server per address answering each
device's unit id; lighting controllers publish on their vendor topics; the control endpoint
injects and clears faults. Simulated time advances in fixed quanta (`TICK_S` times the speed), so a
seed and a speed give the same trajectory however the process is scheduled.

    plantroom sim            → run(settings), blocking until SIGINT/SIGTERM
    async with Simulation(inventory, settings) as sim: ...   (tests, embedding)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plantroom.errors import ConfigError
from plantroom.inventory import Building, Equipment, Inventory, ModbusTcp, Mqtt, load_inventory
from plantroom.kinds import Kind
from plantroom.settings import SimSettings
from simulators.control import ControlServer, create_app
from simulators.devices import ModbusDevice, MqttDevice, SimDevice, fault_catalogue
from simulators.errors import SimulatorError, UnknownEquipment
from simulators.modbus_server import ModbusTcpServer
from simulators.models import DeviceModel, ModelContext, create_model
from simulators.publisher import LightingPublisher

log = logging.getLogger(__name__)

TICK_S = 0.1  # real seconds between model updates
MAX_LAG_S = 2.0  # further behind than this, simulated time skips ahead (logged once)
START_TIMEOUT_S = 10.0

Address = tuple[str, int]


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
        self.devices: dict[str, SimDevice] = {}
        self.gateways: dict[Address, dict[int, ModbusDevice]] = {}
        self.lighting: list[MqttDevice] = []
        self.skipped: dict[str, str] = {}
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
        self._servers = [ModbusTcpServer(h, p, units) for (h, p), units in self.gateways.items()]
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
        if not lighting and not (isinstance(conn, ModbusTcp) and kind is not Kind.LIGHTING):
            reason = (
                f"{kind.value} over {conn.type} is not simulated (Modbus TCP for elevators, "
                f"pumps and fire panels; MQTT for lighting)"
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
            assert isinstance(conn, ModbusTcp)
            units = self.gateways.setdefault((conn.host, conn.port), {})
            if conn.unit in units:
                raise ConfigError(
                    f"equipment {equipment.id!r} and {units[conn.unit].id!r} both use unit "
                    f"{conn.unit} on {conn.host}:{conn.port}"
                )
            unit = ModbusDevice(building, equipment, model)
            units[conn.unit] = unit
            device = unit
        self.devices[equipment.id] = device

    # -- what tests and the control endpoint use ----------------------------------------
    @property
    def models(self) -> dict[str, DeviceModel]:
        return {eid: d.model for eid, d in self.devices.items()}

    @property
    def modbus_addresses(self) -> list[Address]:
        return list(self.gateways)

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
        active = {eid: list(d.active_faults()) for eid, d in self.devices.items()}
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
                "faults": list(d.active_faults()),
            }
            for d in self.devices.values()
        ]

    def equipment_state(self, equipment: str) -> dict[str, Any]:
        return self.device(equipment).state()

    def advance(self, dt: float) -> None:
        """Move every device forward `dt` simulated seconds."""
        for device in self.devices.values():
            device.advance(dt)
        self.now += dt

    # -- lifecycle -----------------------------------------------------------------------
    async def __aenter__(self) -> Simulation:
        started: list[ModbusTcpServer] = []
        try:
            for server in self._servers:
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
        for server in self._servers:
            await server.close()

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
                for server in self._servers:
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
            ids = ", ".join(f"{u}={d.id}" for u, d in sorted(units.items()))
            log.info("Modbus TCP %s:%d serving %d units (%s)", host, port, len(units), ids)
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


def run(settings: SimSettings) -> None:
    """`plantroom sim`: serve the inventory's equipment until SIGINT or SIGTERM."""
    inventory = load_inventory(settings.inventory)
    asyncio.run(_main(inventory, settings))


async def _main(inventory: Inventory, settings: SimSettings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Simulation(inventory, settings) as sim:
            await sim.wait(stop)
            log.info("stopping")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
