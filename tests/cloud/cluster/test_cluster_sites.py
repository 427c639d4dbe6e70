"""Cluster mode with a folder of inventories and a real mosquitto: one process (on SQLite) holds
several sites' leases and runs a consumer for each (health and intake metrics per site, rule
reloads reaching every one, each loading only its own site's state); two processes on
PostgreSQL split three sites 2/1, and each fault still makes exactly one work order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from cloud.app import create_app
from stack.pgserver import Postgres
from stack.services import Influxd
from tests.cloud.harness import LiveSite, postgres_schema
from tests.cloud.sites import site_yaml
from tests.harness import influx_query, wait_for_async

pytestmark = pytest.mark.integration


def sites_folder(tmp: Path, prefix: str, count: int) -> dict[str, str]:
    """`count` sites (`<prefix>-0`…) of one pump each in `tmp`/sites; site → its pump."""
    folder = tmp / "sites"
    folder.mkdir()
    pumps = {}
    for n in range(count):
        site = f"{prefix}-{n}"
        pumps[site] = f"pump-{n}"
        (folder / f"{site}.yaml").write_text(site_yaml(site, "UTC", f"b{n}", f"pump-{n}"))
    return pumps


def topic(site: str, pump: str) -> str:
    n = pump.removeprefix("pump-")
    return f"plantroom/v1/{site}/b{n}/pump/{pump}/telemetry"


async def work_orders(api: httpx.AsyncClient, live: LiveSite) -> dict[str, int] | None:
    """Open work orders per equipment, or None while there are none."""
    page = (await api.get("/api/work-orders", headers=live.token("tech1"))).json()
    found: dict[str, int] = {}
    for item in page["items"]:
        found[item["equipment_id"]] = found.get(item["equipment_id"], 0) + 1
    return found or None


async def a_job_at_each_site(
    api: httpx.AsyncClient, mqtt: aiomqtt.Client, live: LiveSite, pumps: dict[str, str]
) -> None:
    """Each site's pump reports running dry, and each pump gets one work order."""
    for site, pump in pumps.items():
        await mqtt.publish(topic(site, pump), live.telemetry({"dry_run": True}), qos=1)

    async def every() -> dict[str, int] | None:
        found = await work_orders(api, live)
        return found if found is not None and len(found) == len(pumps) else None

    assert await wait_for_async(every, "a work order at each site", within=15.0) == {
        pump: 1 for pump in pumps.values()
    }


def cluster_settings(live: LiveSite, process: str, **extra: Any) -> Any:
    return live.settings.model_copy(
        update={
            "inventory": live.settings.inventory.parent / "sites",
            "cloud_cluster": True,
            "cloud_lease_ttl_s": 3.0,
            "cloud_process_id": process,
            **extra,
        }
    )


async def test_one_process_holds_two_sites_and_evaluates_both(
    live_site: LiveSite, tmp_path: Path, influxd: Influxd
) -> None:
    live = live_site
    pumps = sites_folder(tmp_path, live.site, 2)
    metrics = {"influx_url": influxd.url, "influx_database": f"m_{live.site}".replace("-", "_")}
    settings = cluster_settings(live, "solo", metrics_interval_s=0.2, **metrics)
    app = create_app(settings, tick_interval=0.2)
    async with live.running(app) as (api, mqtt):
        state = app.state.cloud
        assert sorted(state.consumers) == sorted(pumps)
        for site, consumer in state.consumers.items():  # each loaded its own site only
            assert consumer.monitor.engine.tracked_ids() == [f"{site}/{pumps[site]}"]
            assert consumer.intake_name == f"plantroom-cloud-site-{site}"
        await a_job_at_each_site(api, mqtt, live, pumps)
        health = (await api.get("/api/health")).json()
        assert health["status"] == "ok", health["problems"]
        cluster = health["cluster"]
        assert cluster["sites"] == sorted(pumps)
        assert sorted(cluster["intake"]) == sorted(pumps)
        per_site = [cluster["intake"][site]["received"] for site in pumps]
        # one process on SQLite: it alone sends the notifier's events (no outbox configured)
        assert cluster["sends"] == ["cloud-notify"]
        assert all(n >= 1 for n in per_site) and health["mqtt"]["received"] == sum(per_site)

        # the pipeline board's intake line: one per site, each under the site's own name
        def intake_lines() -> dict[str, str] | None:
            listed = influx_query(influxd.url, "", "SHOW DATABASES")
            if [metrics["influx_database"]] not in (listed[0].get("values") or []):
                return None  # made by the first write of the process sending the events
            q = 'SELECT last("received") FROM "plantroom_health" WHERE "component" = \'cloud\''
            series = influx_query(influxd.url, metrics["influx_database"], f"{q} GROUP BY *")
            found = {s["tags"]["site"]: s["tags"]["instance"] for s in series}
            return found if len(found) == len(pumps) else None

        assert await wait_for_async(intake_lines, "an intake line per site", within=15.0) == {
            site: f"plantroom-cloud-site-{site}" for site in pumps
        }

        # a rule reload reaches the engine of every site
        before = {s: c.monitor.stats.rule_reloads for s, c in state.consumers.items()}
        assert set(before.values()) == {0}  # made with the rules in use: none caught up
        await app.state.rules_service.reload()
        assert {s: c.monitor.stats.rule_reloads for s, c in state.consumers.items()} == {
            s: n + 1 for s, n in before.items()
        }
    assert app.state.cloud.consumers == {}


async def test_two_processes_split_three_sites_and_each_fault_makes_one_work_order(
    live_site: LiveSite, tmp_path: Path, postgres: Postgres
) -> None:
    live = live_site
    pumps = sites_folder(tmp_path, live.site, 3)
    async with _two_on_postgres(live, postgres) as (first, second):
        await _split_and_raise(live, pumps, first, second)


@asynccontextmanager
async def _two_on_postgres(live: LiveSite, postgres: Postgres) -> AsyncIterator[tuple[Any, Any]]:
    with postgres_schema(postgres) as url:
        first = create_app(cluster_settings(live, "first", database_url=url), tick_interval=0.2)
        second = create_app(cluster_settings(live, "second", database_url=url), tick_interval=0.2)
        yield first, second


async def _split_and_raise(live: LiveSite, pumps: dict[str, str], first: Any, second: Any) -> None:
    async with live.running(first) as (api, mqtt):
        assert sorted(first.state.cloud.consumers) == sorted(pumps)  # alone: all three
        async with live.running(second):

            def split() -> tuple[int, int] | None:
                held = (len(first.state.cloud.consumers), len(second.state.cloud.consumers))
                return held if held == (2, 1) else None

            await wait_for_async(split, "a 2/1 split", within=30.0)
            assert set(first.state.cloud.consumers) | set(second.state.cloud.consumers) == set(
                pumps
            )
            await a_job_at_each_site(api, mqtt, live, pumps)
            health = (await api.get("/api/health")).json()
            assert sorted(health["cluster"]["intake"]) == sorted(first.state.cloud.consumers)
