"""Campus load: 1,000 simulated devices at 1 s polling through the whole stack on one machine.

Everything runs for real, in a temporary directory, on free ports: mosquitto and influxd
(`stack.services`), and as their own processes `plantroom sim` serving a generated site
(10 buildings x 25 devices of each kind: 750 Modbus devices, 250 lighting controllers on
MQTT), one `plantroom edge` agent per building with every poll class at 1 s, one
`plantroom gateway` and one `plantroom cloud` (SQLite, demo users). After a warm-up the stack
is measured over a steady window of `PLANTROOM_BENCH_CAMPUS_S` seconds (600 by default):

* **on-schedule polls**: from the agents' own health reports (cumulative per-device
  `polls`, `on_schedule`, `late`, `skipped`), the difference between the first report inside
  the window and the last: `on_schedule / (polls + skipped)`.
* **device sample → InfluxDB**: a few devices of every kind in one building are traced. A
  probe queries InfluxDB every PROBE_S for their recent samples; a sample's latency is from
  its edge timestamp (taken when the poll starts) to the answer of the first query that
  returned it: an upper bound, at most one probe interval (plus the query's own time) above
  the true figure. The same building's telemetry is also read from the broker, which gives
  the edge → broker part and tells which traced samples never reached InfluxDB.
* **fault → work order**: every FAULT_EVERY_S one fire panel gets `fire_alarm` through the
  simulator's control API; the cloud API is polled until the panel's work order is listed,
  and the fault is cleared. Measured from the injection and, as issue 6 defines it, from the
  poll that saw the fault (the edge timestamp of the first telemetry carrying it).
* **CPU and RSS** of every process from /proc, sampled every second; **points/s** from the
  gateway's `/metrics` (point values InfluxDB acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from benchmarks.procstat import cpu_seconds, machine_busy_seconds, memory_kib, own_cpu
from plantroom.errors import InvalidMessage
from plantroom.health import EdgeHealth, parse_edge_health
from plantroom.inventory import load_inventory
from plantroom.ports import free_port, port_is_free
from plantroom.topics import EDGE_HEALTH_WILDCARD, parse_edge_topic
from simulators.control import ControlClient
from simulators.errors import ControlError
from simulators.generate import generate_site, generated_ports
from stack.services import Influxd, Mosquitto

TITLE = "Campus load: 1,000 devices through the whole stack"

BUILDINGS, PER_KIND = 10, 25
SITE = "campus"
DURATION_S = float(os.environ.get("PLANTROOM_BENCH_CAMPUS_S", "600"))
FULL_DURATION_S = 600.0
WARMUP_S = 20.0
START_TIMEOUT_S = 120.0
HEALTH_INTERVAL_S = 5.0
# the agent's default for MQTT devices is twice the slow poll interval, 2 s once every class
# polls at 1 s; lighting controllers publish every second, so ten missed messages make stale
MQTT_STALE_AFTER_S = 10.0
SAMPLE_S = 1.0
PROBE_S = 0.25
LOOKBACK_S = 15.0
DRAIN_S = 5.0
TRACED_BUILDING = "b01"
TRACED_PER_KIND = 5
FAULT_EVERY_S = 6.0
FAULT_NAME = "fire_alarm"
FAULT_TIMEOUT_S = 20.0
API_POLL_S = 0.025
QUIET_CORES = 0.25
KINDS = ("elevator", "pump", "fire_panel", "lighting")

TARGET_ON_SCHEDULE = 0.999  # issue 4
TARGET_EDGE_RSS_MB = 150.0  # issue 4
TARGET_FAULT_P99_MS = 250.0  # issue 6, from the poll that sees the fault

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
PLANTROOM = ROOT / ".venv" / "bin" / "plantroom"


# -- pure helpers -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class PollTally:
    """Poll figures of a window: differences of cumulative counters."""

    polls: int = 0
    on_schedule: int = 0
    late: int = 0
    skipped: int = 0
    timeouts: int = 0

    @property
    def ratio(self) -> float:
        due = self.polls + self.skipped
        return self.on_schedule / due if due else float("nan")

    def __add__(self, other: PollTally) -> PollTally:
        return PollTally(
            self.polls + other.polls,
            self.on_schedule + other.on_schedule,
            self.late + other.late,
            self.skipped + other.skipped,
            self.timeouts + other.timeouts,
        )


_POLL_FIGURES = ("polls", "on_schedule", "late", "skipped", "timeouts")


def _tally(figures: Mapping[str, float], suffix: str = "") -> PollTally | None:
    if any(f"{name}{suffix}" not in figures for name in _POLL_FIGURES[:4]):
        return None
    return PollTally(*(int(figures.get(f"{name}{suffix}", 0)) for name in _POLL_FIGURES))


def health_tally(report: EdgeHealth) -> PollTally | None:
    """The cumulative poll figures of one agent's report; None when it carries none.

    Per-device figures are summed when present; otherwise the agent-wide `*_total` figures
    are used.
    """
    per_device = [_tally(figures) for figures in report.devices.values()]
    found = [t for t in per_device if t is not None]
    if found:
        total = PollTally()
        for t in found:
            total = total + t
        return total
    return _tally(report.agent, "_total")


def window_tally(first: EdgeHealth, last: EdgeHealth) -> PollTally | None:
    """What one agent polled between two of its reports (counters are cumulative)."""
    a, b = health_tally(first), health_tally(last)
    if a is None or b is None:
        return None
    return PollTally(
        b.polls - a.polls,
        b.on_schedule - a.on_schedule,
        b.late - a.late,
        b.skipped - a.skipped,
        b.timeouts - a.timeouts,
    )


def influx_rows(data: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(equipment, seq, ts ms) of every row of a `SELECT seq … GROUP BY equipment` answer."""
    rows: list[tuple[str, int, int]] = []
    for result in data.get("results", []):
        if result.get("error"):
            raise RuntimeError(f"InfluxDB refused the probe query: {result['error']}")
        for series in result.get("series", []):
            equipment = series.get("tags", {}).get("equipment")
            columns = series.get("columns", [])
            if equipment is None or "seq" not in columns or "time" not in columns:
                continue
            t, s = columns.index("time"), columns.index("seq")
            for values in series.get("values", []):
                if values[s] is not None:
                    rows.append((equipment, int(values[s]), int(values[t])))
    return rows


