"""Runs the simulated campus: every inventory device on its transport, on simulated time.

A `Simulation` is a `Campus` (simulators/campus.py: the devices wired to their gateways)
served: one Modbus server per gateway, the lighting publisher, the control endpoint that
injects and clears faults and starts scenarios. Simulated time advances in fixed quanta
(`TICK_S` times the speed), so a seed and a speed give the same trajectory however the
process is scheduled; scenario steps land on their exact simulated second.

    plantroom sim            → run(settings), blocking until SIGINT/SIGTERM
    async with Simulation(inventory, settings) as sim: ...   (tests, embedding)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from plantroom.inventory import Inventory, load_inventory
from plantroom.settings import SimSettings
from plantroom.signals import stop_on_signals
from plantroom.sitecheck import check_inventory, enforce
from simulators.campus import Campus
from simulators.control import ControlServer, create_app
from simulators.devices import ModbusDevice
from simulators.errors import SimulatorError
from simulators.modbus_server import ModbusTcpServer
from simulators.publisher import LightingPublisher
from simulators.scenario import Scenario, load_scenario
from simulators.scenario_run import ScenarioRun, prune, resolve
from simulators.serial_line import SerialLineServer

log = logging.getLogger(__name__)

TICK_S = 0.1  # real seconds between model updates
MAX_LAG_S = 2.0  # further behind than this, simulated time skips ahead (logged once)
START_TIMEOUT_S = 10.0

ScenarioSource = Scenario | str | Path


class Simulation(Campus):
    """The simulated equipment of one inventory, served while the context is open."""

    def __init__(
        self,
        inventory: Inventory,
        settings: SimSettings,
        *,
        start_time: float | None = None,
        control: bool = True,
    ) -> None:
        super().__init__(inventory, settings, time.time() if start_time is None else start_time)
        self.speed = settings.sim_speed
        self.now = self.start_time
        self.scenarios: list[ScenarioRun] = []
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

    @property
    def control_url(self) -> str | None:
        return self._control.url if self._control else None

    @property
    def publisher(self) -> LightingPublisher | None:
        return self._publisher

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
    enforce(check_inventory(settings.inventory, profiles=False), log)
    inventory = load_inventory(settings.inventory)
    path = scenario or settings.sim_scenario
    loaded = load_scenario(path) if path is not None else None  # fail before binding ports
    asyncio.run(_main(inventory, settings, loaded))


async def _main(
    inventory: Inventory, settings: SimSettings, scenario: Scenario | None = None
) -> None:
    with stop_on_signals() as stop:
        async with Simulation(inventory, settings) as sim:
            if scenario is not None:
                sim.run_scenario(scenario)
            await sim.wait(stop)
            log.info("stopping")
