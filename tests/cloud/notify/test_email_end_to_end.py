"""The whole way on a real broker and a real SMTP server: a pump's dry-run telemetry → alarm →
work order → dispatched by the SLA ticker → the outbox → an e-mail to the technician on call
(tech1, put there by a cover whichever technician's day it is; demo users' contact points are
verified) naming the pump → its link acknowledges the job as that technician → the audit shows
"via email link"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from cloud.app import create_app
from tests.cloud.harness import LiveSite
from tests.cloud.notify.mail import ack_link, html_of, smtp_server
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_a_pump_fault_mails_the_technician_whose_link_acknowledges_it(
    live_site: LiveSite, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = live_site
    with smtp_server(tmp_path, monkeypatch) as smtp:
        site.settings = site.settings.model_copy(
            update={
                "notifications_file": smtp.channels,
                "notify_link_secret": None,  # demo mode: a key made for the run
                # an hour: the job is told at once because the fault path wakes the SLA ticker
                "escalation_interval_s": 3600.0,
                "notify_delivery_interval_s": 0.1,
                "cloud_influx_enabled": False,
            }
        )
        app = create_app(site.settings, tick_interval=0.2)
        async with site.running(app) as (api, mqtt):
            await site.on_call(api, "tech1")  # the job is tech1's, whichever day it is
            pump = site.topic("pump-a1", "pump")
            await mqtt.publish(pump, site.telemetry({"dry_run": True, "speed": 1450}), qos=1)

            async def mailed() -> Any:
                return next(iter(smtp.messages_to("tech1@demo.example.com")), None)

            mail = await wait_for_async(mailed, "tech1's e-mail", within=20.0)
            assert "pump-a1" in html_of(mail)
            assert "pump-a1" in str(mail["Subject"])

            path = urlsplit(ack_link(mail)).path
            done = await api.post(path, headers={"Accept": "application/json"})
            assert done.status_code == 200, done.text
            number = done.json()["number"]

            tech = site.token("tech1")

            async def acknowledged() -> Any:
                trail = (await api.get(f"/api/work-orders/{number}/audit", headers=tech)).json()
                return [e for e in trail if e["action"] == "acknowledge"] or None

            [event] = await wait_for_async(acknowledged, "the acknowledgement", within=10.0)
            assert event["actor"] == "tech1" and event["note"] == "via email link"
            rows = (
                await api.get(
                    "/api/notifications/outbox", params={"work_order": number}, headers=tech
                )
            ).json()
            statuses = {r["username"]: r["status"] for r in rows}
            assert statuses["tech1"] == "acknowledged"
            assert all(s in ("sent", "acknowledged") for s in statuses.values()), statuses
