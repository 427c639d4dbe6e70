"""The cloud service against a real mosquitto: rule timers and counter windows survive a real
restart of the app, and a rule reload is applied to the live engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI

from cloud.app import create_app
from stack.services import Mosquitto
from tests.cloud.harness import Clock, LiveSite, asgi
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


def pump_site(tmp: Path, broker: Mosquitto) -> LiveSite:
    """Tower A's pump alone, with a rules folder, on the service's clock."""
    clock = Clock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    return LiveSite(tmp, broker, inventory="tower-a-pump", clock=clock, rules=True)


def app_for(site: LiveSite) -> FastAPI:
    assert site.clock is not None
    return create_app(
        site.settings, clock=site.clock, tick_interval=0.1, escalate=False, notify=False
    )


async def send(site: LiveSite, api: httpx.AsyncClient, mqtt: aiomqtt.Client, points: Any) -> None:
    """Publish one sample and wait until the service has processed it."""
    await mqtt.publish(site.topic("pump-a1", "pump"), site.telemetry(points), qos=1)
    tech = site.token("tech1")

    async def processed() -> bool:
        eq = (await api.get("/api/equipment/pump-a1", headers=tech)).json()
        return bool(eq["last_seq"] == site.seq)

    await wait_for_async(processed, f"sample {site.seq} to be processed", within=15.0)


async def alarm_rules(site: LiveSite, api: httpx.AsyncClient, state: str = "active") -> set[str]:
    page = (
        await api.get("/api/alarms", params={"state": state}, headers=site.token("tech1"))
    ).json()
    return {a["rule_id"] for a in page["items"]}


async def test_pending_timers_and_counter_windows_survive_a_restart(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    site = pump_site(tmp_path, mosquitto)
    status = site.topic("pump-a1", "pump", "status")
    try:
        app = app_for(site)
        async with site.running(app) as (api, mqtt):
            for n in range(20):  # 20 starts in 20 minutes: busy, not yet short-cycling
                site.clock.advance(60)
                await send(site, api, mqtt, {"starts": 7000 + n})
            # the edge loses the pump: pump.lost_communication is pending (for: 1m)
            await mqtt.publish(status, b"offline", qos=1, retain=True)

            async def offline() -> bool:
                eq = (await api.get("/api/equipment/pump-a1", headers=site.token("tech1"))).json()
                return bool(eq["status"] == "offline")

            await wait_for_async(offline, "the pump to be offline", within=15.0)
            site.clock.advance(40)
            await asyncio.sleep(0.3)  # a few ticks at the same instant: still pending
            assert await alarm_rules(site, api) == set()

        # a real restart of the service: a new app on the same database
        site.clock.advance(20)  # 60 s since the pump went offline, 20 of them while down
        app = app_for(site)
        async with app.router.lifespan_context(app), asgi(app) as api, site.publisher() as mqtt:

            async def lost() -> bool:
                return "pump.lost_communication" in await alarm_rules(site, api)

            await wait_for_async(lost, "the pending alarm to raise on the first ticks", within=5)
            for n in range(20, 32):  # 12 more starts: 31 within the hour, over the limit
                site.clock.advance(60)
                await send(site, api, mqtt, {"starts": 7000 + n})
            rules = await alarm_rules(site, api)
            assert "pump.short_cycling" in rules
            page = (await api.get("/api/work-orders", headers=site.token("tech1"))).json()
            assert sorted(w["rule_id"] for w in page["items"]) == [
                "pump.lost_communication",
                "pump.short_cycling",
            ]
    finally:
        async with site.publisher() as mqtt:
            await mqtt.publish(status, b"", qos=1, retain=True)


async def test_a_reload_reaches_the_live_engine(tmp_path: Path, mosquitto: Mosquitto) -> None:
    site = pump_site(tmp_path, mosquitto)
    app = app_for(site)
    async with site.running(app) as (api, mqtt):
        await send(site, api, mqtt, {"leak": True, "motor_temperature": 93.0})
        assert await alarm_rules(site, api) == {"pump.seal_leak"}

        (site.rules / "site.yaml").write_text(
            """rules:
  - id: pump.seal_leak
    kind: pump
    title: Seal leak (not watched at this site)
    condition: {point: leak, is: true}
    severity: minor
    priority: low
    enabled: false
  - id: pump.motor_hot
    kind: pump
    title: Pump motor hot
    condition: {point: motor_temperature, above: 90, clear_below: 80}
    severity: major
    priority: urgent
""",
            encoding="utf-8",
        )
        reply = await api.post("/api/rules/reload", headers=site.token("eng1"))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["added"], body["removed"]) == (["pump.motor_hot"], ["pump.seal_leak"])
        assert (body["cleared_alarms"], body["raised_alarms"]) == (1, 1)
        assert await alarm_rules(site, api) == {"pump.motor_hot"}
        assert await alarm_rules(site, api, "cleared") == {"pump.seal_leak"}
        # the live engine uses the new rule from now on
        await send(site, api, mqtt, {"motor_temperature": 70.0})
        assert await alarm_rules(site, api) == set()
