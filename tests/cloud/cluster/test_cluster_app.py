"""The cloud service with `PLANTROOM_CLOUD_CLUSTER` on SQLite and a real mosquitto: alone, it
holds its site's lease, subscribes to that site's topics under the site's session, raises a
fault's work order, shows its leases in `/api/health`, and releases the lease when it stops."""

from __future__ import annotations

import pytest

from cloud.app import create_app
from cloud.cluster import leases
from cloud.db import Database
from tests.cloud.harness import LiveSite
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_alone_in_a_cluster_it_holds_its_site_and_raises_work_orders(
    live_site: LiveSite,
) -> None:
    site = live_site
    settings = site.settings.model_copy(
        update={"cloud_cluster": True, "cloud_lease_ttl_s": 3.0, "cloud_process_id": "solo"}
    )
    app = create_app(settings, tick_interval=0.2)
    async with site.running(app) as (api, mqtt):
        health = (await api.get("/api/health")).json()
        assert health["status"] == "ok", health["problems"]
        cluster = health["cluster"]
        assert (cluster["process_id"], cluster["sites"]) == ("solo", [site.site])
        assert cluster["members"] == ["solo"] and cluster["unwatched"] == []
        assert [(x["site"], x["holder"], x["epoch"]) for x in cluster["leases"]] == [
            (site.site, "solo", 1)
        ]
        await mqtt.publish(site.topic("pump-a1", "pump"), site.telemetry({"dry_run": True}), qos=1)

        async def work_orders() -> int:
            page = (await api.get("/api/work-orders", headers=site.token("tech1"))).json()
            return int(page["total"])

        assert await wait_for_async(work_orders, "the work order", within=15.0) == 1
        # a sample of another site is not even delivered: the subscription is this site's
        other = site.topic("pump-a1", "pump").replace(f"/{site.site}/", "/elsewhere/")
        await mqtt.publish(other, site.telemetry({"dry_run": False}), qos=1)
        await mqtt.publish(site.topic("pump-a1", "pump"), site.telemetry({"dry_run": True}), qos=1)
        await wait_for_async(lambda: site.caught_up(api, "pump-a1"), "the samples", within=15.0)
        assert app.state.cloud.consumers[site.site].monitor.stats.unknown_equipment == 0
    state = app.state.cloud
    assert state.cluster is None and state.consumers == {}
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            lease = leases.view(session, now=leases.db_now(session)).leases[0]
        assert (lease.holder, lease.epoch) == (None, 1)  # released at the stop
    finally:
        database.close()
