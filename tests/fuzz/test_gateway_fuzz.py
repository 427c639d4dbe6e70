"""Fuzzed telemetry through a real gateway: real mosquitto in, real influxd out.

Each example publishes a bounded batch of hostile messages (malformed payloads on a good
topic, good payloads on bad topics the telemetry wildcard still delivers) interleaved with
good ones. The gateway must stay up, dead-letter every bad one with its topic and the reason
the boundary gives, count it, and store every good one in InfluxDB.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from gateway.service import Gateway
from plantroom.influx.lineprotocol import TelemetryEncoder
from plantroom.settings import GatewaySettings
from stack.services import Influxd, Mosquitto
from tests.fuzz.budget import expensive
from tests.fuzz.oracle import gateway_path
from tests.fuzz.strategies import BASE_TS, good_payload, malformed_payload, subscribed_bad_topics
from tests.harness import unique, wait_for_async

BAD_PER_EXAMPLE = 24

Bad = tuple[str, str, bytes]  # category, topic, payload


@contextmanager
def publisher(broker: Mosquitto) -> Iterator[Callable[[str, bytes], mqtt.MQTTMessageInfo]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("fuzz"))
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()

    def publish(topic: str, body: bytes) -> mqtt.MQTTMessageInfo:
        info = client.publish(topic, body, qos=1)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, (topic, info.rc)
        return info

    try:
        yield publish
    finally:
        client.disconnect()
        client.loop_stop()


async def stored_seqs(influx: Influxd, db: str, site: str) -> list[int]:
    async with httpx.AsyncClient(base_url=influx.url, timeout=10) as client:
        resp = await client.get(
            "/query",
            params={"db": db, "q": f"SELECT seq FROM pump WHERE site = '{site}'", "epoch": "ms"},
        )
    if resp.status_code != 200:
        return []
    seqs: list[int] = []
    for result in resp.json()["results"]:
        for series in result.get("series", []):
            column = series["columns"].index("seq")
            seqs.extend(int(values[column]) for values in series["values"])
    return sorted(seqs)


def hostile_message(site: str) -> st.SearchStrategy[Bad]:
    """A malformed payload on a good topic, or a good payload on a bad (subscribed) topic."""
    good_topic = f"plantroom/v1/{site}/b1/pump/p1/telemetry"
    return st.one_of(
        malformed_payload().map(lambda c: (c[0], good_topic, c[1])),
        st.tuples(subscribed_bad_topics, good_payload()).map(lambda t: (t[0][0], t[0][1], t[1])),
    )


async def run_batch(
    broker: Mosquitto, influx: Influxd, directory: Path, site: str, bad: list[Bad]
) -> None:
    settings = GatewaySettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        influx_url=influx.url,
        influx_database=unique("fuzz").replace("-", "_"),
        gateway_id=unique("gw"),
        gateway_share_group=unique("grp"),
        gateway_buffer_dir=directory,
        gateway_flush_interval_s=0.1,
        gateway_batch_size=100,
    )
    oracle = TelemetryEncoder()
    reasons = []
    for category, topic, payload in bad:
        outcome = gateway_path(oracle, topic, payload)
        assert isinstance(outcome, str), f"{category} is not hostile: {topic!r} {payload[:200]!r}"
        reasons.append(outcome)
    good_topic = f"plantroom/v1/{site}/b1/pump/p1/telemetry"
    total = 2 * len(bad) + 1
    async with Gateway(settings, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(broker) as publish:
            infos = []
            for seq, (_, topic, payload) in enumerate(bad):
                good = {"ts": BASE_TS + seq, "seq": seq, "points": {"speed": seq}}
                infos.append(publish(good_topic, json.dumps(good).encode()))
                infos.append(publish(topic, payload))
            last = {"ts": BASE_TS + len(bad), "seq": len(bad), "points": {"speed": 0}}
            infos.append(publish(good_topic, json.dumps(last).encode()))
            await wait_for_async(
                lambda: all(i.is_published() for i in infos), "publishes acked", within=30.0
            )

        async def all_good_stored() -> bool:
            return await stored_seqs(influx, settings.influx_database, site) == list(
                range(len(bad) + 1)
            )

        await wait_for_async(all_good_stored, "every good message in InfluxDB", within=30.0)
        await wait_for_async(
            lambda: gw.stats.acked == total, "every message acknowledged", within=30.0
        )
        assert gw.subscribed, "the gateway lost its subscription"
        assert gw.stats.messages_in == total
        assert gw.stats.dead_letters == len(bad)
        assert gw.stats.write_errors == 0

    entries: list[dict[str, Any]] = [
        json.loads(line) for line in gw.dead_letters.path.read_text("utf-8").splitlines()
    ]
    assert len(entries) == len(bad)
    for entry, (category, topic, _), reason in zip(entries, bad, reasons, strict=True):
        assert entry["kind"] == "message", (category, entry)
        assert entry["topic"] == topic, (category, entry)
        assert entry["reason"] == reason, (category, entry)


@pytest.mark.integration
@given(data=st.data())
@expensive(2)
def test_the_gateway_dead_letters_every_hostile_message_and_stores_every_good_one(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    site = unique("fuzz")
    bad = data.draw(
        st.lists(hostile_message(site), min_size=BAD_PER_EXAMPLE, max_size=BAD_PER_EXAMPLE),
        label="bad",
    )
    directory = tmp_path_factory.mktemp("gateway")
    asyncio.run(run_batch(mosquitto, influxd, directory, site, bad))
