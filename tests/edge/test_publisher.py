"""The publisher on its own against a real broker: a backlog leaves the buffer in order,
through a bounded window of unacknowledged samples, and rows go only once acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from edge.availability import Availability
from edge.buffer import SampleBuffer
from edge.publisher import Publisher
from plantroom.settings import EdgeSettings
from stack.services import Mosquitto
from tests.edge.harness import Collector
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000


async def test_a_backlog_drains_in_order_through_the_window(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = f"p{uuid.uuid4().hex[:8]}"
    agent_id = f"edge-{uuid.uuid4().hex[:8]}"
    tele = f"plantroom/v1/{site}/b1/pump/pump-1/telemetry"
    status = f"plantroom/v1/{site}/b1/pump/pump-1/status"
    settings = EdgeSettings(mqtt_host=mosquitto.host, mqtt_port=mosquitto.port)
    with SampleBuffer(tmp_path / "buffer.sqlite", 10_000, commit_interval_s=60) as buffer:
        for i in range(600):
            buffer.append("pump-1", tele, T0 + i, {"speed": i})
        buffer.commit()
        publisher = Publisher(settings, buffer, site=site, agent_id=agent_id, window=7)
        buffer.on_commit = publisher.notify
        change = Availability("pump-1", 2).succeeded(T0)
        assert change is not None
        publisher.set_status(status, change)  # queued while not connected
        async with Collector(mosquitto, [tele, status]) as c:
            task = asyncio.create_task(publisher.run())
            try:
                await wait_for_async(
                    lambda: len(c.payloads(tele)) >= 600, "the whole backlog", within=30
                )
                await wait_for_async(lambda: buffer.depth == 0, "the buffer emptied", within=10)
                for i in range(600, 650):  # and what comes after, as it is committed
                    buffer.append("pump-1", tele, T0 + i, {"speed": i})
                buffer.commit()
                await wait_for_async(
                    lambda: len(c.payloads(tele)) >= 650, "the new samples", within=10
                )
                await wait_for_async(
                    lambda: buffer.depth == 0, "the buffer emptied again", within=10
                )
            finally:
                publisher.request_stop()
                await asyncio.wait_for(task, 15)
        got = c.telemetry(tele)
        assert [m.seq for m in got] == list(range(650))  # in order, none twice, none lost
        assert [m.ts for m in got] == [T0 + i for i in range(650)]
        assert 1 < publisher.stats.max_in_flight <= 7
        assert publisher.stats.published == 650
        assert publisher.stats.statuses_published == 1
        assert c.payloads(status) and b'"status":"online"' in c.payloads(status)[0]
        assert publisher.in_flight == 0 and not publisher.stats.connected
