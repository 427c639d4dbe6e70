"""The gateway's test harness: settings for a gateway on the test servers, telemetry topics
and payloads, a plain MQTT publisher, and reading back what reached InfluxDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.retry import RetryPolicy
from plantroom.settings import GatewaySettings
from stack.services import Influxd, Mosquitto
from tests.harness import unique, wait_for_async

BASE_TS = 1_763_900_000_000
FAST_RETRY = RetryPolicy(first_s=0.05, max_s=0.5, direct_attempts=2)


def settings_for(
    broker: Mosquitto, influx: Influxd, tmp_path: Path, **overrides: Any
) -> GatewaySettings:
    values: dict[str, Any] = {
        "mqtt_host": broker.host,
        "mqtt_port": broker.port,
        "influx_url": influx.url,
        "influx_database": unique("db").replace("-", "_"),
        "gateway_id": unique("gw"),
        "gateway_share_group": unique("grp"),
        "gateway_buffer_dir": tmp_path / "gateway",
        "gateway_flush_interval_s": 0.1,
        "gateway_batch_size": 100,
    }
    values.update(overrides)
    return GatewaySettings(**values)


def topic(site: str, building: str, kind: str, equipment: str) -> str:
    return f"plantroom/v1/{site}/{building}/{kind}/{equipment}/telemetry"


def payload(seq: int, points: dict[str, Any], ts: int | None = None) -> bytes:
    return json.dumps(
        {"ts": BASE_TS + seq * 1000 if ts is None else ts, "seq": seq, "points": points}
    ).encode()


class Publisher:
    """A plain MQTT client publishing QoS 1, as an edge agent or integrator would."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("pub"))
        self.client.max_inflight_messages_set(1000)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, body: bytes) -> None:
        info = self.client.publish(topic, body, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS
        self.infos.append(info)

    async def flush(self) -> None:
        await wait_for_async(
            lambda: all(i.is_published() for i in self.infos), "publishes acked", within=20.0
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(broker: Mosquitto) -> Iterator[Publisher]:
    pub = Publisher(broker)
    try:
        yield pub
    finally:
        pub.close()


async def query(influx: Influxd, db: str, q: str) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query as dicts (time in epoch ms, `name` = measurement)."""
    async with httpx.AsyncClient(base_url=influx.url, timeout=10) as client:
        resp = await client.get("/query", params={"db": db, "q": q, "epoch": "ms"})
    resp.raise_for_status()
    rows: list[dict[str, Any]] = []
    for result in resp.json()["results"]:
        assert "error" not in result, result["error"]
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                row["name"] = series["name"]
                row.update(series.get("tags", {}))
                rows.append(row)
    return rows


async def seqs(influx: Influxd, db: str, site: str, measurement: str = "pump") -> list[int]:
    try:
        rows = await query(influx, db, f"SELECT seq FROM {measurement} WHERE site = '{site}'")
    except httpx.HTTPError:
        return []
    return sorted(int(r["seq"]) for r in rows)
