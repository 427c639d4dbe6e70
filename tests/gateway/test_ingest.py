"""The gateway end to end: real mosquitto → Gateway → real influxd."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.service import Gateway
from plantroom.mqttwire import Publish
from plantroom.ports import free_port
from plantroom.settings import GatewaySettings
from plantroom.subscriber import AckToken, Subscriber
from stack.services import Influxd, Mosquitto
from tests.gateway.harness import (
    BASE_TS,
    FAST_RETRY,
    Publisher,
    payload,
    publisher,
    query,
    seqs,
    settings_for,
    topic,
)
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration


def write_inventory(path: Path, site: str) -> Path:
    path.write_text(
        f"""
site: {{id: {site}}}
buildings:
  - id: tower-a
    equipment:
      - {{id: lift-1, kind: elevator, profile: plantroom-sim-elevator, floor: "B1",
          connection: {{type: modbus_tcp, host: 127.0.0.1, unit: 1}}}}
      - {{id: pump-1, kind: pump, profile: plantroom-sim-pump, floor: "B2",
          connection: {{type: modbus_tcp, host: 127.0.0.1, unit: 11}}}}
      - {{id: fire-1, kind: fire_panel, profile: plantroom-sim-fire-panel, floor: "G",
          connection: {{type: modbus_tcp, host: 127.0.0.1, unit: 21}}}}
      - {{id: light-1, kind: lighting, profile: lumen-lc4,
          connection: {{type: mqtt, topic: lumen/lc1/state}}}}
