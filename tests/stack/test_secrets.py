"""Secrets come from the environment and never reach a log.

The gateway and the cloud process run as real processes at DEBUG with every password and
token they take set (MQTT, InfluxDB, webhook signing, Grafana), do real work with them
(subscribe, write telemetry and metrics to InfluxDB, try webhooks and Grafana that do not
answer), and stop; nothing either process printed may contain a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from paho.mqtt import publish

from plantroom.ports import free_port
from stack.services import Influxd, Mosquitto
from tests.harness import REPO, influx_query, terminate, wait_for

pytestmark = pytest.mark.integration


SECRETS = {
    "PLANTROOM_MQTT_PASSWORD": "mqtt-pw-6f1c2e9a",
    "PLANTROOM_INFLUX_PASSWORD": "influx-pw-0b7d44c1",
    "PLANTROOM_WEBHOOK_SECRET": "webhook-key-93ad7e20",
    "PLANTROOM_GRAFANA_TOKEN": "glsa_grafana-tok-5e8b19f3",
}


@contextmanager
def process(
    name: str, args: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A Plantroom process with its stdout and stderr in `log`; stopped by SIGTERM at the end
    (killed if it does not stop in time)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack", name, *args, "--log-level", "DEBUG"],
            cwd=log.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            terminate(proc)


def logged(log: Path, text: str, proc: subprocess.Popen[bytes]) -> bool:
    assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
    return text in log.read_text(errors="replace")


def test_no_secret_is_ever_logged(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> None:
    port = free_port()
    database = f"secrets_{port}"
    dead = f"http://127.0.0.1:{free_port()}"  # webhooks and Grafana that never answer
    env = {
        **os.environ,
        **SECRETS,
        "PLANTROOM_INVENTORY": str(REPO / "sites" / "demo.yaml"),
        "PLANTROOM_MQTT_HOST": mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(mosquitto.port),
        "PLANTROOM_MQTT_USERNAME": "plantroom",
        "PLANTROOM_INFLUX_URL": influxd.url,
        "PLANTROOM_INFLUX_DATABASE": database,
        "PLANTROOM_INFLUX_USERNAME": "plantroom",
        "PLANTROOM_GATEWAY_SHARE_GROUP": f"ingest-{port}",
        "PLANTROOM_GATEWAY_BUFFER_DIR": str(tmp_path / "gateway-buffer"),
        "PLANTROOM_GATEWAY_FLUSH_INTERVAL_S": "0.2",
        "PLANTROOM_CLOUD_SHARE_GROUP": f"rules-{port}",
        "PLANTROOM_DATABASE_URL": f"sqlite:///{tmp_path}/cloud.sqlite",
        "PLANTROOM_API_PORT": str(port),
        "PLANTROOM_WEBHOOK_URLS": json.dumps([f"{dead}/hook"]),
        "PLANTROOM_WEBHOOK_MAX_ATTEMPTS": "2",
        "PLANTROOM_WEBHOOK_TIMEOUT_S": "1",
        "PLANTROOM_GRAFANA_URL": dead,
        "PLANTROOM_DEMO_MODE": "true",  # users with tokens (printed by design, not secrets here)
        "PLANTROOM_DEMO_CREDENTIALS_PATH": str(tmp_path / "credentials.json"),
    }
    gateway_log, cloud_log = tmp_path / "gateway.log", tmp_path / "cloud.log"
    with ExitStack() as stack:
        gateway = stack.enter_context(process("gateway", [], env, gateway_log))
        cloud = stack.enter_context(process("cloud", [], env, cloud_log))
        wait_for(
            lambda: logged(gateway_log, "subscribed to", gateway), "gateway subscribed", within=30
        )

        def cloud_connected() -> bool:
            assert cloud.poll() is None, cloud_log.read_text(errors="replace")[-2000:]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()
            except httpx.TransportError:
                return False
            return bool(health["mqtt"]["connected"])

        wait_for(cloud_connected, "cloud connected to the broker", within=30)
        # real work with the secrets: telemetry through the gateway into InfluxDB, a job asked
        # for (webhooks and a Grafana annotation that fail), metrics written by the cloud
        sample = {"ts": int(time.time() * 1000), "seq": 1, "points": {"running": True}}
        publish.single(
            "plantroom/v1/harbour/tower-a/pump/pump-a1/telemetry",
            json.dumps(sample),
            qos=1,
            hostname=mosquitto.host,
            port=mosquitto.port,
        )
        wait_for(
            lambda: influx_query(influxd.url, database, 'SELECT * FROM "pump"'),
            "the sample in InfluxDB",
            within=30,
        )
        wait_for(
            lambda: influx_query(influxd.url, database, 'SHOW SERIES FROM "work_orders"'),
            "the cloud's work-order metrics in InfluxDB",
            within=30,
        )
        users = json.loads((tmp_path / "credentials.json").read_text())["users"]
        token = next(u["token"] for u in users if u["username"] == "super1")
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/work-orders",
            headers={"Authorization": f"Bearer {token}"},
            json={"title": "Pump A1 is noisy", "equipment_id": "pump-a1"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        wait_for(
            lambda: logged(cloud_log, "delivery of event(s)", cloud),
            "a failed webhook delivery logged",
            within=30,
        )
    assert gateway.returncode == 0, gateway_log.read_text(errors="replace")[-2000:]
    assert cloud.returncode == 0, cloud_log.read_text(errors="replace")[-2000:]
    leaks: list[str] = []
    for log in (gateway_log, cloud_log):
        lines = log.read_text(errors="replace").splitlines()
        assert any(" DEBUG " in line for line in lines)  # the most talkative level was on
        leaks.extend(
            f"{log.name}: {name} in {line[:200]!r}"
            for line in lines
            for name, secret in SECRETS.items()
            if secret in line
        )
    assert not leaks, f"{len(leaks)} log lines show a secret, first ones:\n" + "\n".join(leaks[:6])