def probe_query(site: str, equipment: Iterable[str], since_ms: int) -> str:
    """The InfluxQL probe: the traced devices' samples newer than `since_ms`."""
    ids = sorted(equipment)
    if not ids:
        raise ValueError("no equipment to probe")
    match = " OR ".join(f"\"equipment\"='{e}'" for e in ids)
    kinds = ",".join(f'"{k}"' for k in KINDS)
    return (
        f'SELECT "seq" FROM {kinds} WHERE "site"=\'{site}\' AND ({match}) '
        f'AND time > {since_ms}ms GROUP BY "equipment"'
    )


def parse_metrics(text: str) -> dict[str, float]:
    """The gateway's Prometheus text as {counter name without prefix/suffix: value}."""
    found: dict[str, float] = {}
    for row in text.splitlines():
        if row.startswith("plantroom_gateway_"):
            name, _, value = row.rpartition(" ")
            key = name.split("{", 1)[0].removeprefix("plantroom_gateway_").removesuffix("_total")
            found[key] = float(value)
    return found


# -- /proc --------------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    kib = memory_kib(pid).get("VmRSS")
    return kib / 1024 if kib is not None else float("nan")


# -- the stack ----------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            rows = self.log.read_text(errors="replace").splitlines()
            return "\n".join([r for r in rows if " token: " not in r][-lines:])  # no secrets
        return ""


