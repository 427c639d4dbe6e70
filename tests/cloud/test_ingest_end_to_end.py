"""The cloud service against a real mosquitto: telemetry in, one alarm and one work order out,
acknowledged over the API, cleared by telemetry."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloud import registry
from cloud.app import create_app
from cloud.clock import utcnow
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.monitor import Monitor
from cloud.rules.service import RulesService
from cloud.sla import load_sla
from plantroom.inventory import load_inventory
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite, asgi, connected
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_dry_run_to_acknowledged_work_order_and_back(live_site: LiveSite) -> None:
    site = live_site
    async with site.serving() as (api, mqtt):
        tech = site.token("tech1")
        pump = site.topic("pump-a1", "pump")

        # garbage first: counted, logged, and the stream goes on
        await mqtt.publish(pump, b"{not json", qos=1)
        await mqtt.publish(pump, site.telemetry({"dry_run": True, "speed": 1450}), qos=1)

        async def one_work_order() -> Any:
            page = (await api.get("/api/work-orders", headers=tech)).json()
            return page if page["total"] >= 1 else None

        page = await wait_for_async(one_work_order, "the work order", within=15.0)
        # the same fault again and again raises nothing new
        for _ in range(4):
            await mqtt.publish(pump, site.telemetry({"dry_run": True}), qos=1)
        await wait_for_async(
            lambda: site.caught_up(api, "pump-a1"),
            "the repeated samples to be processed",
            within=15.0,
        )
        page = (await api.get("/api/work-orders", headers=tech)).json()
        assert page["total"] == 1
        wo = page["items"][0]
        assert (wo["kind"], wo["priority"], wo["status"], wo["building"]) == (
            "fault",
            "urgent",
            "open",
            "tower-a",
        )
        assert wo["title"] == "Pump running dry: pump-a1"
        active = (await api.get("/api/alarms", params={"state": "active"}, headers=tech)).json()
        assert active["total"] == 1 and active["items"][0]["rule_id"] == "pump.dry_run"
        health = (await api.get("/api/health")).json()
        assert health["mqtt"]["invalid"] >= 1
        assert health["counts"]["open_work_orders"] == 1

        # the technician takes it
        before = time.time()
        r = await api.post(f"/api/work-orders/{wo['id']}/acknowledge", headers=tech)
        assert r.status_code == 200, r.text
        acked = r.json()
        assert acked["status"] == "acknowledged"
        assert acked["assignee"]["username"] == "tech1"
        event = acked["events"][-1]
        assert (event["actor"], event["action"], event["channel"]) == (
            "tech1",
            "acknowledge",
            "api",
        )
        at = datetime.fromisoformat(event["at"]).timestamp()
        assert before - 1 <= at <= time.time() + 1
        again = await api.post(
            f"/api/work-orders/{wo['id']}/acknowledge", headers=site.token("tech2")
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "invalid_transition"

        # the fault clears: the alarm clears, the job stays with its owner
        await mqtt.publish(pump, site.telemetry({"dry_run": False}), qos=1)

        async def cleared() -> Any:
            page = (await api.get("/api/alarms", params={"state": "cleared"}, headers=tech)).json()
            return page if page["total"] == 1 else None

        page = await wait_for_async(cleared, "the alarm to clear", within=15.0)
        assert page["items"][0]["cleared_at"] is not None
        detail = (await api.get(f"/api/work-orders/{wo['id']}", headers=tech)).json()
        assert detail["status"] == "acknowledged"
        assert detail["events"][-1]["action"] == "fault_cleared"

        # the edge says the pump went offline
        await mqtt.publish(site.topic("pump-a1", "pump", "status"), b"offline", qos=1, retain=True)

        async def offline() -> bool:
            eq = (await api.get("/api/equipment/pump-a1", headers=tech)).json()
            return bool(eq["status"] == "offline")

        await wait_for_async(offline, "the status to reach the registry", within=15.0)
        await mqtt.publish(site.topic("pump-a1", "pump", "status"), b"", qos=1, retain=True)
    leftover = [
        t.get_name()
        for t in asyncio.all_tasks()
        if t.get_name().startswith("cloud-") and not t.done()
    ]
    assert leftover == []


async def test_consumer_reconnects_after_a_broker_restart(
    tmp_path: Path, fresh_mosquitto: Mosquitto
) -> None:
    site = LiveSite(tmp_path, fresh_mosquitto)
    app = create_app(site.settings, tick_interval=0.2)
    async with app.router.lifespan_context(app), asgi(app) as api:
        tech = site.token("tech1")
        await wait_for_async(lambda: connected(api), "the consumer to connect", within=15.0)
        fresh_mosquitto.stop()

        async def disconnected() -> bool:
            return not await connected(api)

        await wait_for_async(disconnected, "the consumer to notice the broker is gone", within=15.0)
        fresh_mosquitto.start()
        await wait_for_async(lambda: connected(api), "the consumer to reconnect", within=30)
        async with site.publisher() as mqtt:
            await mqtt.publish(
                site.topic("lift-a1", "elevator"),
                site.telemetry({"passenger_trapped": True}),
                qos=1,
            )

            async def raised() -> Any:
                page = (await api.get("/api/work-orders", headers=tech)).json()
                return page if page["total"] == 1 else None

            page = await wait_for_async(raised, "the work order after reconnecting", within=15.0)
        assert page["items"][0]["priority"] == "emergency"


class GatedMonitor(Monitor):
    """The real monitor, which does not start a batch until the gate opens."""

    gate: threading.Event

    def process(self, items: Any, stop: Any = None) -> int:
        if not self.gate.wait(30):
            raise RuntimeError("the gate was never opened")
        return super().process(items, stop)


async def test_a_consumer_that_falls_behind_holds_the_broker_back_and_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    site = LiveSite(tmp_path, mosquitto)
    site.settings = site.settings.model_copy(update={"cloud_client_id": f"it-{uuid.uuid4().hex}"})
    inventory = load_inventory(site.settings.inventory)
    db = Database(site.settings.database_url)
    db.migrate()
    with db.session() as session:
        registry.sync_inventory(session, inventory)
    rules = RulesService(None, timezone=UTC, clock=utcnow)
    monitor = GatedMonitor(db, rules.engine(), site=site.site, clock=utcnow, sla=load_sla())
    monitor.gate = threading.Event()
    sent = 1500  # more than the broker's in-flight window to one client (1000)
    queue_size = 50
    try:
        consumer = TelemetryConsumer(
            site.settings, monitor, queue_size=queue_size, batch_size=20, tick_interval=60
        )
        async with consumer:

            async def is_connected() -> bool:
                return consumer.stats.connected

            await wait_for_async(is_connected, "the consumer to connect", within=15.0)
            async with site.publisher() as pub:
                # a counter that falls every time (a reset): a windowed rule (short-cycling)
                # needs every such sample, so none is folded and each takes a place
                for n in range(sent):
                    await pub.publish(
                        site.topic("pump-a1", "pump"), site.telemetry({"starts": sent - n}), qos=1
                    )

            async def backed_up() -> bool:
                return consumer.buffered >= 900  # the window is full

            await wait_for_async(backed_up, "the broker's in-flight window to fill", within=15.0)
            await asyncio.sleep(0.3)  # nothing more arrives while nothing is acknowledged
            # one batch taken by the worker, the queue, and the in-flight window: the broker
            # holds the rest
            assert consumer.buffered <= 1000
            assert consumer.stats.received <= queue_size + 20 + 2
            assert consumer.backlogged  # health says so, and clocks are not judged behind
            monitor.gate.set()

            async def all_processed() -> bool:
                return monitor.stats.telemetry >= sent

            await wait_for_async(all_processed, f"all {sent} messages to be processed", within=60)
            # QoS 1 is at least once: a publish whose acknowledgement came late on a loaded
            # machine may arrive twice; none may be missing or dropped
            assert consumer.stats.received >= sent
            assert consumer.stats.dropped == 0
            assert not consumer.backlogged
    finally:
        monitor.gate.set()
        db.close()
