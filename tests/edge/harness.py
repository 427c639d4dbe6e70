"""The edge agent's test harness: settings for an agent on a test broker, the simulators
serving an inventory, and a subscriber that keeps everything the agent publishes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt

from plantroom.inventory import Inventory
from plantroom.schema import Telemetry, parse_telemetry
from plantroom.settings import EdgeSettings, SimSettings
from simulators.runner import Simulation
from stack.services import Mosquitto
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
