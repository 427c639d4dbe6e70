"""Maintenance mode the whole way, on SQLite and PostgreSQL, a real broker and a real SMTP
server: a supervisor puts a pump in maintenance; its dry-run telemetry raises an alarm that is
held (shelved, no work order, no mail) while a lift's trapped passenger, outside the window,
is mailed at once; the window ends with the pump still dry and exactly one job is raised and
mailed. A fault that clears during the window raises nothing at its end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.app import create_app
from tests.cloud.harness import Clock, LiveSite
from tests.cloud.notify.mail import smtp_server
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


def live(site: LiveSite, database_url: str, **extra: Any) -> Clock:
    """The site on `database_url`, on a clock the test moves, its maintenance passes 5 a
    second."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    site.clock = clock
    site.settings = site.settings.model_copy(
        update={
            "database_url": database_url,
            "maintenance_interval_s": 0.2,
            "cloud_influx_enabled": False,
            **extra,
        }
    )
    return clock


async def put_in_maintenance(api: httpx.AsyncClient, site: LiveSite) -> dict[str, Any]:
    r = await api.post(
        "/api/maintenance",
        headers=site.token("super1"),
        json={"equipment_id": "pump-a1", "minutes": 5, "reason": "Seal replacement"},
    )
    assert r.status_code == 201, r.text
    window: dict[str, Any] = r.json()
    return window


async def pump_jobs(api: httpx.AsyncClient, site: LiveSite) -> list[dict[str, Any]]:
    page = (
        await api.get("/api/work-orders?equipment_id=pump-a1", headers=site.token("tech1"))
    ).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def pump_alarm(api: httpx.AsyncClient, site: LiveSite) -> dict[str, Any] | None:
    page = (await api.get("/api/alarms?equipment_id=pump-a1", headers=site.token("tech1"))).json()
    return page["items"][0] if page["items"] else None


async def test_a_pump_in_maintenance_is_mailed_only_once_its_window_is_over(
    database_url: str, live_site: LiveSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = live_site
    with smtp_server(tmp_path, monkeypatch) as smtp:
        clock = live(
            site,
            database_url,
            notifications_file=smtp.channels,
            notify_link_secret=None,  # demo mode: a key made for the run
            escalation_interval_s=3600.0,  # a new job is told at once: the raise wakes it
            notify_delivery_interval_s=0.1,
        )

        def mails_naming(equipment: str) -> list[Any]:
            return [m for m in smtp.box.received() if equipment in str(m["Subject"])]

        app = create_app(site.settings, clock=clock, tick_interval=0.2)
        async with site.running(app) as (api, mqtt):
            window = await put_in_maintenance(api, site)
            pump, lift = site.topic("pump-a1", "pump"), site.topic("lift-a1", "elevator")
            await mqtt.publish(pump, site.telemetry({"dry_run": True, "speed": 1450}), qos=1)

            async def held() -> dict[str, Any] | None:
                alarm = await pump_alarm(api, site)
                return alarm if alarm and alarm["shelved_until"] else None

            alarm = await wait_for_async(held, "the pump's alarm, held", within=15.0)
            assert alarm["state"] == "active" and alarm["shelved_until"] == window["ends_at"]
            assert alarm["shelved_reason"] == "in maintenance: Seal replacement"

            # a passenger trapped in the lift, which is not in maintenance: mailed at once,
            # and by then the pump's alarm (raised before it) has raised no job and no mail
            await mqtt.publish(lift, site.telemetry({"passenger_trapped": True}), qos=1)
            await wait_for_async(lambda: mails_naming("lift-a1"), "the lift's mail", within=20.0)
            assert mails_naming("pump-a1") == []
            assert await pump_jobs(api, site) == []

            # the window is over with the pump still dry: one job, mailed
            clock.advance(minutes=5)

            async def raised() -> list[dict[str, Any]]:
                return await pump_jobs(api, site)

            [job] = await wait_for_async(raised, "the pump's job at the window's end", within=15.0)
            assert job["kind"] == "fault" and job["alarm_id"] == alarm["id"]
            await wait_for_async(lambda: mails_naming("pump-a1"), "the pump's mail", within=20.0)

            # exactly once: more passes, and the pump still reporting dry, add nothing
            runner = app.state.cloud.maintenance
            passes = runner.stats.passes
            await mqtt.publish(pump, site.telemetry({"dry_run": True, "speed": 1450}), qos=1)
            await wait_for_async(lambda: site.caught_up(api, "pump-a1"), "the last sample")
            await wait_for_async(lambda: runner.stats.passes >= passes + 3, "three more passes")
            assert [j["number"] for j in await pump_jobs(api, site)] == [job["number"]]
            trail = (
                await api.get(f"/api/maintenance/{window['id']}", headers=site.token("tech1"))
            ).json()
            assert [e["action"] for e in trail["events"]] == [
                "created",
                "alarm_held",
                "alarm_released",
                "settled",
            ]


async def test_a_fault_cleared_during_the_window_raises_no_job_at_its_end(
    database_url: str, live_site: LiveSite
) -> None:
    site = live_site
    clock = live(site, database_url)
    app = create_app(site.settings, clock=clock, tick_interval=0.2)
    async with site.running(app) as (api, mqtt):
        window = await put_in_maintenance(api, site)
        pump = site.topic("pump-a1", "pump")
        await mqtt.publish(pump, site.telemetry({"dry_run": True, "speed": 1450}), qos=1)
        await wait_for_async(lambda: pump_alarm(api, site), "the pump's alarm", within=15.0)
        clock.advance(minutes=2)
        await mqtt.publish(pump, site.telemetry({"dry_run": False, "speed": 1450}), qos=1)

        async def cleared() -> bool:
            alarm = await pump_alarm(api, site)
            return alarm is not None and alarm["state"] == "cleared"

        await wait_for_async(cleared, "the pump's alarm to clear", within=15.0)
        clock.advance(minutes=3)
        url = f"/api/maintenance/{window['id']}"

        async def settled() -> dict[str, Any] | None:
            w: dict[str, Any] = (await api.get(url, headers=site.token("tech1"))).json()
            return w if w["settled_at"] else None

        done = await wait_for_async(settled, "the window's end to be applied", within=15.0)
        assert [e["action"] for e in done["events"]] == ["created", "alarm_held", "settled"]
        assert await pump_jobs(api, site) == []