"""
    )
    return path


KIND_POINTS: dict[tuple[str, str], dict[str, Any]] = {
    ("elevator", "lift-1"): {
        "floor": 7,
        "direction": "up",
        "load": 320,
        "drive_temperature": 41.5,
        "at_landing": True,
        "passenger_trapped": False,
        "fault_code": None,
    },
    ("pump", "pump-1"): {
        "run_state": "running",
        "speed": 1450,
        "flow": 12.5,
        "discharge_pressure": 3.25,
        "vibration": 0.0,
    },
    ("fire_panel", "fire-1"): {
        "panel_state": "normal",
        "zone_1": "alarm",
        "battery_voltage": 27.1,
        "fire_alarm": True,
        "active_alarms": 1,
    },
    ("lighting", "light-1"): {
        "mains_voltage": 229.8,
        "circuit_1_on": True,
        "circuit_1_power": 412.5,
        "circuit_1_lamps": 12,
        "circuit_1_label": 'lobby "east", \\ wing',
    },
}


async def test_telemetry_of_all_four_kinds_lands_in_influxdb_with_tags_fields_and_times(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    port = free_port()
    settings = settings_for(
        mosquitto,
        influxd,
        tmp_path,
        inventory=write_inventory(tmp_path / "site.yaml", site),
        gateway_metrics_port=port,
    )
    db = settings.influx_database
    async with Gateway(
        settings, health_interval_s=0.2, session_expiry_s=0, metrics_host="127.0.0.1"
    ) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(mosquitto) as pub:
            for seq in range(3):
                for (kind, equipment), points in KIND_POINTS.items():
                    pub.publish(topic(site, "tower-a", kind, equipment), payload(seq, points))
            await pub.flush()

        async def all_rows() -> bool:
            for kind, _ in KIND_POINTS:
                rows = await query(influxd, db, f"SELECT seq FROM {kind} WHERE site = '{site}'")
                if len(rows) != 3:
                    return False
            return True

        await wait_for_async(all_rows, "three rows of each kind", within=20.0)

        elevator = await query(
            influxd,
            db,
            f'SELECT "floor"::field AS car_floor, "floor"::tag AS floor_tag, * FROM elevator '
            f"WHERE site = '{site}' ORDER BY time",
        )
        assert [r["time"] for r in elevator] == [BASE_TS, BASE_TS + 1000, BASE_TS + 2000]
        assert [r["seq"] for r in elevator] == [0, 1, 2]
        first = elevator[0]
        assert first["car_floor"] == 7 and first["floor_tag"] == "B1"
        assert first["direction"] == "up" and first["load"] == 320
        assert first["drive_temperature"] == 41.5
        assert first["at_landing"] is True and first["passenger_trapped"] is False
        assert "fault_code" not in first  # null points are omitted
        assert (first["building"], first["equipment"], first["site"]) == ("tower-a", "lift-1", site)

        fields = await query(influxd, db, "SHOW FIELD KEYS")
        types = {(r["name"], r["fieldKey"]): r["fieldType"] for r in fields}
        assert types[("elevator", "floor")] == "integer"
        assert types[("elevator", "drive_temperature")] == "float"
        assert types[("pump", "vibration")] == "float"  # 0.0 stays a float
        assert types[("pump", "speed")] == "integer"
        assert types[("fire_panel", "fire_alarm")] == "boolean"
        assert types[("lighting", "circuit_1_label")] == "string"
        assert types[("pump", "seq")] == "integer"

        light = await query(influxd, db, f"SELECT * FROM lighting WHERE site = '{site}'")
        assert light[0]["circuit_1_label"] == 'lobby "east", \\ wing'
        assert light[0].get("floor") is None  # the inventory does not know its floor
        fire = await query(influxd, db, f"SELECT * FROM fire_panel WHERE site = '{site}'")
        assert fire[0]["floor"] == "G" and fire[0]["zone_1"] == "alarm"

        async def health_written() -> bool:
            rows = await query(
                influxd,
                db,
                f"SELECT * FROM plantroom_health WHERE instance = '{settings.gateway_id}'",
            )
            return any(r["points_out"] >= 60 for r in rows)

        await wait_for_async(health_written, "a health line counting the points", within=20.0)
        health = (await query(influxd, db, "SELECT * FROM plantroom_health"))[-1]
        assert health["component"] == "gateway"
        for name in (
            "points_in",
            "points_out",
            "lines_written",
            "batches",
            "batch_latency_ms",
            "buffer_depth",
            "dead_letters",
            "write_errors",
        ):
            assert name in health

        async with httpx.AsyncClient(timeout=5) as client:
            metrics = await client.get(f"http://127.0.0.1:{port}/metrics")
            missing = await client.get(f"http://127.0.0.1:{port}/other")
        assert metrics.status_code == 200 and missing.status_code == 404
        assert f'plantroom_gateway_lines_written_total{{instance="{settings.gateway_id}"}}' in (
            metrics.text
        )
        assert gw.stats.points_in >= 3 * sum(
            sum(v is not None for v in p.values()) for p in KIND_POINTS.values()
        )


async def test_with_an_inventory_only_its_equipment_is_written(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    inventory = write_inventory(tmp_path / "site.yaml", site)
    settings = settings_for(mosquitto, influxd, tmp_path, inventory=inventory)
    known = topic(site, "tower-a", "pump", "pump-1")
    strangers = [
        topic(site, "tower-a", "pump", "pump-9"),  # not in the inventory
        topic(site, "tower-b", "pump", "pump-1"),  # in no building of the site
        topic(unique("other"), "tower-a", "pump", "pump-1"),  # another site
    ]
    async with Gateway(settings, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(mosquitto) as pub:
            for seq, stranger in enumerate(strangers):
                pub.publish(stranger, payload(seq, {"speed": 1}))
                pub.publish(known, payload(seq, {"speed": 1000 + seq}))
            await pub.flush()

        async def known_written() -> bool:
            return await seqs(influxd, settings.influx_database, site) == [0, 1, 2]

        await wait_for_async(known_written, "the known pump's samples in InfluxDB")
        await wait_for_async(lambda: gw.stats.dead_letters == len(strangers), "strangers refused")
    entries = [json.loads(line) for line in gw.dead_letters.path.read_text().splitlines()]
    assert [e["topic"] for e in entries] == strangers
    assert all("is not in the inventory" in e["reason"] for e in entries)


async def test_malformed_messages_are_dead_lettered_and_good_ones_keep_flowing(
    fresh_mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(fresh_mosquitto, influxd, tmp_path)
    good = topic(site, "b1", "pump", "p1")
    bad: list[tuple[str, bytes, str]] = [
        (good, b"{not json", "Invalid JSON"),
        (good, payload(-1, {"speed": 1}), "seq"),
        (good, json.dumps({"ts": 5, "seq": 1, "points": {"a": 1}}).encode(), "ts"),
        (topic(site, "b1", "boiler", "x1"), payload(1, {"a": 1}), "unknown equipment kind"),
        (good, payload(1, {"speed": 2**70}), "64 bits"),
        (good, payload(1, {"time": 3}), "reserved"),
        # a clock a day fast (or a forged time): refused, never written as the newest point
        (
            good,
            payload(1, {"speed": 1}, ts=int(time.time() * 1000) + 86_400_000),
            "ahead of the receiver's clock",
        ),
        (f"plantroom/v1/{site}/edge/pump/p1/telemetry", payload(1, {"a": 1}), "edge status"),
        (good, b'{"ts": 1763900000000, "seq": 1, "points": {"Bad-Name": 1}}', "points.Bad-Name"),
        # an equipment id no inventory can hold, and one with a character ids may not have
        (topic(site, "b1", "pump", "p" * 60_000), payload(1, {"a": 1}), "at most 64"),
        (topic(site, "b1", "pump", "p 1"), payload(1, {"a": 1}), "may only contain"),
    ]
    async with Gateway(settings, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            seq = 0
            for bad_topic, body, _ in bad:
                pub.publish(good, payload(seq, {"speed": 1000 + seq}))
                seq += 1
                pub.publish(bad_topic, body)
            pub.publish(good, payload(seq, {"speed": 1000 + seq}))
            await pub.flush()
        total = 2 * len(bad) + 1

        async def all_good() -> bool:
            return await seqs(influxd, settings.influx_database, site) == list(range(seq + 1))

        await wait_for_async(all_good, "every good message in InfluxDB", within=20.0)
        await wait_for_async(
            lambda: gw.stats.acked == total, "every message acknowledged", within=20.0
        )
        assert gw.stats.dead_letters == len(bad)
        assert gw.stats.messages_in == total

    entries = [json.loads(line) for line in gw.dead_letters.path.read_text().splitlines()]
    assert len(entries) == len(bad)
    for entry, (bad_topic, body, reason) in zip(entries, bad, strict=True):
        assert entry["kind"] == "message"
        assert entry["topic"] == bad_topic
        assert reason in entry["reason"]
        assert entry["payload"] == body.decode()[:512]


async def test_a_line_influxdb_refuses_is_dead_lettered_and_the_rest_of_its_batch_written(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(mosquitto, influxd, tmp_path, gateway_flush_interval_s=0.5)
    good = topic(site, "b1", "pump", "p1")
    async with Gateway(settings, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(mosquitto) as pub:
            pub.publish(good, payload(0, {"speed": 1}))
            await pub.flush()

            async def first_written() -> bool:
                return await seqs(influxd, settings.influx_database, site) == [0]

            await wait_for_async(first_written, "the first line", within=20.0)
            # a string where InfluxDB already stores an integer, between two good lines
            pub.publish(good, payload(1, {"speed": 2}))
            pub.publish(good, payload(2, {"speed": "fast"}))
            pub.publish(good, payload(3, {"speed": 4}))
            await pub.flush()

        async def rest_written() -> bool:
            return await seqs(influxd, settings.influx_database, site) == [0, 1, 3]

        await wait_for_async(rest_written, "the good lines around the refused one", within=20.0)
        await wait_for_async(
            lambda: gw.stats.dead_letters >= 1, "the dead letter counted", within=20.0
        )
    entries = [json.loads(line) for line in gw.dead_letters.path.read_text().splitlines()]
    refused = [e for e in entries if e["kind"] == "line" and site in e["line"]]
    assert len(refused) == 1
    assert "field type conflict" in refused[0]["reason"]
    assert 'speed="fast"' in refused[0]["line"]


async def test_influxdb_outage_is_buffered_on_disk_and_every_point_arrives_once(
    fresh_mosquitto: Mosquitto, fresh_influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(fresh_mosquitto, fresh_influxd, tmp_path, gateway_batch_size=50)
    db = settings.influx_database
    topics = [topic(site, "b1", "pump", f"p{i}") for i in range(4)]

    def publish_range(pub: Publisher, start: int, stop: int) -> None:
        for seq in range(start, stop):
            pub.publish(topics[seq % 4], payload(seq, {"speed": seq}, ts=BASE_TS + seq))

    async with Gateway(settings, retry=FAST_RETRY, session_expiry_s=0) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            publish_range(pub, 0, 100)
            await pub.flush()
            await wait_for_async(
                lambda: gw.stats.acked == 100 and gw.stats.buffer_depth == 0,
                "first 100 written",
                within=20.0,
            )
            assert await seqs(fresh_influxd, db, site) == list(range(100))

            fresh_influxd.stop()
            publish_range(pub, 100, 300)
            await pub.flush()
            await wait_for_async(
                lambda: gw.stats.acked == 300, "the outage's messages acknowledged", within=20.0
            )
            assert gw.stats.buffer_depth >= 200  # held on disk, not in memory
            assert not gw.influx_up
            assert any(gw.buffer.directory.glob("seg-*.plb"))

            fresh_influxd.start()

            async def complete() -> bool:
                return await seqs(fresh_influxd, db, site) == list(range(300))

            await wait_for_async(complete, "every point after the outage", within=30)
            await wait_for_async(
                lambda: gw.stats.buffer_depth == 0, "the buffer drained", within=20.0
            )
        assert gw.stats.write_errors >= 1
        assert gw.stats.buffered_lines >= 200
        assert gw.stats.dead_letters == 0
        assert not any(gw.buffer.directory.glob("seg-*.plb"))
    rows = await query(fresh_influxd, db, f"SELECT count(seq) FROM pump WHERE site = '{site}'")
    assert rows[0]["count"] == 300


async def test_two_replicas_in_one_share_group_split_the_stream_without_duplicates_or_gaps(
    fresh_mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    first = settings_for(fresh_mosquitto, influxd, tmp_path)
    second = first.model_copy(update={"gateway_id": unique("gw")})
    count = 400
    async with (
        Gateway(first, session_expiry_s=0) as gw1,
        Gateway(second, session_expiry_s=0) as gw2,
    ):
        async with asyncio.timeout(10):
            await gw1.wait_subscribed()
            await gw2.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            for seq in range(count):
                pub.publish(
                    topic(site, "b1", "pump", f"p{seq % 8}"),
                    payload(seq, {"speed": seq}, ts=BASE_TS + seq),
                )
            await pub.flush()

        async def complete() -> bool:
            return await seqs(influxd, first.influx_database, site) == list(range(count))

        await wait_for_async(complete, "every message from either replica", within=20.0)
        await wait_for_async(
            lambda: gw1.stats.acked + gw2.stats.acked == count, "all acknowledged", within=20.0
        )
        assert gw1.stats.messages_in + gw2.stats.messages_in == count
        assert gw1.stats.messages_in > 0 and gw2.stats.messages_in > 0
        assert gw1.stats.lines_written + gw2.stats.lines_written == count


async def test_messages_wait_unacknowledged_until_stored_and_survive_a_restart(
    fresh_mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(
        fresh_mosquitto, influxd, tmp_path, gateway_flush_interval_s=30, gateway_batch_size=1000
    )
    good = topic(site, "b1", "pump", "p1")
    async with Gateway(settings, session_expiry_s=60) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            for seq in range(20):
                pub.publish(good, payload(seq, {"speed": seq}))
            await pub.flush()
        await wait_for_async(
            lambda: gw.stats.messages_in == 20, "the messages delivered", within=20.0
        )
        assert gw.stats.acked == 0  # held in a batch: not stored, so not acknowledged
    # a clean stop flushes the batch and acknowledges it
    assert gw.stats.acked == 20
    assert await seqs(influxd, settings.influx_database, site) == list(range(20))

    # while the gateway is down, the broker keeps its session and queues its messages
    with publisher(fresh_mosquitto) as pub:
        for seq in range(20, 50):
            pub.publish(good, payload(seq, {"speed": seq}))
        await pub.flush()
    restarted = settings.model_copy(update={"gateway_flush_interval_s": 0.1})
    async with Gateway(restarted, session_expiry_s=0) as again:

        async def caught_up() -> bool:
            return await seqs(influxd, settings.influx_database, site) == list(range(50))

        await wait_for_async(
            caught_up, "the messages published while the gateway was down", within=20.0
        )
        await wait_for_async(
            lambda: again.stats.acked == 30, "acknowledged after the restart", within=20.0
        )
        assert again.stats.messages_in == 30


async def test_the_gateway_reconnects_after_the_broker_restarts(
    fresh_mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    settings = settings_for(fresh_mosquitto, influxd, tmp_path)
    good = topic(site, "b1", "pump", "p1")
    async with Gateway(settings, retry=FAST_RETRY, session_expiry_s=60) as gw:
        async with asyncio.timeout(10):
            await gw.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            for seq in range(10):
                pub.publish(good, payload(seq, {"speed": seq}))
            await pub.flush()
        await wait_for_async(lambda: gw.stats.acked == 10, "the first messages stored", within=20.0)

        fresh_mosquitto.stop()
        await wait_for_async(lambda: not gw.subscribed, "the connection drop noticed", within=20.0)
        fresh_mosquitto.start()
        async with asyncio.timeout(15):
            await gw.wait_subscribed()
        with publisher(fresh_mosquitto) as pub:
            for seq in range(10, 20):
                pub.publish(good, payload(seq, {"speed": seq}))
            await pub.flush()

        async def complete() -> bool:
            return await seqs(influxd, settings.influx_database, site) == list(range(20))

        await wait_for_async(complete, "the messages published after the restart", within=20.0)


def start_process(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


async def test_the_process_stops_cleanly_on_sigterm_flushing_what_it_holds(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    site = unique("site")
    port = free_port()
    db = unique("db").replace("-", "_")
    env = {
        **os.environ,
        "PLANTROOM_MQTT_HOST": mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(mosquitto.port),
        "PLANTROOM_INFLUX_URL": influxd.url,
        "PLANTROOM_INFLUX_DATABASE": db,
        "PLANTROOM_GATEWAY_ID": unique("gw"),
        "PLANTROOM_GATEWAY_SHARE_GROUP": unique("grp"),
        "PLANTROOM_GATEWAY_BUFFER_DIR": str(tmp_path / "buffer"),
        "PLANTROOM_GATEWAY_FLUSH_INTERVAL_S": "60",  # only the stop can flush in time
        "PLANTROOM_GATEWAY_METRICS_PORT": str(port),
    }
    log_path = tmp_path / "gateway.log"
    proc = start_process([sys.executable, "-m", "stack", "gateway"], env, log_path)
    try:
        async with httpx.AsyncClient(timeout=2) as client:

            async def metric(name: str) -> float:
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.HTTPError:
                    return -1
                for line in text.splitlines():
                    if line.startswith(f"plantroom_gateway_{name}"):
                        return float(line.rsplit(" ", 1)[1])
                return -1

            await wait_for_async(
                lambda: log_path.read_text().find("subscribed to") >= 0,
                "the gateway subscribed",
                within=20.0,
            )
            with publisher(mosquitto) as pub:
                for seq in range(5):
                    pub.publish(topic(site, "b1", "pump", "p1"), payload(seq, {"speed": seq}))
                await pub.flush()

            async def held() -> bool:
                return await metric("points_in_total") >= 5

            await wait_for_async(held, "the messages held in a batch", within=20.0)
            assert await seqs(influxd, db, site) == []
        proc.send_signal(signal.SIGTERM)
        await wait_for_async(lambda: proc.poll() is not None, "the process to exit", within=20.0)
        assert proc.returncode == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert await seqs(influxd, db, site) == list(range(5))
    assert "stopped (" in log_path.read_text()


async def test_a_bug_in_the_message_handler_stops_the_subscriber_with_that_error(
    fresh_mosquitto: Mosquitto, tmp_path: Path
) -> None:
    def handler(message: Publish, token: AckToken) -> None:
        raise RuntimeError(f"handler bug on {message.topic}")

    settings = GatewaySettings(mqtt_host=fresh_mosquitto.host, mqtt_port=fresh_mosquitto.port)
    subscriber = Subscriber(
        settings,
        client_id=unique("sub"),
        topic_filters=["plantroom/v1/#"],
        on_message=handler,
        receive_maximum=10,
        session_expiry_s=0,
        backoff=FAST_RETRY.backoff(),
    )
    task = asyncio.create_task(subscriber.run())
    try:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        with publisher(fresh_mosquitto) as pub:
            pub.publish("plantroom/v1/x", b"{}")
            await pub.flush()
        with pytest.raises(RuntimeError, match="handler bug on plantroom/v1/x"):
            async with asyncio.timeout(10):
                await task
        assert not subscriber.subscribed.is_set()
    finally:
        subscriber.stop()
        await asyncio.gather(task, return_exceptions=True)
