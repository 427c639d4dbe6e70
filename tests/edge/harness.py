"""The edge agent's test harness: settings for an agent on a test broker, the simulators
serving an inventory, a subscriber that keeps everything the agent publishes, and one pump
of a site of its own served by the test's Modbus device."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from edge.agent import EdgeAgent
from plantroom.inventory import Inventory
from plantroom.schema import Telemetry, parse_telemetry
from plantroom.settings import EdgeSettings, SimSettings
from simulators.runner import Simulation
from stack.services import Mosquitto
from tests.edge.device import ModbusDevice, pump_unit
from tests.harness import wait_for_async


def one_building(site: str, equipment: list[dict[str, Any]]) -> Inventory:
    """An inventory of site `site` (UTC) whose one building, b1, holds `equipment`."""
    return Inventory.model_validate(
        {"site": {"id": site}, "buildings": [{"id": "b1", "equipment": equipment}]}
    )


def simulated_device(eq_id: str, kind: str, connection: dict[str, Any]) -> dict[str, Any]:
    """Equipment `eq_id` of `kind` with the simulator's profile, reached over `connection`."""
    profile = f"plantroom-sim-{kind.replace('_', '-')}"
    return {"id": eq_id, "kind": kind, "profile": profile, "connection": connection}


def modbus_pump(eq_id: str, port: int, unit: int) -> dict[str, Any]:
    """A simulated pump at `unit` of the Modbus TCP server on 127.0.0.1:`port`."""
    connection = {"type": "modbus_tcp", "host": "127.0.0.1", "port": port, "unit": unit}
    return simulated_device(eq_id, "pump", connection)


def settings_for(broker: Mosquitto, tmp_path: Path, **kw: Any) -> EdgeSettings:
    """An agent on `broker` with a buffer in `tmp_path`, polling every 0.2 s with short
    timeouts and backoffs; `kw` overrides any setting."""
    base: dict[str, Any] = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "inventory": tmp_path / "unused.yaml",
        "edge_agent_id": f"edge-{uuid.uuid4().hex[:8]}",
        "edge_buffer_path": tmp_path / "edge" / "buffer.sqlite",
        "edge_poll_interval_s": 0.2,
        "edge_timeout_s": 0.3,
        "edge_commit_interval_s": 0.05,
        "edge_backoff_initial_s": 0.1,
        "edge_backoff_max_s": 0.4,
    }
    base.update(kw)
    return EdgeSettings(**base)


def sim_settings(tmp_path: Path) -> SimSettings:
    """The simulators with their clock all but stopped: the devices hold still."""
    return SimSettings(inventory=tmp_path / "unused.yaml", sim_speed=1e-6)


@contextlib.asynccontextmanager
async def simulated(tmp_path: Path, inv: Inventory) -> AsyncIterator[Simulation]:
    """The simulators serving `inv`'s Modbus devices."""
    async with Simulation(inv, sim_settings(tmp_path), control=False) as sim:
        yield sim


class Collector:
    """Subscribes (persistent session, QoS 1) and keeps every message, reconnecting as needed."""

    def __init__(self, broker: Mosquitto, topics: list[str]) -> None:
        self.broker = broker
        self.topics = topics
        self.messages: list[tuple[str, bytes, bool]] = []
        self.client_id = f"collector-{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    self.broker.host,
                    self.broker.port,
                    identifier=self.client_id,
                    clean_session=False,
                ) as client:
                    for t in self.topics:
                        await client.subscribe(t, qos=1)
                    self.ready.set()
                    async for m in client.messages:
                        assert isinstance(m.payload, bytes)
                        self.messages.append((m.topic.value, m.payload, m.retain))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    async def __aenter__(self) -> Collector:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def telemetry(self, topic: str) -> list[Telemetry]:
        return [parse_telemetry(t, p) for t, p, _ in self.messages if t == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t == topic]

    async def wait(self, probe: Callable[[], Any], within: float, what: str) -> Any:
        return await wait_for_async(probe, what, within=within)


def settings(broker: Mosquitto, tmp_path: Path, **kw: Any) -> EdgeSettings:
    return settings_for(
        broker, tmp_path, **{"edge_poll_interval_s": 0.1, "edge_offline_after": 2, **FAST, **kw}
    )


@dataclass
class OnePump:
    """A site of its own whose pump-1 is unit 11 of a simulated Modbus device."""

    site: str
    inv: Inventory
    settings: EdgeSettings
    tele: str


@contextlib.asynccontextmanager
async def one_pump(broker: Mosquitto, tmp_path: Path) -> AsyncIterator[OnePump]:
    """One pump served by a Modbus device for the block, the agent's settings on `broker`."""
    site = site_id()
    async with ModbusDevice({11: pump_unit()}) as device:
        inv = one_building(site, [modbus_pump("pump-1", device.port, 11)])
        yield OnePump(site, inv, settings(broker, tmp_path), topic(site, "pump-1", "telemetry"))


# agent tuning for tests: short commit window, backoffs and staleness
FAST: dict[str, Any] = {
    "edge_commit_interval_s": 0.05,
    "edge_backoff_initial_s": 0.1,
    "edge_backoff_max_s": 0.4,
    "edge_offline_retry_max_s": 0.4,
    "edge_mqtt_stale_after_s": 1.0,
}


def topic(site: str, eq: str, leaf: str, kind: str = "pump") -> str:
    return f"plantroom/v1/{site}/b1/{kind}/{eq}/{leaf}"


def site_id() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def running(s: EdgeSettings, inv: Inventory) -> AsyncIterator[EdgeAgent]:
    async with EdgeAgent(s, inv) as agent:
        yield agent
