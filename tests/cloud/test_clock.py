"""Sample times against the cloud's clock, end to end through a real mosquitto: a time far
ahead is refused and cannot hide a real fault; an edge agent's clock skew is measured."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from cloud.clockskew import CLEAR_REPORTS
from tests.cloud.harness import LiveSite
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_a_sample_stamped_in_2100_is_refused_and_the_real_fault_stays_visible(
    live_site: LiveSite,
) -> None:
    site = live_site
    async with site.serving() as (api, mqtt):
        pump = site.topic("pump-a1", "pump")
        await mqtt.publish(pump, site.telemetry({"dry_run": True}), qos=1)
        [alarm] = await wait_for_async(
            lambda: site.active_alarms(api), "the dry-run alarm", within=15.0
        )
        assert alarm["rule_id"] == "pump.dry_run"

        # the message of the security review: one forged sample, stamped just before 2100
        forged = {"ts": 4_102_444_700_000, "seq": 0, "points": {"dry_run": False}}
        await mqtt.publish(pump, json.dumps(forged).encode(), qos=1)

        async def refused() -> bool:
            return bool((await api.get("/api/health")).json()["mqtt"]["future"] == 1)

        await wait_for_async(refused, "the forged sample to be refused and counted", within=15.0)
        # the pump is still running dry, and the samples that say so are still taken
        for _ in range(3):
            await mqtt.publish(pump, site.telemetry({"dry_run": True}), qos=1)
        eq = await wait_for_async(
            lambda: site.caught_up(api, "pump-a1"),
            "the real samples after the forged one",
            within=15.0,
        )
        assert eq["last_values"]["dry_run"] is True
        assert eq["last_sample_at"] < "2099"
        [still] = await wait_for_async(lambda: site.active_alarms(api), "the alarm", within=15.0)
        assert still["id"] == alarm["id"]


async def test_each_edge_agents_clock_skew_is_measured_from_its_health_reports(
    live_site: LiveSite,
) -> None:
    site = live_site
    async with site.serving() as (api, mqtt):
        ahead_ms = 120_000  # this agent's clock runs two minutes fast
        for seq in range(5):
            report = {
                "ts": int(time.time() * 1000) + ahead_ms,
                "seq": seq,
                "agent": {"uptime_s": float(seq)},
            }
            topic = f"plantroom/v1/{site.site}/edge/edge-fast/health"
            await mqtt.publish(topic, json.dumps(report).encode(), qos=1)

        async def measured() -> Any:
            clocks = (await api.get("/api/health")).json()["mqtt"]["edge_clocks"]
            return clocks if clocks and clocks[0]["reports"] == 5 else None

        [clock] = await wait_for_async(measured, "the agent's clock to be measured", within=15.0)
        assert clock["agent"] == "edge-fast"
        # receive time - report time: two minutes fast, less a delivery delay
        assert -120.0 <= clock["skew_s"] < -110.0


async def test_an_edge_agent_with_its_clock_beyond_the_bound_degrades_the_health(
    live_site: LiveSite,
) -> None:
    site = live_site
    # a clock behind is judged once it has looked so for this long (a minute by default)
    site.settings = site.settings.model_copy(update={"edge_clock_behind_for_s": 2.0})
    topic = f"plantroom/v1/{site.site}/edge/edge-slow/health"

    async def report(seq: int, behind_ms: int) -> None:
        agent = {"uptime_s": float(seq)}
        body = {"ts": int(time.time() * 1000) - behind_ms, "seq": seq, "agent": agent}
        await mqtt.publish(topic, json.dumps(body).encode(), qos=1)

    async with site.serving() as (api, mqtt):
        assert (await api.get("/api/health")).json()["status"] == "ok"
        for seq in range(4):  # this agent's clock runs ten minutes slow
            await report(seq, 600_000)
            await asyncio.sleep(1.0)

        async def degraded() -> Any:
            body = (await api.get("/api/health")).json()
            return body if body["status"] == "degraded" else None

        body = await wait_for_async(degraded, "the health to name the slow clock", within=15.0)
        [problem] = body["problems"]
        assert problem.startswith("edge agent 'edge-slow': clock 60")
        assert problem.endswith("s behind the cloud's, beyond the 300 s allowed")
        [clock] = body["mqtt"]["edge_clocks"]
        assert clock["off"] is True

        for seq in range(3, 3 + 30):  # set right: the window fills with good reports
            await report(seq, 0)

        async def ok() -> Any:
            body = (await api.get("/api/health")).json()
            return body if body["status"] == "ok" else None

        body = await wait_for_async(ok, "the health to be ok again", within=15.0)
        assert body["problems"] == [] and body["mqtt"]["edge_clocks"][0]["off"] is False


async def test_an_edge_clock_ten_minutes_ahead_raises_the_clock_alarm_until_set_right(
    live_site: LiveSite,
) -> None:
    site = live_site
    topic = f"plantroom/v1/{site.site}/edge/b01/health"
    seq = 0

    async def report(mqtt: Any, ahead_ms: int) -> None:
        nonlocal seq
        seq += 1
        body = {"ts": int(time.time() * 1000) + ahead_ms, "seq": seq, "agent": {"uptime_s": 1.0}}
        await mqtt.publish(topic, json.dumps(body).encode(), qos=1)

    async def alarms(api: Any, state: str) -> Any:
        params = {"state": state, "code": "edge_clock_wrong"}
        page = (
            await api.get("/api/system-alarms", params=params, headers=site.token("tech1"))
        ).json()
        return page["items"] or None

    async with site.serving() as (api, mqtt):
        for _ in range(3):  # the agent's clock runs ten minutes fast
            await report(mqtt, 600_000)
        [alarm] = await wait_for_async(
            lambda: alarms(api, "active"), "the edge clock alarm", within=15.0
        )
        assert alarm["subject"] == "edge:b01" and alarm["severity"] == "major"
        assert alarm["message"].startswith("edge agent 'b01': clock 600 s ahead of the cloud's")
        assert -600.0 <= alarm["details"]["skew_s"] < -590.0
        health = (await api.get("/api/health")).json()
        assert health["counts"]["active_system_alarms"] == 1
        assert health["system_alarms"][0].startswith("edge_clock_wrong on edge:b01:")

    # the service restarts while the alarm is active; the agent's clock is set right
    async with site.serving() as (api, mqtt):
        assert [a["id"] for a in await alarms(api, "active")] == [alarm["id"]]
        for _ in range(CLEAR_REPORTS):
            await report(mqtt, 0)
        [cleared] = await wait_for_async(
            lambda: alarms(api, "cleared"), "the edge clock alarm to clear", within=15.0
        )
        assert cleared["id"] == alarm["id"] and cleared["cleared_at"] is not None
        assert abs(cleared["details"]["skew_s"]) < 5.0
        assert await alarms(api, "active") is None
        assert (await api.get("/api/health")).json()["counts"]["active_system_alarms"] == 0