@dataclass
class Stack:
    work: Path
    mosquitto: Mosquitto
    influxd: Influxd
    control_url: str = ""
    api_url: str = ""
    token: str = ""
    metrics_url: str = ""
    children: list[Child] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        log = self.work / f"{name}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(PLANTROOM), *args, "--log-level", "WARNING"],
                cwd=self.work,
                env={**base, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited (code {child.proc.returncode}):\n{child.tail()}"
                )

    def pids(self) -> dict[str, int]:
        found = {c.name: c.proc.pid for c in self.children}
        for server in (self.mosquitto, self.influxd):
            if server.pid is not None:
                found[server.name] = server.pid
        return found

    def stop(self) -> None:
        """Stop every child process group: edges first, servers last; SIGKILL stragglers."""
        order = sorted(self.children, key=lambda c: 0 if c.name.startswith("edge") else 1)
        for child in order:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in order:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait(5)
            _signal_group(child.proc, signal.SIGKILL)  # anything the child left in its group


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _port_block(count: int) -> int:
    for base in range(21000, 60000 - count, 97):
        if all(port_is_free(HOST, base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


def _wait(what: str, ready: Any, stack: Stack, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")
        time.sleep(0.2)


def _sim_ready(url: str) -> bool:
    try:
        ControlClient(url, timeout=1).faults()
    except ControlError:
        return False
    return True


def _cloud_ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        health = httpx.get(f"{url}/api/health", timeout=1.0).json()
        return bool(health.get("mqtt", {}).get("connected"))
    return False


def _gateway_ready(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return "points_out" in parse_metrics(httpx.get(url, timeout=1.0).text)
    return False


def start_stack(stack: Stack, site_file: Path) -> None:
    mqtt = {
        "PLANTROOM_MQTT_HOST": stack.mosquitto.host,
        "PLANTROOM_MQTT_PORT": str(stack.mosquitto.port),
    }
    inv = {"PLANTROOM_INVENTORY": str(site_file)}
    control = free_port()
    stack.control_url = f"http://{HOST}:{control}"
    stack.spawn("sim", ["sim"], {**mqtt, **inv, "PLANTROOM_SIM_CONTROL_PORT": str(control)})
    _wait("the simulator", lambda: _sim_ready(stack.control_url), stack)

    api = free_port()
    stack.api_url = f"http://{HOST}:{api}"
    credentials = stack.work / "credentials.json"
    stack.spawn(
        "cloud",
        ["cloud"],
        {
            **mqtt,
            **inv,
            "PLANTROOM_DATABASE_URL": f"sqlite:///{stack.work}/cloud.sqlite",
            "PLANTROOM_API_HOST": HOST,
            "PLANTROOM_API_PORT": str(api),
            "PLANTROOM_INFLUX_URL": stack.influxd.url,
            "PLANTROOM_DEMO_MODE": "true",
            "PLANTROOM_DEMO_CREDENTIALS_PATH": str(credentials),
            "PLANTROOM_GRAFANA_URL": "",
        },
    )
    metrics_port = free_port()
    stack.metrics_url = f"http://{HOST}:{metrics_port}/metrics"
    stack.spawn(
        "gateway",
        ["gateway"],
        {
            **mqtt,
            **inv,
            "PLANTROOM_INFLUX_URL": stack.influxd.url,
            "PLANTROOM_GATEWAY_BUFFER_DIR": str(stack.work / "gateway-buffer"),
            "PLANTROOM_GATEWAY_METRICS_PORT": str(metrics_port),
        },
    )
    _wait("the cloud service", lambda: _cloud_ready(stack.api_url), stack)
    users = json.loads(credentials.read_text())["users"]
    stack.token = next(u["token"] for u in users if u["username"] == "tech1")
    _wait("the gateway", lambda: _gateway_ready(stack.metrics_url), stack)

    for b in range(1, BUILDINGS + 1):
        building = f"b{b:0{len(str(BUILDINGS))}d}"
        agent = f"edge-{building}"
        stack.agents.append(agent)
        stack.spawn(
            agent,
            ["edge", "--agent-id", agent, "--building", building],
            {
                **mqtt,
                **inv,
                "PLANTROOM_EDGE_BUFFER_PATH": str(stack.work / agent / "buffer.sqlite"),
                "PLANTROOM_EDGE_POLL_INTERVAL_S": "1.0",
                "PLANTROOM_EDGE_NORMAL_EVERY": "1",
                "PLANTROOM_EDGE_SLOW_EVERY": "1",
                "PLANTROOM_EDGE_HEALTH_INTERVAL_S": str(HEALTH_INTERVAL_S),
                "PLANTROOM_EDGE_MQTT_STALE_AFTER_S": str(MQTT_STALE_AFTER_S),
            },
        )


# -- the measurement ----------------------------------------------------------------------


@dataclass
class Results:
    startup_s: float = 0.0
    t0: float = 0.0  # wall clock of the window
    t1: float = 0.0
    window_s: float = 0.0
    health: dict[str, list[tuple[float, EdgeHealth]]] = field(default_factory=dict)
    broker_latency_ms: list[float] = field(default_factory=list)
    broker_seen: dict[tuple[str, int], int] = field(default_factory=dict)  # → ts ms
    influx_seen: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    probes: int = 0
    probe_gaps: list[float] = field(default_factory=list)
    fault_inject_ms: list[float] = field(default_factory=list)
    fault_poll_ms: list[float] = field(default_factory=list)
    fault_timeouts: int = 0
    cloud_lag_s: list[float] = field(default_factory=list)
    cloud0: dict[str, float] = field(default_factory=dict)
    cloud1: dict[str, float] = field(default_factory=dict)
    cloud_queued_max: int = 0
    cpu0: dict[str, float] = field(default_factory=dict)
    cpu1: dict[str, float] = field(default_factory=dict)
    rss: dict[str, list[float]] = field(default_factory=dict)
    metrics0: dict[str, float] = field(default_factory=dict)
    metrics1: dict[str, float] = field(default_factory=dict)
    batch_latency_ms: list[float] = field(default_factory=list)
    load_avg: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Fault:
    equipment: str
    topic: str
    injected_ms: int = 0
    poll_ts: int | None = None
    seen: asyncio.Event = field(default_factory=asyncio.Event)


class Campus:
    def __init__(self, stack: Stack, traced: dict[str, str], panels: list[tuple[str, str]]):
        self.stack = stack
        self.traced = traced  # equipment → building's telemetry topic, in the traced building
        self.panels = panels  # (building, fire panel id) outside the traced building
        self.r = Results()
        self.t0 = self.t1 = 0.0  # wall clock of the window
        self.fault: Fault | None = None
        self.client: aiomqtt.Client | None = None

    # MQTT: health reports, the traced building's telemetry, the faulted panel's telemetry
    def _on_message(self, topic: str, payload: bytes, now: float) -> None:
        parts = topic.split("/")
        if parts[-1] == "health":
            try:
                _, agent, _ = parse_edge_topic(topic)
                report = parse_edge_health(topic, payload)
            except (ValueError, InvalidMessage):
                return
            self.r.health.setdefault(agent, []).append((now, report))
            return
        if parts[-1] != "telemetry" or len(parts) != 7:
            return
        data = json.loads(payload)
        equipment, ts, seq = parts[5], int(data["ts"]), int(data["seq"])
        fault = self.fault
        if (
            fault is not None
            and equipment == fault.equipment
            and fault.poll_ts is None
            and data.get("points", {}).get(FAULT_NAME) is True
            and ts >= fault.injected_ms - 1000
        ):
            fault.poll_ts = ts
            fault.seen.set()
        if parts[3] == TRACED_BUILDING and self.t0 <= ts / 1000 <= self.t1:
            self.r.broker_latency_ms.append(now * 1000 - ts)
            if equipment in self.traced:
                self.r.broker_seen[(equipment, seq)] = ts

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, bytes | bytearray):
                self._on_message(str(message.topic), bytes(payload), time.time())

    async def _sample(self, stop: asyncio.Event) -> None:
        pids = self.stack.pids()
        http = httpx.AsyncClient(timeout=5.0)
        async with http:
            while True:
                first = not self.r.cpu0
                cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
                cpu["bench"] = own_cpu()
                cpu["machine"] = machine_busy_seconds()
                cpu["wall"] = time.monotonic()
                for name, pid in pids.items():
                    self.r.rss.setdefault(name, []).append(rss_mib(pid))
                m = parse_metrics((await http.get(self.stack.metrics_url)).text)
                m["wall"] = time.monotonic()
                health = (await http.get(f"{self.stack.api_url}/api/health")).json()["mqtt"]
                c = {k: float(health[k]) for k in ("received", "dropped", "queued")}
                c["wall"] = time.monotonic()
                self.r.cloud_queued_max = max(self.r.cloud_queued_max, int(c["queued"]))
                if first:
                    self.r.cpu0, self.r.metrics0, self.r.cloud0 = cpu, m, c
                self.r.cpu1, self.r.metrics1, self.r.cloud1 = cpu, m, c
                if m.get("batch_latency_ms"):
                    self.r.batch_latency_ms.append(m["batch_latency_ms"])
                self.stack.check_alive()
                if stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_S)

    async def _probe(self, stop: asyncio.Event) -> None:
        url = f"{self.stack.influxd.url}/query"
        previous: float | None = None
        async with httpx.AsyncClient(timeout=10.0) as http:
            while not stop.is_set():
                sent = time.time()
                q = probe_query(SITE, self.traced, int((sent - LOOKBACK_S) * 1000))
                resp = await http.post(url, params={"db": "plantroom", "epoch": "ms", "q": q})
                answered = time.time()
                resp.raise_for_status()
                rows = influx_rows(resp.json())
                if previous is not None:
                    self.r.probes += 1
                    self.r.probe_gaps.append(answered - previous)
                    for equipment, seq, ts in rows:
                        key = (equipment, seq)
                        if key not in self.r.influx_seen and self.t0 <= ts / 1000 <= self.t1:
                            self.r.influx_seen[key] = (
                                (previous - ts / 1000) * 1000,
                                (answered - ts / 1000) * 1000,
                            )
                previous = sent
                await asyncio.sleep(max(0.0, PROBE_S - (time.time() - sent)))

    async def _faults(self, client: aiomqtt.Client) -> None:
        control = ControlClient(self.stack.control_url, timeout=10)
        headers = {"Authorization": f"Bearer {self.stack.token}"}
        # uvicorn closes a keep-alive connection idle for 5 s; faults come every 6 s, so the
        # client drops idle connections first rather than race the server's close
        limits = httpx.Limits(keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=self.stack.api_url, headers=headers, timeout=10, limits=limits
        ) as api:
            for n, (building, panel) in enumerate(self.panels):
                at = max(self.t0 + FAULT_EVERY_S * (n + 0.5), time.time())
                if at + FAULT_TIMEOUT_S > self.t1:
                    return
                await asyncio.sleep(at - time.time())
                topic = f"plantroom/v1/{SITE}/{building}/fire_panel/{panel}/telemetry"
                params = {"equipment_id": panel}
                before = int((await api.get("/api/work-orders", params=params)).json()["total"])
                await client.subscribe(topic, qos=1)
                fault = Fault(panel, topic, injected_ms=int(time.time() * 1000))
                self.fault = fault
                started = time.time()
                await asyncio.to_thread(control.inject, panel, FAULT_NAME)
                found = None
                while time.time() - started < FAULT_TIMEOUT_S:
                    page = (await api.get("/api/work-orders", params=params)).json()
                    if int(page["total"]) > before:
                        found = time.time()
                        break
                    await asyncio.sleep(API_POLL_S)
                if found is None:
                    self.r.fault_timeouts += 1
                    state = (await api.get(f"/api/equipment/{panel}")).json()
                    last = state.get("last_sample_at")
                    if last:
                        seen = datetime.fromisoformat(last)
                        if seen.tzinfo is None:
                            seen = seen.replace(tzinfo=UTC)
                        self.r.cloud_lag_s.append(time.time() - seen.timestamp())
                else:
                    self.r.fault_inject_ms.append((found - started) * 1000)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(fault.seen.wait(), 5.0)
                    if fault.poll_ts is not None:
                        self.r.fault_poll_ms.append(found * 1000 - fault.poll_ts)
                self.fault = None
                await asyncio.to_thread(control.clear, panel)
                await client.unsubscribe(topic)

    async def _wait_for_agents(self, started: float) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while set(self.r.health) < set(self.stack.agents):
            self.stack.check_alive()
            if time.monotonic() > deadline:
                missing = sorted(set(self.stack.agents) - set(self.r.health))
                raise RuntimeError(f"no health report from {missing} in {START_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.2)
        self.r.startup_s = time.monotonic() - started

    async def run(self, started: float) -> Results:
        telemetry = f"plantroom/v1/{SITE}/{TRACED_BUILDING}/+/+/telemetry"
        async with aiomqtt.Client(
            self.stack.mosquitto.host, self.stack.mosquitto.port, identifier="bench-campus"
        ) as client:
            await client.subscribe(
                EDGE_HEALTH_WILDCARD.replace("/+/edge/", f"/{SITE}/edge/"), qos=1
            )
            await client.subscribe(telemetry, qos=1)
            listener = asyncio.create_task(self._listen(client), name="listen")
            try:
                await self._wait_for_agents(started)
                await asyncio.sleep(WARMUP_S)
                self.t0 = time.time()
                self.t1 = self.t0 + DURATION_S
                stop, probe_stop = asyncio.Event(), asyncio.Event()
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._sample(stop), name="sample")
                    tg.create_task(self._probe(probe_stop), name="probe")
                    tg.create_task(self._faults(client), name="faults")
                    await asyncio.sleep(max(0.0, self.t1 - time.time()))
                    stop.set()
                    self.r.load_avg = os.getloadavg()
                    await asyncio.sleep(DRAIN_S)
                    probe_stop.set()
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
        self.r.t0, self.r.t1 = self.t0, self.t1
        self.r.window_s = self.t1 - self.t0
        return self.r


def traced_equipment(site_file: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    inventory = load_inventory(site_file)
    traced: dict[str, str] = {}
    panels: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    for where, eq in inventory.equipment():
        kind = eq.kind.value
        if where.id == TRACED_BUILDING and counts.get(kind, 0) < TRACED_PER_KIND:
            counts[kind] = counts.get(kind, 0) + 1
            traced[eq.id] = kind
        elif where.id != TRACED_BUILDING and kind == "fire_panel":
            panels.append((where.id, eq.id))
    # spread the faults over the buildings: the first panel of each, then the second, …
    order = {b: i for i, b in enumerate(dict.fromkeys(b for b, _ in panels))}
    seen: dict[str, int] = {}
    ranked = []
    for building, panel in panels:
        seen[building] = seen.get(building, 0) + 1
        ranked.append((seen[building], order[building], building, panel))
    return traced, [(b, p) for _, _, b, p in sorted(ranked)]


# -- the report ---------------------------------------------------------------------------


def _in_window(
    reports: list[tuple[float, EdgeHealth]], t0: float, t1: float
) -> tuple[EdgeHealth, EdgeHealth] | None:
    inside = [rep for at, rep in reports if t0 <= at <= t1 + 1.0]
    if len(inside) < 2:
        return None
    return inside[0], inside[-1]


def _ms(values: Sequence[float], q: float) -> str:
    return f"{percentile(values, q):,.0f} ms" if values else "n/a"


def _cores(r: Results, name: str) -> float:
    wall = r.cpu1.get("wall", 0.0) - r.cpu0.get("wall", 0.0)
    if wall <= 0 or name not in r.cpu0:
        return float("nan")
    return (r.cpu1[name] - r.cpu0[name]) / wall


def _rss(r: Results, names: Iterable[str]) -> tuple[float, float]:
    values = [v for n in names for v in r.rss.get(n, []) if not math.isnan(v)]
    return (statistics.fmean(values), max(values)) if values else (float("nan"), float("nan"))


def report(r: Results, agents: Sequence[str], traced: int) -> str:
    # polls
    tallies: list[PollTally] = []
    short = 0
    for agent in agents:
        pair = _in_window(r.health.get(agent, []), r.t0, r.t1)
        if pair is None:
            short += 1
            continue
        t = window_tally(*pair)
        if t is not None:
            tallies.append(t)
    polls = PollTally()
    for t in tallies:
        polls = polls + t
    # latencies
    upper = [u for _, u in r.influx_seen.values()]
    lower = [lo for lo, _ in r.influx_seen.values()]
    missing = sum(1 for k, ts in r.broker_seen.items() if k not in r.influx_seen)
    wall = r.metrics1.get("wall", 0.0) - r.metrics0.get("wall", 0.0)

    def rate(key: str) -> float:
        return (r.metrics1.get(key, 0.0) - r.metrics0.get(key, 0.0)) / wall if wall > 0 else 0.0

    names = {
        "simulator": ["sim"],
        f"edge agents (all {len(agents)})": list(agents),
        "gateway": ["gateway"],
        "cloud": ["cloud"],
        "mosquitto": ["mosquitto"],
        "influxd": ["influxd"],
    }
    rows = []
    total = 0.0
    for label, members in names.items():
        cores = sum(_cores(r, m) for m in members)
        total += cores
        mean, peak = _rss(r, members)
        if len(members) > 1:
            per = [_rss(r, [m])[1] for m in members]
            rows.append(
                f"| {label} | {cores:.2f} ({cores / len(members):.3f} each) | "
                f"{mean:.0f} / {peak:.0f} per agent (sum of maxima {sum(per):.0f}) |"
            )
        else:
            rows.append(f"| {label} | {cores:.2f} | {mean:.0f} / {peak:.0f} |")
    bench = _cores(r, "bench")
    other = max(0.0, _cores(r, "machine") - total - bench)
    n_cores = os.cpu_count() or 1
    edge_peak_mb = _rss(r, agents)[1] * 1.048576
    ratio = polls.ratio
    fault_p99 = percentile(r.fault_poll_ms, 99) if r.fault_poll_ms else float("nan")
    trial = r.window_s < FULL_DURATION_S
    cloud_wall = r.cloud1.get("wall", 0.0) - r.cloud0.get("wall", 0.0)
    cloud_rate = (
        (r.cloud1["received"] - r.cloud0["received"]) / cloud_wall if cloud_wall > 0 else 0.0
    )
    cloud_dropped = r.cloud1.get("dropped", 0.0) - r.cloud0.get("dropped", 0.0)
    noisy = other > QUIET_CORES

    def verdict(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    out = [
        f"{BUILDINGS * PER_KIND * 4:,} simulated devices ({BUILDINGS} buildings x {PER_KIND} "
        f"elevators, pumps and fire panels on Modbus TCP, {BUILDINGS * PER_KIND} lighting "
        f"controllers on MQTT) served by one `plantroom sim`; one `plantroom edge` per "
        f"building with every poll class at 1 s; one `plantroom gateway` into influxd; one "
        f"`plantroom cloud` (SQLite, default rules) on mosquitto. Measured over a steady "
        f"window of {r.window_s:.0f} s after a {WARMUP_S:.0f} s warm-up (the stack took "
        f"{r.startup_s:.0f} s from the first process start to every agent's first health "
        f"report).",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    if tallies:
        out.append(
            f"| polls on schedule (on_schedule / (polls + skipped)) | **{100 * ratio:.2f} %** "
            f"of {polls.polls + polls.skipped:,} due ({polls.late:,} late, {polls.skipped:,} "
            f"skipped, {polls.timeouts:,} timeouts; {polls.polls / r.window_s:,.0f} polls/s) "
            f"| ≥ {100 * TARGET_ON_SCHEDULE:.1f} % (issue 4): "
            f"{verdict(ratio >= TARGET_ON_SCHEDULE)} |"
        )
    else:
        why = f" ({short} agents had < 2 reports in the window)" if short else ""
        out.append(
            "| polls on schedule | not measured: the agents' health reports carry no "
            f"per-device poll figures{why} "
            f"| ≥ {100 * TARGET_ON_SCHEDULE:.1f} % (issue 4) |"
        )
    out += [
        f"| device sample → InfluxDB, p50 / p99 (upper bound) | **{_ms(upper, 50)} / "
        f"{_ms(upper, 99)}** ({len(upper):,} samples of {traced} traced devices; lower bound "
        f"{_ms(lower, 50)} / {_ms(lower, 99)}) | none stated |",
        f"| device sample → broker → a subscriber, p50 / p99 | {_ms(r.broker_latency_ms, 50)} "
        f"/ {_ms(r.broker_latency_ms, 99)} ({len(r.broker_latency_ms):,} messages of building "
        f"{TRACED_BUILDING}) | - |",
        f"| fault → work order, from the poll that saw it, p50 / p99 | "
        f"**{_ms(r.fault_poll_ms, 50)} / {_ms(r.fault_poll_ms, 99)}** "
        f"({len(r.fault_poll_ms)} faults, {r.fault_timeouts} "
        f"timed out > {FAULT_TIMEOUT_S:.0f} s) | p99 ≤ {TARGET_FAULT_P99_MS:.0f} ms (issue 6): "
        f"{verdict(fault_p99 <= TARGET_FAULT_P99_MS and not r.fault_timeouts)} |",
        f"| fault → work order, from the injection, p50 / p99 | {_ms(r.fault_inject_ms, 50)} / "
        f"{_ms(r.fault_inject_ms, 99)} (includes waiting for the next 1 s poll) | - |",
        f"| telemetry taken in by the cloud | {cloud_rate:,.0f} messages/s (at most "
        f"{r.cloud_queued_max:,} queued in the service, {cloud_dropped:,.0f} dropped; the "
        f"gateway took in {rate('messages_in'):,.0f}/s of the same stream) | - |",
        f"| points into InfluxDB | **{rate('points_out'):,.0f} points/s** "
        f"({rate('messages_in'):,.0f} messages/s into the gateway) | - |",
        f"| edge agent RSS, largest (each agent serves {PER_KIND * 4} devices) | "
        f"{edge_peak_mb:.0f} MB | ≤ {TARGET_EDGE_RSS_MB:.0f} MB for 1,000 devices in one agent "
        f"(issue 4): {verdict(edge_peak_mb <= TARGET_EDGE_RSS_MB)} |",
        "",
        f"CPU (cores, user + system, over the window) and RSS (MiB, mean / max of 1 s samples) "
        f"per process; the machine has {n_cores} cores:",
        "",
        "| process | CPU cores | RSS mean / max |",
        "|---|---:|---:|",
        *rows,
        f"| the whole stack | {total:.2f} | |",
        f"| this benchmark's probes | {bench:.2f} | |",
        f"| other work on the machine | {other:.2f} | |",
        "",
        f"How latency is measured. Device sample → InfluxDB: {traced} devices of building "
        f"{TRACED_BUILDING} ({TRACED_PER_KIND} of each kind) are traced; every "
        f"{PROBE_S * 1000:.0f} ms a query asks InfluxDB for their samples of the last "
        f"{LOOKBACK_S:.0f} s. A sample's latency runs from its edge timestamp (taken when the "
        f"poll starts, so the poll itself is included; for lighting, the edge's timestamp of the "
        f"vendor message) to the answer of the first query that returned it, an upper bound; "
        f"the lower bound is the start of the query before. Probes came every "
        f"{statistics.fmean(r.probe_gaps) * 1000 if r.probe_gaps else float('nan'):.0f} ms on "
        f"average. {missing} of the {len(r.broker_seen):,} traced samples the broker delivered "
        f"in the window were not found in InfluxDB within {LOOKBACK_S:.0f} s. The gateway "
        f"flushes a batch every second or at 5,000 lines, so about half a second of the "
        f"figure is batching by design"
        + (
            f"; its batch write took {statistics.median(r.batch_latency_ms):.0f} ms (median of "
            f"its gauge)."
            if r.batch_latency_ms
            else "."
        ),
        f"Fault → work order: every {FAULT_EVERY_S:.0f} s one fire panel outside "
        f"{TRACED_BUILDING} gets `{FAULT_NAME}` through the simulator's control API; "
        f"`GET /api/work-orders?equipment_id=…` is polled every {API_POLL_S * 1000:.0f} ms "
        f"until the panel's work order is listed, then the fault is cleared. The issue-6 "
        f"figure starts at the edge timestamp of the first telemetry sample that carries the "
        f"fault (read from the broker). With {len(r.fault_poll_ms)} faults, p99 is close to "
        f"the maximum.",
        "",
    ]
    flags = []
    if trial:
        flags.append(
            f"this was a shortened trial ({r.window_s:.0f} s, `PLANTROOM_BENCH_CAMPUS_S`), not "
            f"the {FULL_DURATION_S / 60:.0f}-minute run"
        )
    if noisy:
        flags.append(
            f"the machine was not quiet: other work used {other:.2f} cores during the window "
            f"(load average {r.load_avg[0]:.1f} at its end), so every figure here is worse than "
            f"on an idle machine"
        )
    if short:
        flags.append(f"{short} agent(s) sent fewer than two health reports inside the window")
    if flags:
        out.append("**Noisy run:** " + "; ".join(flags) + ".")
    if r.fault_timeouts and r.cloud_lag_s:
        out.append(
            f"When a fault timed out, the cloud's newest sample of that panel was "
            f"{statistics.median(r.cloud_lag_s):.0f} s old (median of {len(r.cloud_lag_s)}): "
            f"the cloud was that far behind the stream."
        )
    return "\n".join(out)


@contextlib.contextmanager
def servers(work: Path) -> Iterator[tuple[Mosquitto, Influxd]]:
    mosquitto = Mosquitto(work / "mosquitto")
    influxd = Influxd(work / "influxd")
    mosquitto.start()
    try:
        influxd.start()
        try:
            yield mosquitto, influxd
        finally:
            influxd.stop()
    finally:
        mosquitto.stop()


def run() -> str:
    if DURATION_S < 3 * FAULT_EVERY_S + FAULT_TIMEOUT_S:
        raise ValueError(
            f"PLANTROOM_BENCH_CAMPUS_S must be at least {3 * FAULT_EVERY_S + FAULT_TIMEOUT_S:.0f}"
            f" s, got {DURATION_S:g}"
        )
    if not PLANTROOM.exists():
        raise RuntimeError(f"{PLANTROOM} is missing; run `make setup`")
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-campus-") as tmp:
        work = Path(tmp)
        with servers(work) as (mosquitto, influxd):
            base = _port_block(generated_ports(BUILDINGS, PER_KIND))
            site_file = work / "site.yaml"
            site_file.write_text(generate_site(BUILDINGS, PER_KIND, base, site=SITE))
            traced, panels = traced_equipment(site_file)
            stack = Stack(work, mosquitto, influxd)
            try:
                started = time.monotonic()
                start_stack(stack, site_file)
                campus = Campus(stack, traced, panels)
                results = asyncio.run(campus.run(started))
            finally:
                stack.stop()
    return report(results, stack.agents, len(traced))


if __name__ == "__main__":
    print(run())
