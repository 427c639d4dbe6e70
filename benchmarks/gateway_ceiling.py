"""The gateway benchmark's ceiling: influxd alone taking pre-built, gzip'd batches of exactly
the lines the gateway writes, from a few concurrent writers for a bounded time."""

from __future__ import annotations

import gzip
import http.client
import threading
import time
from dataclasses import dataclass

from benchmarks.gateway_load import POINTS_PER_MESSAGE, base_ts, equipment, line, line_fragments
from benchmarks.gateway_params import (
    BATCH_LINES,
    CEILING_MAX_BATCHES,
    CEILING_S,
    CEILING_WRITERS,
)
from benchmarks.gateway_stack import count_seq, influx_query
from benchmarks.procstat import cpu_seconds, machine_busy_seconds, own_cpu
from stack.services import Influxd


@dataclass
class Ceiling:
    points: int
    seconds: float
    batches: int
    influxd_cores: float
    writer_cores: float
    other_cores: float
    exhausted: bool

    @property
    def rate(self) -> float:
        return self.points / self.seconds


def ceiling_bodies(ts0: int) -> list[bytes]:
    """Gzip'd bodies of BATCH_LINES lines: every pump, successive seqs, like the gateway's."""
    pumps = equipment()
    prefixes = [
        f"pump,building={building},equipment={pump},site={site}" for site, building, pump in pumps
    ]
    fragments = line_fragments()
    per_body = BATCH_LINES // len(pumps)
    bodies = []
    for b in range(CEILING_MAX_BATCHES):
        lines = [
            line(prefixes[e], ts0, e, seq, fragments)
            for seq in range(b * per_body, (b + 1) * per_body)
            for e in range(len(pumps))
        ]
        bodies.append(gzip.compress("\n".join(lines).encode(), compresslevel=1, mtime=0))
    return bodies


def measure_ceiling(influx: Influxd, influxd_pid: int) -> Ceiling:
    db = "ceiling"
    influx_query(influx, f"CREATE DATABASE {db}")
    bodies = ceiling_bodies(base_ts())
    lines_per_body = (BATCH_LINES // len(equipment())) * len(equipment())
    queue = list(reversed(bodies))
    lock = threading.Lock()
    written = [0]
    errors: list[str] = []
    deadline = 0.0

    def writer() -> None:
        conn = http.client.HTTPConnection(influx.host, influx.port, timeout=60)
        path = f"/write?db={db}&precision=ms"
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
        try:
            while time.monotonic() < deadline:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                if resp.status != 204:
                    errors.append(f"HTTP {resp.status}: {text[:200]!r}")
                    return
                with lock:
                    written[0] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, name=f"ceiling-{i}") for i in range(CEILING_WRITERS)]
    cpu0, own0, all0 = cpu_seconds(influxd_pid), own_cpu(), machine_busy_seconds()
    started = time.monotonic()
    deadline = started + CEILING_S
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    cpu1, own1, all1 = cpu_seconds(influxd_pid), own_cpu(), machine_busy_seconds()
    if errors:
        raise RuntimeError(f"the ceiling writes failed: {errors[0]}")
    stored = count_seq(influx, db)
    if stored != written[0] * lines_per_body:
        raise RuntimeError(f"ceiling: {stored} lines stored, {written[0] * lines_per_body} sent")
    influx_query(influx, f"DROP DATABASE {db}")
    return Ceiling(
        points=written[0] * lines_per_body * POINTS_PER_MESSAGE,
        seconds=seconds,
        batches=written[0],
        influxd_cores=(cpu1 - cpu0) / seconds,
        writer_cores=(own1 - own0) / seconds,
        other_cores=max(0.0, (all1 - all0 - (cpu1 - cpu0) - (own1 - own0)) / seconds),
        exhausted=not queue,
    )
