"""How the edge agent stops: within its drain, and without losing a sample.

A stop sends what is queued for up to `PLANTROOM_EDGE_STOP_DRAIN_S`, publishes `offline`,
waits for the broker's acknowledgement of it and disconnects; whatever the broker has not
acknowledged stays in the on-disk queue for the next start. The publisher's PUBACK timeout is
raised to an hour here: a stop that waited it out instead of the acknowledgement would hang
until the test's own timeout fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.agent import EdgeAgent
from edge.buffer import SampleBuffer
from plantroom.topics import edge_status
from stack.services import Mosquitto
from tests.edge.harness import Collector, OnePump, one_pump
from tests.harness import wait_for_async

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

AN_HOUR = 3600.0


@contextlib.asynccontextmanager
async def agent_of(pump: OnePump) -> AsyncIterator[EdgeAgent]:
    """The agent of `pump` for the block, with the hour-long PUBACK timeout, stopped after."""
    agent = EdgeAgent(pump.settings, pump.inv)
    await agent.__aenter__()
    try:
        assert agent.publisher is not None
        agent.publisher.publish_timeout = AN_HOUR
        yield agent
    finally:
        await agent.stop()


def queued_seqs(path: Path) -> list[int]:
    """The seqs of the samples left in the agent's queue file."""
    with SampleBuffer(path, 1000) as left:
        return [s.seq for s in left.pending(0, 100_000) if s.equipment == "pump-1"]


def assert_none_lost(received: set[int], left: list[int]) -> None:
    """Every seq the agent gave out was received by the broker's subscriber or is queued."""
    seqs = sorted(received | set(left))
    assert seqs[0] == 0, "seqs start at 0"
    assert seqs == list(range(seqs[-1] + 1)), "a sample was neither sent nor kept"


async def test_a_stop_ends_on_the_offline_acknowledgement_and_loses_nothing(
    mosquitto: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.publisher")
    async with one_pump(mosquitto, tmp_path) as pump:
        status = edge_status(pump.site, pump.settings.edge_agent_id)
        async with Collector(mosquitto, [pump.tele, status]) as c:
            async with agent_of(pump):
                await c.wait(lambda: len(c.telemetry(pump.tele)) >= 5, 10, "telemetry")
            # one client's QoS 1 messages arrive in order: telemetry sent before `offline`
            # is in before it
            await c.wait(lambda: c.payloads(status)[-1:] == [b"offline"], 15, "offline status")
        received = {m.seq for m in c.telemetry(pump.tele)}
    assert "published offline status" in caplog.text
    assert "not acknowledged" not in caplog.text
    left = queued_seqs(pump.settings.edge_buffer_path)
    assert_none_lost(received, left)


async def test_a_stop_while_the_broker_is_down_keeps_the_queue(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with (
        one_pump(fresh_mosquitto, tmp_path) as pump,
        Collector(fresh_mosquitto, [pump.tele]) as c,
    ):
        async with agent_of(pump) as agent:
            await c.wait(lambda: len(c.telemetry(pump.tele)) >= 3, 10, "telemetry")
            await asyncio.to_thread(fresh_mosquitto.stop)
            depth = agent.buffer_stats().depth
            await wait_for_async(
                lambda: agent.buffer_stats().depth >= depth + 5, "samples queued", within=20
            )
        received = {m.seq for m in c.telemetry(pump.tele)}
    left = queued_seqs(pump.settings.edge_buffer_path)
    assert len(left) >= 5
    assert left == sorted(left)
    assert_none_lost(received, left)
