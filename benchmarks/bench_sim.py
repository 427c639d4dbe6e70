"""Simulator at scale: 1,000 devices in one `plantroom sim` process, polled once a second.

A generated site (10 buildings x 25 devices of each kind: 750 Modbus devices behind 10
gateway ports, 250 lighting controllers on MQTT) is served by `plantroom sim` as a child
process with its own mosquitto. A bare pymodbus loop reads every Modbus device's register
block once a second over 3 connections per port while an MQTT subscriber counts the lighting
messages. Measured over `MEASURE_S` seconds: the simulator's CPU seconds per second and RSS
(from /proc), requests answered per second, how many of each second's polls completed, and
the request latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
from pymodbus.client import AsyncModbusTcpClient

from benchmarks.measure import port_block, wait_for_simulator
from benchmarks.procstat import cpu_seconds
from plantroom.inventory import Inventory, ModbusTcp, load_inventory
from plantroom.ports import free_port
from simulators.generate import generate_site, generated_ports
from stack.processes import stop_process
from stack.services import Mosquitto

TITLE = "Simulator: 1,000 devices in one process"
BUILDINGS, PER_KIND = 10, 25
MEASURE_S = float(os.environ.get("PLANTROOM_BENCH_SIM_SECONDS", "60"))
WARMUP_S = 5.0
CONNECTIONS_PER_PORT = 3
HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BLOCKS = {"elevator": (3, 13), "pump": (4, 16), "fire_panel": (4, 12)}  # function, count


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answered: int = 0
    failed: int = 0
    due: int = 0
    late_cycles: int = 0
    lighting: int = 0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _poll_connection(
    port: int, units: list[tuple[int, str]], stop: float, measure_from: float, tally: Tally
) -> None:
    async with AsyncModbusTcpClient(HOST, port=port, timeout=2, retries=0) as client:
        cycle = time.monotonic()
        while cycle < stop:
            measuring = cycle >= measure_from
            for unit, kind in units:
                fc, count = BLOCKS[kind]
                started = time.perf_counter()
                try:
                    if fc == 3:
                        rr = await client.read_holding_registers(0, count=count, device_id=unit)
                    else:
                        rr = await client.read_input_registers(0, count=count, device_id=unit)
                    ok = not rr.isError()
                except Exception:  # a timeout or a dropped connection is a failed poll
                    ok = False
                if measuring:
                    tally.due += 1
                    if ok:
                        tally.answered += 1
                        tally.latencies.append(time.perf_counter() - started)
                    else:
                        tally.failed += 1
            cycle += 1.0
            now = time.monotonic()
            if now > cycle:
                if measuring:
                    tally.late_cycles += 1
                cycle = now
            await asyncio.sleep(cycle - now)


async def _count_lighting(
    mosquitto: Mosquitto, site: str, tally: Tally, measure_from: float
) -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.subscribe("lumen/+/state", qos=0)
        async for message in client.messages:
            if str(message.topic).startswith(f"lumen/{site}-") and time.monotonic() >= measure_from:
                tally.lighting += 1


async def _measure(inventory: Inventory, mosquitto: Mosquitto, pid: int) -> dict[str, float]:
    groups: dict[int, list[tuple[int, str]]] = {}
    for _, e in inventory.equipment():
        if isinstance(e.connection, ModbusTcp):
            groups.setdefault(e.connection.port, []).append((e.connection.unit, e.kind.value))
    tally = Tally()
    start = time.monotonic()
    measure_from = start + WARMUP_S
    stop = measure_from + MEASURE_S
    counter = asyncio.create_task(
        _count_lighting(mosquitto, inventory.site.id, tally, measure_from)
    )
    rss: list[float] = []

    async def sample() -> tuple[float, float]:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        while time.monotonic() < stop:
            rss.append(_rss_mib(pid))
            await asyncio.sleep(1.0)
        return cpu_seconds(pid) - cpu0, time.monotonic() - t0

    own0 = time.process_time()
    jobs = [
        _poll_connection(port, units[i::CONNECTIONS_PER_PORT], stop, measure_from, tally)
        for port, units in groups.items()
        for i in range(CONNECTIONS_PER_PORT)
    ]
    sampler = asyncio.create_task(sample())
    connections = len(jobs)
    await asyncio.gather(*jobs)
    cpu, wall = await sampler
    counter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await counter
    own = time.process_time() - own0
    lat = sorted(tally.latencies)
    devices = sum(len(u) for u in groups.values())
    return {
        "devices": devices,
        "ports": len(groups),
        "connections": connections,
        "cpu_per_s": cpu / wall,
        "rss_max": max(rss) if rss else 0.0,
        "rss_mean": statistics.fmean(rss) if rss else 0.0,
        "answered_per_s": tally.answered / MEASURE_S,
        "due_per_s": tally.due / MEASURE_S,
        "complete_share": tally.answered / (devices * MEASURE_S),
        "failed": tally.failed,
        "late_cycles": tally.late_cycles,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else float("nan"),
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan"),
        "max_ms": lat[-1] * 1000 if lat else float("nan"),
        "lighting_per_s": tally.lighting / MEASURE_S,
        "poller_cpu_per_s": own / (time.monotonic() - start),
    }


def run() -> str:
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-sim-") as tmp:
        work = Path(tmp)
        mosquitto = Mosquitto(work / "mosquitto")
        with mosquitto:
            base = port_block(generated_ports(BUILDINGS, PER_KIND))
            site = "bench"
            path = work / "site.yaml"
            path.write_text(generate_site(BUILDINGS, PER_KIND, base, site=site))
            inventory = load_inventory(path)
            control = free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("PLANTROOM_")},
                "PLANTROOM_MQTT_HOST": mosquitto.host,
                "PLANTROOM_MQTT_PORT": str(mosquitto.port),
                "PLANTROOM_SIM_CONTROL_PORT": str(control),
            }
            log = work / "sim.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "stack", "sim", "-i", str(path)],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                started = time.monotonic()
                wait_for_simulator(f"http://{HOST}:{control}", proc, log)
                startup = time.monotonic() - started
                rss_idle = _rss_mib(proc.pid)
                r = asyncio.run(_measure(inventory, mosquitto, proc.pid))
            finally:
                stop_process(proc, 30)
    total = len(list(inventory.equipment()))
    return f"""
