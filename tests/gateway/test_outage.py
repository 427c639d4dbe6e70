"""InfluxDB killed (SIGKILL) for 60 s under steady load and restarted: every point arrives once.

A publisher sends a few hundred QoS 1 messages a second across many pumps, each message with
its per-pump `seq` and a timestamp derived from it. influxd is killed, kept down for 60 s
while publishing goes on, restarted on the same data directory and port, and publishing
stops shortly after. Then, per pump, the set of `seq` in InfluxDB must be exactly the set
published and `count(seq)` the number published, and the disk buffer must have carried the
outage and be empty.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.retry import RetryPolicy
from gateway.service import Gateway
from stack.services import Influxd, Mosquitto
from tests.gateway.harness import BASE_TS, Publisher, payload, publisher, settings_for, topic
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration

PUMPS = 40
RATE = 400  # messages per second, across all pumps
TICK_S = 0.05
BEFORE_S = 3.0  # steady state before the kill
DOWN_S = 60.0  # the outage the issue asks for
AFTER_S = 3.0  # publishing goes on this long after the restart
RETRY = RetryPolicy(first_s=0.1, max_s=1.0, direct_attempts=2)


class SteadyLoad:
    """Publishes RATE messages a second round-robin over the pumps until stopped."""

    def __init__(self, pub: Publisher, site: str) -> None:
        self.pub = pub
        self.topics = [topic(site, "b1", "pump", f"p{i:02d}") for i in range(PUMPS)]
        self.published = [0] * PUMPS
        self.total = 0
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        per_tick = round(RATE * TICK_S)
        next_tick = time.monotonic()
        while not self._stop.is_set():
            for _ in range(per_tick):
                pump = self.total % PUMPS
                seq = self.published[pump]
                body = payload(seq, {"speed": seq, "flow": seq / 4}, ts=BASE_TS + seq * 100)
                self.pub.publish(self.topics[pump], body)
                self.published[pump] = seq + 1
                self.total += 1
            next_tick += TICK_S
            # pacing of the load, not synchronisation: the stop event ends it at once
            try:
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    await self._stop.wait()
            except TimeoutError:
                pass


async def seqs_by_pump(influx: Influxd, db: str, site: str, q: str) -> dict[str, list[Any]]:
    """{pump: [values of the query's first column]} for a `... GROUP BY equipment` query."""
    async with httpx.AsyncClient(base_url=influx.url, timeout=30) as client:
        resp = await client.get("/query", params={"db": db, "q": q, "epoch": "ms"})
    resp.raise_for_status()
    out: dict[str, list[Any]] = {}
    for result in resp.json()["results"]:
        assert "error" not in result, result["error"]
        for series in result.get("series", []):
            assert not series.get("partial"), "InfluxDB cut the result short"
            out[series["tags"]["equipment"]] = [values[1] for values in series["values"]]
    return out


@pytest.mark.timeout(300)
async def test_influxdb_killed_for_60s_under_load_every_point_arrives_exactly_once(
    fresh_mosquitto: Mosquitto, fresh_influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(fresh_mosquitto, fresh_influxd, tmp_path, gateway_flush_interval_s=0.5)
    db = settings.influx_database
    port, data_dir = fresh_influxd.port, fresh_influxd.data_dir
    restarter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="influxd-restart")
    try:
        async with Gateway(settings, retry=RETRY, session_expiry_s=0) as gw:
            async with asyncio.timeout(10):
                await gw.wait_subscribed()
            with publisher(fresh_mosquitto) as pub:
                load = SteadyLoad(pub, site)
                publishing = asyncio.create_task(load.run(), name="steady-load")
                try:
                    await wait_for_async(
                        lambda: gw.stats.lines_written >= RATE * BEFORE_S,
                        "the steady state written to InfluxDB",
                        within=20.0,
                    )

                    fresh_influxd.kill()
                    killed = time.monotonic()
                    at_kill = load.total
                    await wait_for_async(
                        lambda: not gw.influx_up and gw.stats.buffer_depth > 0,
                        "the outage noticed and batches going to the disk buffer",
                        within=20.0,
                    )
                    await asyncio.sleep(max(0.0, killed + DOWN_S - time.monotonic()))
                    # still down: what was published since the kill is acknowledged, so held
                    # in the disk buffer (InfluxDB cannot have it), not in memory
                    while_down = load.total
                    await wait_for_async(
                        lambda: gw.stats.acked >= while_down,
                        "the outage's messages acknowledged while InfluxDB is down",
                        within=20.0,
                    )
                    assert not gw.influx_up
                    assert gw.stats.buffer_depth >= while_down - at_kill
                    assert while_down - at_kill >= RATE * DOWN_S / 2  # the load went on

                    await asyncio.get_running_loop().run_in_executor(restarter, fresh_influxd.start)
                    assert (fresh_influxd.port, fresh_influxd.data_dir) == (port, data_dir)
                    resumed = time.monotonic()
                    await wait_for_async(
                        lambda: time.monotonic() - resumed >= AFTER_S and gw.influx_up,
                        "InfluxDB taking writes again",
                        within=30,
                    )
                finally:
                    load.stop()
                    await publishing
                await pub.flush()
            published = load.published
            total = load.total

            await wait_for_async(
                lambda: gw.stats.acked == total and gw.stats.buffer_depth == 0,
                "every message acknowledged and the disk buffer drained",
                within=90,
            )
            assert gw.stats.buffered_lines >= while_down - at_kill
            assert gw.stats.write_errors >= 1
            assert gw.stats.dead_letters == 0
            assert gw.stats.buffer_dropped == 0
            assert not any(gw.buffer.directory.glob("seg-*.plb"))
    finally:
        restarter.shutdown(wait=True)

    where = f"FROM pump WHERE site = '{site}' GROUP BY equipment"
    stored = await seqs_by_pump(fresh_influxd, db, site, f"SELECT seq {where}")
    counts = await seqs_by_pump(fresh_influxd, db, site, f"SELECT count(seq) {where}")
    expected = {f"p{i:02d}": published[i] for i in range(PUMPS)}
    assert sum(expected.values()) == total
    assert set(stored) == set(expected)
    for pump, n in expected.items():
        assert set(stored[pump]) == set(range(n)), f"{pump}: a gap in seq"
        assert len(stored[pump]) == n, f"{pump}: a duplicate point"
        assert counts[pump] == [n], f"{pump}: count(seq) {counts[pump]} != {n}"
