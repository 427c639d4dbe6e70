"""The service's notifier end to end: a work order's life goes out as signed webhooks (retried
after a 503) to a real HTTP receiver, as Grafana annotations through grafana-client to an HTTP
server answering as Grafana does, and as events and metrics into a real InfluxDB in the
schema the dashboards query."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from cloud.enums import Role
from cloud.notify.webhooks import verify
from plantroom.settings import CloudSettings
from stack.services import Influxd
from tests.cloud.harness import Clock, serve, settings_for
from tests.cloud.notify.receiver import Receiver
from tests.harness import influx_query, wait_for_async

pytestmark = pytest.mark.integration


class Configured(CloudSettings):
    metrics_interval_s: float = 0.2
    notify_poll_interval_s: float = 0.05


async def test_a_work_order_goes_out_everywhere(tmp_path: Path, influxd: Influxd) -> None:
    hooks = Receiver(script=[503])
    grafana = Receiver(answer={"id": 1, "message": "Annotation added"})
    await hooks.start()
    await grafana.start()
    database = f"wo_{uuid.uuid4().hex[:8]}"
    base = settings_for(tmp_path)
    settings = Configured(
        inventory=base.inventory,
        database_url=base.database_url,
        webhook_urls=[f"{hooks.url}/hooks/plantroom"],
        webhook_secret=SecretStr("s3cret"),
        grafana_url=grafana.url,
        grafana_token=SecretStr("glsa_token"),
        influx_url=influxd.url,
        influx_database=database,
    )
    clock = Clock()
    try:
        async with serve(settings, clock, notify=True) as api:
            api.user("tech1", Role.TECHNICIAN)
            api.fault("p1", "pump.dry_run")
            clock.advance(120)
            await api.post("/api/work-orders/1/acknowledge", json={"channel": "cli"})
            clock.advance(480)
            api.fault("p1", "pump.dry_run", clear=True)
            clock.advance(120)
            r = await api.post("/api/work-orders/1/resolve", json={"note": "primed the pump"})
            assert r.status_code == 200, r.text

            def delivered() -> list[str]:
                return [r.headers["x-plantroom-event"] for r in hooks.requests]

            await wait_for_async(
                lambda: len(delivered()) == 5,
                "four webhooks and one retry",
                within=20,
                interval=0.02,
            )
            assert delivered() == [
                "work_order.created",  # answered 503 …
                "work_order.created",  # … and sent again
                "work_order.acknowledge",
                "work_order.fault_cleared",
                "work_order.resolve",
            ]
            for req in hooks.requests:
                assert req.path == "/hooks/plantroom" and req.method == "POST"
                assert verify("s3cret", req.body, req.headers["x-plantroom-signature"])
            bodies = [json.loads(r.body) for r in hooks.requests]
            assert bodies[0]["id"] == bodies[1]["id"]  # the same delivery id on a retry
            assert [b["id"] for b in bodies[1:]] == sorted(b["id"] for b in bodies[1:])
            ack = bodies[2]
            assert (ack["actor"], ack["channel"], ack["to_status"]) == (
                "tech1",
                "cli",
                "acknowledged",
            )
            assert ack["work_order"]["number"] == "WO-000001" and ack["site"] == "s1"

            await wait_for_async(
                lambda: len(grafana.requests) == 3, "three annotations", within=20, interval=0.02
            )
            notes = [json.loads(r.body) for r in grafana.requests]
            assert all(r.path == "/api/annotations" for r in grafana.requests)
            assert grafana.requests[0].headers["authorization"] == "Bearer glsa_token"
            assert [n["tags"][2] for n in notes] == ["wo_raised", "wo_acknowledged", "wo_resolved"]
            assert notes[1]["time"] == 1772352120000  # 2026-03-01 08:02 UTC, when acknowledged
            assert notes[2]["text"].endswith("(primed the pump)")

            def events() -> list[dict[str, Any]]:
                series = influx_query(influxd.url, database, 'SELECT * FROM "events" ORDER BY time')
                if not series:
                    return []
                cols = series[0]["columns"]
                return [dict(zip(cols, row, strict=True)) for row in series[0]["values"]]

            await wait_for_async(
                lambda: len(events()) == 5, "five events in InfluxDB", within=20, interval=0.02
            )
            got = [(e["type"], e["building"], e["equipment"], e["site"]) for e in events()]
            assert sorted(got) == sorted(
                (t, "b1", "p1", "s1")
                for t in (
                    "wo_raised",
                    "alarm_raised",
                    "wo_acknowledged",
                    "alarm_cleared",
                    "wo_resolved",
                )
            )
            assert {e["priority"] for e in events()} == {"urgent"}

            def metrics() -> dict[str, Any] | None:
                series = influx_query(
                    influxd.url,
                    database,
                    'SELECT last("open") AS open, last("overdue") AS overdue, '
                    'last("mtta_s") AS mtta, last("mttr_s") AS mttr, '
                    'last("sla_compliance_pct") AS sla, last("equipment_good_pct") AS good '
                    'FROM "work_orders" WHERE "building" = \'b1\' AND "priority" = \'urgent\' '
                    "AND \"kind\" = 'fault'",
                )
                if not series:
                    return None
                row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
                return row if row["mttr"] is not None else None

            row = await wait_for_async(
                metrics, "the urgent fault metrics of b1", within=20, interval=0.02
            )
            assert (row["open"], row["overdue"]) == (0, 0)
            assert (row["mtta"], row["mttr"], row["sla"], row["good"]) == (
                120.0,
                720.0,
                100.0,
                100.0,
            )
            every = influx_query(influxd.url, database, 'SHOW SERIES FROM "work_orders"')[0][
                "values"
            ]
            assert len(every) == 2 * 4 * 3  # 2 buildings, 4 priorities, 3 kinds
    finally:
        await hooks.stop()
        await grafana.stop()