One `plantroom sim` process serving a generated site of {total} devices ({BUILDINGS} buildings x
{PER_KIND} of each kind): {r["devices"]:.0f} Modbus devices behind {r["ports"]:.0f} gateway ports
(75 unit ids each) and {total - r["devices"]:.0f} lighting controllers publishing on MQTT every
second, at speed 1. A bare pymodbus loop in another process reads every Modbus device's
register block (13, 16 or 12 registers) once a second over {r["connections"]:.0f} connections
({CONNECTIONS_PER_PORT} per port, requests in sequence on each); an MQTT subscriber counts the
lighting messages. Measured over {MEASURE_S:.0f} s after a {WARMUP_S:.0f} s warm-up.

| measure | value |
|---|---|
| simulator start-up (process start to control endpoint answering) | {startup:.1f} s |
| simulator CPU (user + system) | {r["cpu_per_s"]:.3f} CPU-s per s |
| simulator RSS idle after start | {rss_idle:.0f} MiB |
| simulator RSS under load, mean / max | {r["rss_mean"]:.0f} / {r["rss_max"]:.0f} MiB |
| Modbus requests answered | {r["answered_per_s"]:.0f} per s (of {r["devices"]:.0f} due) |
| polls completed | {100 * r["complete_share"]:.1f} % of every device every second |
| failed polls / late poll cycles | {r["failed"]:.0f} / {r["late_cycles"]:.0f} |
| request latency p50 / p99 / max | {r["p50_ms"]:.2f} / {r["p99_ms"]:.2f} / {r["max_ms"]:.1f} ms |
| lighting messages received | {r["lighting_per_s"]:.0f} per s (of {total - r["devices"]:.0f} due) |
| polling client's own CPU | {r["poller_cpu_per_s"]:.3f} CPU-s per s |

Latency is measured at the client and includes pymodbus's own overhead; client and simulator
share the machine's cores.
"""
