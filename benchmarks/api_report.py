"""The API benchmark's figures: what one rate's run gathered (`Run`) and the Markdown report."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks.api_load import Series
from benchmarks.api_params import (
    DURATION_S,
    OPEN,
    SEQUENTIAL,
    TARGET_MS,
    TECHNICIANS,
    WORK_ORDERS,
    WORKERS,
)
from benchmarks.measure import percentile


@dataclass(frozen=True, slots=True)
class Run:
    """One open-loop run at `rate` requests a second of each kind."""

    rate: float
    results: Mapping[str, Series]
    seconds: float
    server_cores: float
    client_cores: float


def report(runs: Sequence[Run], alone: Mapping[str, float], insert_s: float, size_mb: float) -> str:
    lines = [
        f"SQLite, {WORK_ORDERS:,} work orders ({OPEN:,} open) and {WORK_ORDERS:,} audit events "
        f"bulk-inserted in {insert_s:.1f} s ({size_mb:.0f} MB). The API (`create_app`, SLA "
        f"ticker on, no telemetry consumer) served by uvicorn with {WORKERS} worker process(es); "
        f"an open-loop load of list and acknowledge requests, half each, for "
        f"{DURATION_S:.0f} s at each rate, from a minimal keep-alive HTTP/1.1 client on "
        f"loopback (one asyncio loop in the benchmark's process; a new connection whenever "
        f"none is free); latency from each request's scheduled send time. Lists: 50 per "
        f"page, filters among status, building, priority, kind, offset. Acknowledgements: a "
        f"different open job each time, "
        f"{TECHNICIANS} technicians.",
        "",
        "| offered | request | requests | errors | p50 ms | p90 ms | p99 ms | max ms | "
        f"p99 ≤ {TARGET_MS:.0f} ms | achieved | CPU server / client |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        total = sum(len(s.latencies) for s in run.results.values())
        for kind, s in run.results.items():
            lat = s.latencies
            errors = ", ".join(f"{k}: {v}" for k, v in s.errors.items()) or "0"
            ok = "met" if percentile(lat, 99) <= TARGET_MS else "missed"
            lines.append(
                f"| {2 * run.rate:.0f}/s | {kind} | {len(lat)} | {errors} | "
                f"{statistics.median(lat):.1f} | {percentile(lat, 90):.1f} | "
                f"{percentile(lat, 99):.1f} | {max(lat):.1f} | {ok} | "
                f"{total / run.seconds:.0f}/s | "
                f"{run.server_cores:.0%} / {run.client_cores:.0%} |"
            )
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "",
        f"CPU is in cores (100 % = one). The machine's 1-minute load average at the end was "
        f"{load_avg:.1f} (it is shared with other work). "
        f"Sent one at a time ({SEQUENTIAL} each), the median round trip was "
        + ", ".join(f"{ms:.1f} ms for {what}" for what, ms in alone.items())
        + ".",
    ]
    return "\n".join(lines)
