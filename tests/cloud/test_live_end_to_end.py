"""The service's live rows, end to end through a real mosquitto: a sample that only moves a
measurement waits for `PLANTROOM_LIVE_WRITE_INTERVAL_S`, one that raises an alarm is in the
row with the alarm, and what is held is written when the service stops."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cloud import registry
from cloud.db import Database
from tests.cloud.harness import LiveSite
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_measurements_wait_alarms_do_not_and_a_stop_writes_what_is_held(
    live_site: LiveSite,
) -> None:
    site = live_site
    # long enough that nothing measured is written by time while the test looks
    site.settings = site.settings.model_copy(update={"live_write_interval_s": 60.0})
    pump, lift = site.topic("pump-a1", "pump"), site.topic("lift-a1", "elevator")

    async def pump_row(api: httpx.AsyncClient) -> dict[str, Any]:
        eq: dict[str, Any] = (
            await api.get("/api/equipment/pump-a1", headers=site.token("tech1"))
        ).json()
        return eq

    async def taken(api: httpx.AsyncClient, count: int) -> bool:
        """`count` messages received and none still queued: the batch of the last has been
        taken, so a batch after it commits after it."""
        mqtt = (await api.get("/api/health")).json()["mqtt"]
        return bool(mqtt["received"] >= count and mqtt["queued"] == 0)

    async with site.serving() as (api, mqtt):
        await mqtt.publish(pump, site.telemetry({"speed": 1450, "dry_run": False}), qos=1)
        first = await wait_for_async(lambda: site.caught_up(api, "pump-a1"), "the first sample")
        assert first["last_values"] == {"speed": 1450, "dry_run": False}  # new points: at once

        await mqtt.publish(pump, site.telemetry({"speed": 1460, "dry_run": False}), qos=1)
        measured = site.seq
        await wait_for_async(lambda: taken(api, 2), "the measurement taken")
        # a later batch: the lift's fault raises an alarm, listed once committed
        await mqtt.publish(lift, site.telemetry({"fault_code": "door_open_fault"}), qos=1)
        [alarm] = await wait_for_async(lambda: site.active_alarms(api), "the lift's alarm")
        assert alarm["equipment_id"] == "lift-a1"
        held = await pump_row(api)
        assert held["last_seq"] == measured - 1 and held["last_values"]["speed"] == 1450

        await mqtt.publish(pump, site.telemetry({"speed": 1470, "dry_run": True}), qos=1)
        alarms = await wait_for_async(
            lambda: _two(site.active_alarms(api)), "the pump's dry-run alarm"
        )
        assert {a["equipment_id"] for a in alarms} == {"lift-a1", "pump-a1"}
        with_alarm = await pump_row(api)  # committed with the alarm
        assert with_alarm["last_seq"] == site.seq
        assert with_alarm["last_values"] == {"speed": 1470, "dry_run": True}

        await mqtt.publish(pump, site.telemetry({"speed": 1480, "dry_run": True}), qos=1)
        await wait_for_async(lambda: taken(api, 4), "the last measurement taken")
    db = Database(site.settings.database_url)  # the service has stopped: what it held is in
    try:
        with db.sessions() as session:
            row = registry.get(session, "pump-a1", site=site.site)
            assert row.last_seq == site.seq and row.last_values["speed"] == 1480
    finally:
        db.close()


async def _two(alarms: Any) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] | None = await alarms
    return found if found is not None and len(found) == 2 else None
