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
* **fault → first notification**: the cloud's e-mail channel is a real SMTP server in this
  process; from the same poll to the first e-mail naming the work order. After the window,
  each work order's instants from the API split the path into legs (`campus_faults`).
* **CPU and RSS** of every process from /proc, sampled every second; **points/s** from the
  gateway's `/metrics` (point values InfluxDB acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from benchmarks.campus_faults import FaultTrace, cloud_instants
from benchmarks.campus_params import (
    API_POLL_S,
    BUILDINGS,
    DRAIN_S,
    DURATION_S,
    FAULT_EVERY_S,
    FAULT_NAME,
    FAULT_TIMEOUT_S,
    KINDS,
    LOOKBACK_S,
    PROBE_S,
    SAMPLE_S,
    SITE,
    START_TIMEOUT_S,
    TRACED_BUILDING,
    TRACED_PER_KIND,
    WARMUP_S,
)
from benchmarks.campus_report import Results, report
from benchmarks.campus_stack import Stack, running_campus
from benchmarks.measure import parse_metrics, rss_mib
from benchmarks.procstat import (
    cpu_pressure_seconds,
    cpu_seconds,
    machine_busy_seconds,
    own_cpu,
)
from plantroom.errors import InvalidMessage
from plantroom.health import EdgeHealth, parse_edge_health
from plantroom.inventory import load_inventory
from plantroom.topics import EDGE_HEALTH_WILDCARD, parse_edge_topic
from simulators.control import ControlClient

TITLE = "Campus load: 1,000 devices through the whole stack"


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


async def cloud_intake(http: httpx.AsyncClient, api_url: str) -> dict[str, float]:
    """The cloud's MQTT intake counters from `/api/health`: received, dropped and queued (the
    messages taken from the broker and not yet processed)."""
    health = (await http.get(f"{api_url}/api/health")).json()["mqtt"]
    return {k: float(health[k]) for k in ("received", "dropped", "queued")}


# the agents' health reports of the campus site
HEALTH_TOPIC = EDGE_HEALTH_WILDCARD.replace("/+/edge/", f"/{SITE}/edge/")


# -- the measurement ----------------------------------------------------------------------


@dataclass
class Fault:
    trace: FaultTrace
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
        self.fault_every = FAULT_EVERY_S

    def _on_health(self, agent: str, report: EdgeHealth, now: float) -> None:
        self.r.health.setdefault(agent, []).append((now, report))

    # MQTT: health reports, the traced building's telemetry, the faulted panel's telemetry
    def _on_message(self, topic: str, payload: bytes, now: float) -> None:
        parts = topic.split("/")
        if parts[-1] == "health":
            try:
                _, agent, _ = parse_edge_topic(topic)
                report = parse_edge_health(topic, payload)
            except (ValueError, InvalidMessage):
                return
            self._on_health(agent, report, now)
            return
        if parts[-1] != "telemetry" or len(parts) != 7:
            return
        data = json.loads(payload)
        equipment, ts, seq = parts[5], int(data["ts"]), int(data["seq"])
        fault = self.fault
        if (
            fault is not None
            and equipment == fault.trace.equipment
            and fault.trace.poll is None
            and data.get("points", {}).get(FAULT_NAME) is True
            and ts >= fault.trace.injected - 1000
        ):
            fault.trace.poll, fault.trace.broker = ts, now * 1000
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

    @contextlib.asynccontextmanager
    async def listening(self, client: aiomqtt.Client) -> AsyncIterator[None]:
        """Hand every message `client` receives to `_on_message` while inside."""
        listener = asyncio.create_task(self._listen(client), name="listen")
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _sample(self, stop: asyncio.Event) -> None:
        pids = self.stack.pids()
        http = httpx.AsyncClient(timeout=5.0)
        async with http:
            while True:
                first = not self.r.cpu0
                cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
                cpu["bench"] = own_cpu()
                cpu["machine"] = machine_busy_seconds()
                cpu["pressure"] = cpu_pressure_seconds()
                cpu["wall"] = time.monotonic()
                for name, pid in pids.items():
                    self.r.rss.setdefault(name, []).append(rss_mib(pid))
                m = parse_metrics((await http.get(self.stack.metrics_url)).text)
                m["wall"] = time.monotonic()
                c = await cloud_intake(http, self.stack.api_url)
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
                at = max(self.t0 + self.fault_every * (n + 0.5), time.time())
                if at + FAULT_TIMEOUT_S > self.t1:
                    return
                await asyncio.sleep(at - time.time())
                topic = f"plantroom/v1/{SITE}/{building}/fire_panel/{panel}/telemetry"
                params = {"equipment_id": panel}
                before = int((await api.get("/api/work-orders", params=params)).json()["total"])
                await client.subscribe(topic, qos=1)
                fault = Fault(FaultTrace(panel, injected=time.time() * 1000))
                self.fault = fault
                self.r.faults.append(fault.trace)
                started = time.time()
                await asyncio.to_thread(control.inject, panel, FAULT_NAME)
                found = None
                while time.time() - started < FAULT_TIMEOUT_S:
                    page = (await api.get("/api/work-orders", params=params)).json()
                    if int(page["total"]) > before:
                        found = time.time()
                        fault.trace.listed = found * 1000
                        newest = max(page["items"], key=lambda wo: str(wo["created_at"]))
                        fault.trace.number = str(newest["number"])
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
                    if fault.trace.poll is not None:
                        self.r.fault_poll_ms.append(found * 1000 - fault.trace.poll)
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

    @contextlib.asynccontextmanager
    async def window(
        self, started: float, duration_s: float, topic: str, qos: int
    ) -> AsyncIterator[aiomqtt.Client]:
        """Connected to the broker, listening to the agents' health reports and `topic`, every
        agent reporting and the warm-up over: the window of `duration_s` starts on entering."""
        async with aiomqtt.Client(
            self.stack.mosquitto.host, self.stack.mosquitto.port, identifier="bench-campus"
        ) as client:
            await client.subscribe(HEALTH_TOPIC, qos=1)
            await client.subscribe(topic, qos=qos)
            async with self.listening(client):
                await self._wait_for_agents(started)
                await asyncio.sleep(WARMUP_S)
                self.t0 = time.time()
                self.t1 = self.t0 + duration_s
                yield client

    async def run(self, started: float) -> Results:
        telemetry = f"plantroom/v1/{SITE}/{TRACED_BUILDING}/+/+/telemetry"
        async with self.window(started, DURATION_S, telemetry, qos=1) as client:
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
        arrivals = self.stack.mailbox.arrivals
        await cloud_instants(self.stack.api_url, self.stack.token, self.r.faults, arrivals)
        self.r.mail_count = arrivals.count
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


def run(buildings: int = BUILDINGS) -> str:
    """The campus of `buildings` buildings (100 devices each) measured; its report."""
    if DURATION_S < 3 * FAULT_EVERY_S + FAULT_TIMEOUT_S:
        raise ValueError(
            f"PLANTROOM_BENCH_CAMPUS_S must be at least {3 * FAULT_EVERY_S + FAULT_TIMEOUT_S:.0f}"
            f" s, got {DURATION_S:g}"
        )
    with running_campus("plantroom-bench-campus-", buildings) as (stack, site_file, started):
        traced, panels = traced_equipment(site_file)
        campus = Campus(stack, traced, panels)
        results = asyncio.run(campus.run(started))
    return report(results, stack.agents, len(traced), buildings)


if __name__ == "__main__":
    print(run())
