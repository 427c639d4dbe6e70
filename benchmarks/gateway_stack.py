"""The gateway benchmark's processes and what it asks of them: InfluxDB's query endpoint, the
gateway as a `python -m stack gateway` child pinned to its core, and its `/metrics`."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.gateway_params import GATEWAY_CORE, ROOT
from benchmarks.measure import parse_metrics
from benchmarks.procstat import pinning
from stack.processes import stop_process
from stack.services import Influxd, Mosquitto


def influx_query(influx: Influxd, q: str, db: str | None = None) -> dict[str, Any]:
    params = {"q": q, **({"db": db} if db else {})}
    conn = http.client.HTTPConnection(influx.host, influx.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/query?" + urllib.parse.urlencode(params),
            headers={"Content-Length": "0"},
        )
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"InfluxDB refused {q!r}: HTTP {resp.status} {body[:200]!r}")
    data: dict[str, Any] = json.loads(body)
    for result in data.get("results", []):
        if result.get("error"):
            raise RuntimeError(f"InfluxDB refused {q!r}: {result['error']}")
    return data


def count_seq(influx: Influxd, db: str) -> int:
    data = influx_query(influx, "SELECT count(seq) FROM pump", db)
    series = data["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def metrics(port: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return parse_metrics(text)


def try_metrics(port: int) -> dict[str, float] | None:
    try:
        return metrics(port)
    except OSError:
        return None


@contextlib.contextmanager
def gateway_process(
    mosquitto: Mosquitto, influx: Influxd, workdir: Path, metrics_port: int
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
    env.update(
        {
            "PLANTROOM_MQTT_HOST": mosquitto.host,
            "PLANTROOM_MQTT_PORT": str(mosquitto.port),
            "PLANTROOM_INFLUX_URL": influx.url,
            "PLANTROOM_INFLUX_DATABASE": "plantroom",
            "PLANTROOM_GATEWAY_ID": "bench",
            "PLANTROOM_GATEWAY_BUFFER_DIR": str(workdir / "gateway"),
            "PLANTROOM_GATEWAY_METRICS_PORT": str(metrics_port),
            "PYTHONPATH": str(ROOT),
        }
    )
    cmd = [sys.executable, "-m", "stack", "gateway", "--log-level", "WARNING"]
    taskset = shutil.which("taskset")
    if pinning() and taskset:
        cmd = [taskset, "-c", str(GATEWAY_CORE), *cmd]
    log = open(workdir / "gateway.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        if pinning() and not taskset:
            os.sched_setaffinity(proc.pid, {GATEWAY_CORE})
        yield proc
    finally:
        if proc.poll() is None:
            stop_process(proc, 20)
        log.close()
