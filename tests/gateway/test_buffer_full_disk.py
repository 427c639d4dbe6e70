"""The gateway with InfluxDB down and its disk buffer's disk full: batches wait unacknowledged
(nothing lost, the broker keeps what follows), the condition is logged and shown in the
stats, and every point reaches InfluxDB once the disk has room and InfluxDB is back. Real
mosquitto, influxd and a real (tmpfs) file system filled with a ballast file; skipped where
a tmpfs cannot be mounted."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from chaos.disk import Tmpfs
from gateway.retry import RetryPolicy
from gateway.service import Gateway
from stack.services import Influxd, Mosquitto
from tests.gateway.harness import payload, publisher, seqs, settings_for, topic
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration

RETRY = RetryPolicy(first_s=0.05, max_s=0.3, direct_attempts=1)
MESSAGES = 300


@pytest.mark.timeout(120)
@pytest.mark.parametrize("back_first", ["room", "influxdb"])
async def test_a_full_buffer_disk_holds_batches_unacknowledged_and_loses_nothing(
    back_first: str,
    fresh_mosquitto: Mosquitto,
    fresh_influxd: Influxd,
    small_disk: Tmpfs,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = unique("site")
    settings = settings_for(
        fresh_mosquitto, fresh_influxd, tmp_path, gateway_buffer_dir=small_disk.path
    )
    pump = topic(site, "b1", "pump", "p1")
    caplog.set_level(logging.WARNING, logger="gateway.buffer")
    async with Gateway(settings, retry=RETRY, session_expiry_s=300) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        fresh_influxd.kill()
        small_disk.fill()
        with publisher(fresh_mosquitto) as pub:
            for seq in range(MESSAGES):
                pub.publish(pump, payload(seq, {"flow": seq / 2}))
            await wait_for_async(
                lambda: gw.stats.buffer_full == 1, "the gateway to see the full disk"
            )
            await wait_for_async(
                lambda: gw.stats.buffer_full_errors >= 3, "the gateway to retry the full disk"
            )
            assert gw.stats.acked < MESSAGES
            assert "holding the batch unacknowledged" in caplog.text

            if back_first == "room":
                small_disk.drain()
                await wait_for_async(
                    lambda: gw.stats.buffer_full == 0, "room on the disk again", 30
                )
                assert "has room again" in caplog.text
                fresh_influxd.start()
            else:  # the held batches go to InfluxDB directly, the disk still full
                fresh_influxd.start()
                await wait_for_async(
                    lambda: gw.stats.buffer_full == 0, "the held batches written", 30
                )
                assert "went to InfluxDB" in caplog.text

            async def all_stored() -> bool:
                return await seqs(fresh_influxd, settings.influx_database, site) == list(
                    range(MESSAGES)
                )

            await wait_for_async(all_stored, "every point in InfluxDB exactly once", 60)
            await pub.flush()
    assert gw.stats.acked >= MESSAGES
