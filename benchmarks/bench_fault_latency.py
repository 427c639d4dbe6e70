"""Fault → work order latency: from publishing a fault to the work order being visible in the
API.

Everything runs for real on this machine, in a temporary directory: mosquitto, and one
`python -m stack cloud` process (SQLite database, demo users, default settings) with an
inventory of PUMPS pumps in four buildings. After every pump has reported once (normal
values), the benchmark takes the pumps one by one: it publishes a telemetry sample with the
pump's dry-run bit set (QoS 1) and polls `GET /api/work-orders?equipment_id=<pump>` over one
keep-alive connection until the work order is there. The latency of a fault is the time from
just before the publish to the answer that shows its work order: MQTT, validation, the rule
engine, the alarm and work order written in one transaction, and the API read. Faults are
taken one at a time, so each measures an idle service, not a queue. The run is bounded by
FAULTS and by BUDGET_S.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from benchmarks.measure import mqtt_client
from plantroom.ports import free_port
from stack.processes import stop_process
from stack.services import Mosquitto

TITLE = "Fault → work order latency"

BUILDINGS = ("tower-a", "tower-b", "podium", "annex")
PUMPS = 200
FAULTS = 200
BUDGET_S = 120.0
FAULT_TIMEOUT_S = 5.0
POLL_S = 0.001
START_TIMEOUT_S = 60.0
TARGET_P99_MS = 250.0
SITE = "bench"


def inventory() -> str:
    lines = [f"site: {{id: {SITE}, timezone: UTC}}", "buildings:"]
    per_building = PUMPS // len(BUILDINGS)
    n = 0
    for b, building in enumerate(BUILDINGS):
        lines += [f"  - id: {building}", "    equipment:"]
        for _ in range(per_building):
            n += 1
            lines.append(
                f"      - {{id: pump-{n:03d}, kind: pump, profile: plantroom-sim-pump, "
                f"connection: {{type: modbus_tcp, host: 127.0.0.1, port: {5100 + b}, "
                f"unit: {1 + (n - 1) % per_building}}}}}"
            )
    return "\n".join(lines) + "\n"


def pumps() -> list[tuple[str, str]]:
    per_building = PUMPS // len(BUILDINGS)
    return [(BUILDINGS[(n - 1) // per_building], f"pump-{n:03d}") for n in range(1, PUMPS + 1)]


def topic(building: str, pump: str) -> str:
    return f"plantroom/v1/{SITE}/{building}/pump/{pump}/telemetry"


def sample(seq: int, points: dict[str, Any]) -> bytes:
    return json.dumps({"ts": int(time.time() * 1000), "seq": seq, "points": points}).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@contextlib.contextmanager
def cloud(
    tmp: Path, broker: Mosquitto, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The cloud service as its own process (`extra_env` added to its environment); yields
    its URL, an auth header and its log."""
    with cloud_process(tmp, broker, extra_env) as (url, headers, log, _):
        yield url, headers, log


@contextlib.contextmanager
def cloud_process(
    tmp: Path, broker: Mosquitto, extra_env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, dict[str, str], Path, subprocess.Popen[bytes]]]:
    """`cloud`, with the process itself."""
    (tmp / "site.yaml").write_text(inventory(), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "PLANTROOM_INVENTORY": str(tmp / "site.yaml"),
        "PLANTROOM_DATABASE_URL": f"sqlite:///{tmp}/cloud.sqlite",
        "PLANTROOM_API_HOST": "127.0.0.1",
        "PLANTROOM_API_PORT": str(port),
        "PLANTROOM_MQTT_HOST": broker.host,
        "PLANTROOM_MQTT_PORT": str(broker.port),
        "PLANTROOM_DEMO_MODE": "true",
        "PLANTROOM_DEMO_CREDENTIALS_PATH": str(tmp / "credentials.json"),
        "PLANTROOM_GRAFANA_URL": "",
        **(extra_env or {}),
    }
    log = tmp / "cloud.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack", "cloud", "--log-level", "WARNING"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the cloud service exited: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    health = httpx.get(f"{url}/api/health", timeout=1.0).json()
                    if health.get("mqtt", {}).get("connected"):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the cloud service did not start: {log.read_text()[-2000:]}"
                    )
                time.sleep(0.1)
            users = json.loads((tmp / "credentials.json").read_text())["users"]
            token = next(u["token"] for u in users if u["username"] == "tech1")
            yield url, {"Authorization": f"Bearer {token}"}, log, proc
        finally:
            stop_process(proc, 30)


def measure(url: str, headers: dict[str, str], broker: Mosquitto) -> tuple[list[float], int]:
    """Latencies in ms of the faults measured, and how many timed out."""
    client = mqtt_client(broker.host, broker.port, "bench")
    latencies: list[float] = []
    timeouts = 0
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=5.0) as api:
            seq = 0
            for building, pump in pumps():  # every pump reports once, all is well
                seq += 1
                client.publish(topic(building, pump), sample(seq, {"dry_run": False}), qos=1)
            last_pump = pumps()[-1][1]
            deadline = time.monotonic() + 30
            while api.get(f"/api/equipment/{last_pump}").json().get("last_seq") != seq:
                if time.monotonic() > deadline:
                    raise RuntimeError("the first samples were not processed in 30 s")
                time.sleep(0.05)
            started = time.monotonic()
            for building, pump in pumps()[:FAULTS]:
                if time.monotonic() - started > BUDGET_S:
                    break
                seq += 1
                payload = sample(seq, {"dry_run": True})
                t0 = time.perf_counter()
                client.publish(topic(building, pump), payload, qos=1)
                while True:
                    page = api.get("/api/work-orders", params={"equipment_id": pump}).json()
                    if page["total"] >= 1:
                        latencies.append((time.perf_counter() - t0) * 1000)
                        break
                    if time.perf_counter() - t0 > FAULT_TIMEOUT_S:
                        timeouts += 1
                        break
                    time.sleep(POLL_S)
    finally:
        client.loop_stop()
        client.disconnect()
    return latencies, timeouts


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-fault-") as name:
        tmp = Path(name)
        broker = Mosquitto(tmp / "mosquitto")
        with broker, cloud(tmp, broker) as (url, headers, _log):
            latencies, timeouts = measure(url, headers, broker)
    if not latencies:
        return f"No fault produced a work order within {FAULT_TIMEOUT_S:g} s ({timeouts} tried)."
    p50 = percentile(latencies, 50)
    p90 = percentile(latencies, 90)
    p99 = percentile(latencies, 99)
    verdict = "meets" if p99 <= TARGET_P99_MS and not timeouts else "misses"
    return f"""
{PUMPS} pumps in {len(BUILDINGS)} buildings; one `python -m stack cloud` process (SQLite,
default settings) and mosquitto on this machine. Each pump in turn publishes a sample with its
dry-run bit set (MQTT QoS 1); the latency runs from just before the publish until
`GET /api/work-orders?equipment_id=…` answers with the work order (polled every
{POLL_S * 1000:g} ms over one keep-alive connection). One fault at a time.

| faults | p50 | p90 | p99 | max | mean | timed out (> {FAULT_TIMEOUT_S:g} s) |
|---|---|---|---|---|---|---|
| {len(latencies)} | {p50:.1f} ms | {p90:.1f} ms | {p99:.1f} ms | {max(latencies):.1f} ms | \
{statistics.fmean(latencies):.1f} ms | {timeouts} |

Target: p99 ≤ {TARGET_P99_MS:g} ms — the run **{verdict}** it.
"""
