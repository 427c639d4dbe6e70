"""Lighting controllers publish their JSON on their vendor topics through a real broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml

from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from plantroom.settings import SimSettings
from simulators.runner import Simulation
from stack.services import Mosquitto

pytestmark = pytest.mark.integration
INTERVAL = 0.2


def write_inventory(path: Path, prefix: str) -> Path:
    inv = {
        "site": {"id": "lit", "timezone": "Asia/Hong_Kong"},
        "buildings": [
            {
                "id": "b1",
                "equipment": [
                    {
                        "id": f"light-{n}",
                        "kind": "lighting",
                        "profile": "lumen-lc4",
                        "connection": {"type": "mqtt", "topic": f"{prefix}/lc{n}/state"},
                    }
                    for n in (1, 2)
                ],
            }
        ],
    }
    file = path / "site.yaml"
    file.write_text(yaml.safe_dump(inv))
    return file


def settings_for(path: Path, broker: Mosquitto) -> SimSettings:
    return SimSettings(
        inventory=path,
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        sim_control_port=free_port(),
        sim_publish_interval_s=INTERVAL,
    )


class Listener:
    """Collects messages from the vendor topics."""

    def __init__(self, broker: Mosquitto, topic_filter: str) -> None:
        self.broker = broker
        self.filter = topic_filter
        self.messages: list[tuple[str, dict[str, Any], float]] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.subscribe(self.filter, qos=1)
            self.ready.set()
            async for msg in client.messages:
                assert isinstance(msg.payload, bytes)
                self.messages.append((str(msg.topic), json.loads(msg.payload), time.monotonic()))

    def since(self, t: float, topic: str) -> list[dict[str, Any]]:
        return [m for tp, m, at in self.messages if at >= t and tp == topic]

    async def wait_for(self, topic: str, count: int, after: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while len(self.since(after, topic)) < count:
            assert time.monotonic() < deadline, f"fewer than {count} messages on {topic}"
            await asyncio.sleep(0.02)
        return self.since(after, topic)


@pytest.fixture
async def listening(
    mosquitto: Mosquitto, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Listener, str]]:
    prefix = f"lumen-{request.node.name[:30]}-{free_port()}"
    listener = Listener(mosquitto, f"{prefix}/+/state")
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(listener.ready.wait(), 10)
    yield listener, prefix
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_lighting_json_on_the_vendor_topic(
    tmp_path: Path, mosquitto: Mosquitto, listening: tuple[Listener, str]
) -> None:
    listener, prefix = listening
    path = write_inventory(tmp_path, prefix)
    t1, t2 = f"{prefix}/lc1/state", f"{prefix}/lc2/state"
    async with Simulation(load_inventory(path), settings_for(path, mosquitto)) as sim:
        start = time.monotonic()
        msgs = await listener.wait_for(t1, 3, start)
        await listener.wait_for(t2, 3, start)
        msg = msgs[-1]
        assert msg["device"] == "lc1"
        assert set(msg) == {"device", "time", "mains_v", "circuits"}
        assert abs(msg["time"] - time.time() * 1000) < 5000
        assert 220 < msg["mains_v"] < 240
        assert [c["n"] for c in msg["circuits"]] == [1, 2, 3, 4]
        assert msg["circuits"][3]["on"] is True and msg["circuits"][3]["power_w"] > 0

        sim.inject("light-1", "circuit_trip", {"circuit": 4})
        sim.inject("light-1", "lamp_failure", {"circuit": 3, "lamps": 2})
        t = time.monotonic()
        c = (await listener.wait_for(t1, 1, t))[0]["circuits"]
        assert (c[3]["tripped"], c[3]["on"], c[3]["power_w"]) == (True, False, 0.0)
        assert c[2]["failed"] == 2

        sim.inject("light-2", "offline")
        t = time.monotonic()
        await listener.wait_for(t1, 5, t)  # light-1 keeps talking ...
        assert listener.since(t + INTERVAL, t2) == []  # ... light-2 has gone quiet
        sim.clear("light-2")
        sim.clear("light-1")
        t = time.monotonic()
        assert (await listener.wait_for(t2, 1, t))[0]["device"] == "lc2"
        c = (await listener.wait_for(t1, 1, t))[0]["circuits"]
        assert c[3]["tripped"] is False and c[2]["failed"] == 0


async def test_publishing_resumes_after_a_broker_outage(
    tmp_path: Path, fresh_mosquitto: Mosquitto
) -> None:
    path = write_inventory(tmp_path, "outage")
    async with Simulation(load_inventory(path), settings_for(path, fresh_mosquitto)) as sim:
        publisher = sim.publisher
        assert publisher is not None
        await asyncio.wait_for(publisher.connected.wait(), 10)
        fresh_mosquitto.stop()
        deadline = time.monotonic() + 10
        while publisher.connected.is_set():
            assert time.monotonic() < deadline, "publisher did not notice the broker going"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(fresh_mosquitto.start)
        await asyncio.wait_for(publisher.connected.wait(), 20)
        before = publisher.published
        deadline = time.monotonic() + 10
        while publisher.published < before + 4:
            assert time.monotonic() < deadline, "no messages after the broker came back"
            await asyncio.sleep(0.05)
