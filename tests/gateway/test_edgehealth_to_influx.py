"""Edge self-health through real mosquitto → Gateway → real influxd."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.service import Gateway
from plantroom.topics import edge_health
from stack.services import Influxd, Mosquitto
from tests.gateway.harness import BASE_TS, payload, publisher, query, seqs, settings_for, topic
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration


def health_body(seq: int, **overrides: Any) -> bytes:
    message: dict[str, Any] = {
        "ts": BASE_TS + seq * 10_000,
        "seq": seq,
        "agent": {"uptime_s": 30.5, "queue_depth": 2, "broker_reconnects": 1},
        "devices": {
            "pump-1": {"polls": 300, "late": 4, "poll_latency_p99_ms": 7.5},
            "lift-1": {"polls": 150, "timeouts": 2, "poll_latency_p99_ms": 12.0},
        },
    }
    message.update(overrides)
    return json.dumps(message).encode()


async def test_edge_health_lands_in_plantroom_health_and_a_bad_report_is_dead_lettered(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    agent = unique("edge")
    settings = settings_for(mosquitto, influxd, tmp_path)
    db = settings.influx_database
    health_topic = edge_health(site, agent)
    before_ms = int(time.time() * 1000)
    async with Gateway(settings, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(mosquitto) as pub:
            pub.publish(health_topic, health_body(5))
            pub.publish(health_topic, health_body(6, agent={"queue_depth": "full"}))
            pub.publish(topic(site, "b1", "pump", "pump-1"), payload(0, {"speed": 1}))
            await pub.flush()

        async def written() -> bool:
            rows = await query(influxd, db, f"SELECT * FROM plantroom_health WHERE site = '{site}'")
            return len(rows) == 3

        await wait_for_async(written, "the agent line and both device lines", within=20.0)
        after_ms = int(time.time() * 1000)
        await wait_for_async(lambda: gw.stats.acked == 3, "every message acknowledged", within=20.0)
        assert await seqs(influxd, db, site) == [0]  # telemetry kept flowing
        assert gw.stats.edge_health_in == 1
        assert gw.stats.dead_letters == 1

    rows = await query(
        influxd,
        db,
        f"SELECT * FROM plantroom_health WHERE site = '{site}' AND component = 'edge'",
    )
    assert len(rows) == 1
    agent_row = rows[0]
    assert agent_row["instance"] == agent and agent_row["time"] == BASE_TS + 50_000
    assert agent_row["seq"] == 5 and agent_row["queue_depth"] == 2
    assert agent_row["uptime_s"] == 30.5 and agent_row["broker_reconnects"] == 1
    assert agent_row.get("equipment") is None
    # the gateway's receive time minus the report's time: this report is from the past
    report_ts = BASE_TS + 50_000
    assert (before_ms - report_ts) / 1000 <= agent_row["receive_delay_s"]
    assert agent_row["receive_delay_s"] <= (after_ms - report_ts) / 1000

    devices = await query(
        influxd,
        db,
        f"SELECT * FROM plantroom_health WHERE site = '{site}' AND component = 'edge_device' "
        f"GROUP BY equipment",
    )
    by_equipment = {r["equipment"]: r for r in devices}
    assert set(by_equipment) == {"pump-1", "lift-1"}
    assert by_equipment["pump-1"]["polls"] == 300 and by_equipment["pump-1"]["late"] == 4
    assert by_equipment["lift-1"]["timeouts"] == 2
    assert by_equipment["lift-1"]["poll_latency_p99_ms"] == 12.0
    assert all(r["instance"] == agent and r["time"] == BASE_TS + 50_000 for r in devices)
    assert all(r.get("seq") is None and r.get("receive_delay_s") is None for r in devices)

    fields = await query(influxd, db, "SHOW FIELD KEYS FROM plantroom_health")
    types = {r["fieldKey"]: r["fieldType"] for r in fields}
    assert types["polls"] == "integer" and types["seq"] == "integer"
    assert types["poll_latency_p99_ms"] == "float" and types["uptime_s"] == "float"
    assert types["receive_delay_s"] == "float"

    entries = [json.loads(line) for line in gw.dead_letters.path.read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["topic"] == health_topic
    assert "agent.queue_depth" in entries[0]["reason"]
