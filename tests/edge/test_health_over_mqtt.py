"""The agent's EdgeHealth reports on a real broker, with simulated pumps as the devices."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge.agent import EdgeAgent
from plantroom.health import EdgeHealth, parse_edge_health
from plantroom.inventory import Inventory
from plantroom.ports import free_port
from plantroom.topics import edge_health
from stack.services import Mosquitto
from tests.edge.harness import Collector, modbus_pump, one_building, settings_for, simulated
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

# beyond the harness's short commit window and backoffs
TUNING: dict[str, Any] = {
    "edge_offline_retry_max_s": 0.4,
    "edge_health_interval_s": 0.5,
}


def pumps(site: str, port: int, units: dict[str, int]) -> Inventory:
    return one_building(site, [modbus_pump(eq_id, port, unit) for eq_id, unit in units.items()])


def reports(c: Collector, topic: str) -> list[EdgeHealth]:
    return [parse_edge_health(topic, p) for p in c.payloads(topic)]


async def test_health_report_shows_each_devices_poll_figures(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = f"h{uuid.uuid4().hex[:8]}"
    units = {"pump-ok": 1, "pump-mute": 2, "pump-exc": 3}
    inv = pumps(site, free_port(), units)
    s = settings_for(mosquitto, tmp_path, edge_offline_after=2, **TUNING)
    health = edge_health(site, s.edge_agent_id)

    def ready() -> EdgeHealth | None:
        for r in reports(c, health):
            d = r.devices
            if (
                d["pump-ok"]["polls"] >= 5
                and d["pump-mute"]["timeouts"] >= 2
                and d["pump-exc"]["exceptions"] >= 2
                and r.agent["devices_offline"] == 2
            ):
                return r
        return None

    async with simulated(tmp_path, inv) as sim:
        sim.inject("pump-mute", "no_response")
        sim.inject("pump-exc", "exception")
        async with Collector(mosquitto, [health]) as c, EdgeAgent(s, inv) as agent:
            report = await wait_for_async(
                ready, "a health report with every device's figures", within=20
            )
            live = agent.poll_stats()
    ok, mute, exc = (report.devices[k] for k in ("pump-ok", "pump-mute", "pump-exc"))
    assert set(report.devices) == set(units)
    # a healthy device: polled on schedule, nothing failed, latency measured
    assert ok["on_schedule"] > 0 and ok["on_schedule"] + ok["late"] == ok["polls"]
    assert ok["timeouts"] == ok["exceptions"] == ok["errors"] == 0
    assert 0 < ok["poll_latency_p50_ms"] <= ok["poll_latency_p99_ms"] <= ok["poll_latency_max_ms"]
    # latency counts the wait for the shared link, so the healthy unit's worst poll may have
    # queued behind one timed-out request of its silent neighbour, but never behind two
    assert ok["poll_latency_p50_ms"] < 1000 * s.edge_timeout_s
    assert ok["poll_latency_max_ms"] < 2 * 1000 * s.edge_timeout_s
    # a silent unit: timeouts, nothing else; its polls waited out the timeout
    assert mute["timeouts"] >= 2 and mute["exceptions"] == 0
    assert mute["skipped"] >= 1  # a 0.3 s timeout overran its 0.2 s cycle before going offline
    assert mute["poll_latency_max_ms"] >= 0.9 * 1000 * s.edge_timeout_s
    # a unit answering with exception responses
    assert exc["exceptions"] >= 2 and exc["timeouts"] == 0
    a = report.agent
    assert a["devices_online"] == 1 and a["devices_offline"] == 2
    assert a["polls_total"] == ok["polls"] + mute["polls"] + exc["polls"]
    assert a["late_total"] == ok["late"] + mute["late"] + exc["late"]
    assert a["timeouts_total"] == mute["timeouts"] and a["exceptions_total"] == exc["exceptions"]
    assert a["published"] > 0 and a["broker_connected"] == 1 and a["modbus_links"] == 1
    assert a["queue_depth"] >= 0 and a["buffer_dropped"] == 0 and a["vendor_malformed"] == 0
    # the agent's live figures only grow past what a report said
    assert live["pump-ok"].polls >= ok["polls"] and live["pump-mute"].timeouts >= mute["timeouts"]
    seqs = [r.seq for r in reports(c, health)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_health_reports_are_buffered_while_the_broker_is_down(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    site = f"h{uuid.uuid4().hex[:8]}"
    inv = pumps(site, free_port(), {"pump-1": 1})
    s = settings_for(fresh_mosquitto, tmp_path, edge_offline_after=2, **TUNING)
    health = edge_health(site, s.edge_agent_id)
    async with (
        simulated(tmp_path, inv),
        Collector(fresh_mosquitto, [health]) as c,
        EdgeAgent(s, inv) as agent,
    ):
        await wait_for_async(
            lambda: reports(c, health), "a health report before the outage", within=10
        )
        await asyncio.to_thread(fresh_mosquitto.stop)
        down_at = time.time() * 1000
        assert agent.buffer is not None
        await wait_for_async(
            lambda: agent.buffer is not None and agent.buffer.depth >= 10,
            "samples and reports buffered while the broker is down",
            within=20,
        )
        up_at = time.time() * 1000
        await asyncio.to_thread(fresh_mosquitto.start)
        await wait_for_async(
            lambda: any(r.agent["broker_reconnects"] >= 1 for r in reports(c, health)),
            "a report made after the agent reconnected",
            within=20,
        )
    got: dict[int, EdgeHealth] = {}
    for r in reports(c, health):
        got.setdefault(r.seq, r)
    order = list(got)
    assert order == list(range(order[0], order[-1] + 1)), "a health report is missing"
    during = [r for r in got.values() if down_at <= r.ts <= up_at]
    assert during, "reports taken during the outage arrive with their own timestamps"
    assert any(r.agent["queue_depth"] > 0 for r in during), "the reports saw the queue grow"
