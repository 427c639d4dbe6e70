"""API cost, capacity and overload with a realistic backlog: 100 000 work orders in SQLite, the
cloud API served by uvicorn in its own processes, list and acknowledge requests in turn on
loopback.

First the server's CPU while nobody asks it anything (its background work: the SLA ticker
and the other tickers). Then each kind of request is sent alone, many times: its round trip
and the server's CPU time for it (the cost per request). Then an open-loop load at a fixed
200 requests a second; then the capacity, the highest rate whose served requests' p99 is
within 50 ms with at most 1 % answered 503, found in short steps; then twice the capacity,
followed at once by half of it, to see what the API serves while overloaded and how soon it
is back to normal.

Requests are sent on a fixed schedule whatever the answers do (open loop), and each latency is
measured from when its request was due to be sent, so a slow server cannot hide its queueing
delay by slowing the client down. The client is a few lines of asyncio streams rather than a
general-purpose HTTP library, whose connection pool, once hundreds of requests wait on it,
costs more CPU than the server and falls behind the schedule it is meant to keep.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.api_backlog import populate
from benchmarks.api_capacity import Search, figures
from benchmarks.api_load import Phase, load
from benchmarks.api_params import (
    CALM,
    CALM_S,
    DURATION_S,
    FIRST_RATE,
    GROWTH,
    MAX_SHED,
    MAX_STEPS,
    OVERLOAD,
    OVERLOAD_S,
    PRECISION,
    QUIET_AFTER_S,
    QUIET_S,
    RATE,
    SEQUENTIAL,
    STEP_S,
    TARGET_MS,
)
from benchmarks.api_report import Alone, Run, report
from benchmarks.api_server import api_server
from benchmarks.procstat import tree_cpu_seconds
from plantroom.ports import free_port

TITLE = "API: cost, capacity and overload with 100k work orders"
PAUSE_S = 1.0  # between runs, for the last answers and idle connections to settle


def idle_cpu_ms_per_s(server: subprocess.Popen[bytes]) -> float:
    """The server's CPU time a second while nobody asks it anything."""
    time.sleep(QUIET_AFTER_S)
    cpu, started = tree_cpu_seconds(server.pid), time.perf_counter()
    time.sleep(QUIET_S)
    return (tree_cpu_seconds(server.pid) - cpu) * 1000 / (time.perf_counter() - started)


def one_at_a_time(
    base: str, token: str, ids: deque[int], server: subprocess.Popen[bytes]
) -> list[Alone]:
    """Each kind of request sent alone SEQUENTIAL times: the median round trip and the
    server's CPU time per request (its cost)."""
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        calls: dict[str, Callable[[], httpx.Response]] = {
            "a token check (/api/me)": lambda: client.get("/api/me"),
            "a list page": lambda: client.get("/api/work-orders", params={"status": "open"}),
            "an acknowledgement": lambda: client.post(
                f"/api/work-orders/{ids.pop()}/acknowledge", json={}
            ),
        }
        for what, call in calls.items():
            times = []
            cpu = tree_cpu_seconds(server.pid)
            for _ in range(SEQUENTIAL):
                started = time.perf_counter()
                call().raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            cpu_ms = (tree_cpu_seconds(server.pid) - cpu) * 1000 / SEQUENTIAL
            out.append(Alone(what, statistics.median(times), cpu_ms))
    return out


def open_loop(
    port: int,
    tokens: list[str],
    ids: deque[int],
    server: subprocess.Popen[bytes],
    phases: Sequence[Phase],
) -> Run:
    time.sleep(PAUSE_S)
    started, server_cpu, client_cpu = (
        time.perf_counter(),
        tree_cpu_seconds(server.pid),
        time.process_time(),
    )
    samples = asyncio.run(load("127.0.0.1", port, tokens, ids, phases))
    took = time.perf_counter() - started
    return Run(
        phases=tuple(phases),
        samples=samples,
        seconds=took,
        server_cores=(tree_cpu_seconds(server.pid) - server_cpu) / took,
        client_cores=(time.process_time() - client_cpu) / took,
    )


def run() -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-api-") as tmp:
        url = f"sqlite:///{tmp}/cloud.sqlite"
        tokens, open_ids, insert_s = populate(url, now)
        size_mb = os.path.getsize(f"{tmp}/cloud.sqlite") / 1e6
        ids = deque(open_ids)
        port = free_port()
        with api_server(url, port, Path(tmp) / "api.log") as server:
            idle = idle_cpu_ms_per_s(server)
            alone = one_at_a_time(f"http://127.0.0.1:{port}", tokens[0], ids, server)
            fixed = open_loop(port, tokens, ids, server, [Phase(RATE, DURATION_S)])
            search = Search(FIRST_RATE, GROWTH, PRECISION, MAX_STEPS)
            steps = []
            while (rate := search.next_rate()) is not None:
                step = open_loop(port, tokens, ids, server, [Phase(rate, STEP_S)])
                search.record(rate, figures(step.samples, rate).met(TARGET_MS, MAX_SHED))
                steps.append(step)
            overload = None
            if search.met is not None:
                capacity = search.met
                overload = open_loop(
                    port,
                    tokens,
                    ids,
                    server,
                    [Phase(OVERLOAD * capacity, OVERLOAD_S), Phase(CALM * capacity, CALM_S)],
                )
    return report(alone, idle, fixed, steps, search.met, overload, insert_s, size_mb)
