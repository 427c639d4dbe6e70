"""API latency with a realistic backlog: 100 000 work orders in SQLite, the cloud API served by
uvicorn in its own process, and an open-loop load of 100 list and 100 acknowledge requests a
second on loopback for 30 s.

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
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.api_backlog import populate
from benchmarks.api_load import load
from benchmarks.api_params import DURATION_S, RATE, RATES, SEQUENTIAL
from benchmarks.api_report import Run, report
from benchmarks.api_server import api_server
from benchmarks.procstat import tree_cpu_seconds
from plantroom.ports import free_port

TITLE = "API: list and acknowledge with 100k work orders"


def one_at_a_time(base: str, token: str, ids: list[int]) -> dict[str, float]:
    """Median round trip of each request sent alone: the server's own cost."""
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        calls: dict[str, Callable[[int], httpx.Response]] = {
            "a token check (/api/me)": lambda i: client.get("/api/me"),
            "a list page": lambda i: client.get("/api/work-orders", params={"status": "open"}),
            "an acknowledgement": lambda i: client.post(
                f"/api/work-orders/{ids[i]}/acknowledge", json={}
            ),
        }
        for what, call in calls.items():
            times = []
            for i in range(SEQUENTIAL):
                started = time.perf_counter()
                call(i).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            out[what] = statistics.median(times)
    return out


def run() -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-api-") as tmp:
        url = f"sqlite:///{tmp}/cloud.sqlite"
        tokens, open_ids, insert_s = populate(url, now)
        size_mb = os.path.getsize(f"{tmp}/cloud.sqlite") / 1e6
        port = free_port()
        runs = []
        with api_server(url, port, Path(tmp) / "api.log") as server:
            alone = one_at_a_time(f"http://127.0.0.1:{port}", tokens[0], open_ids[-SEQUENTIAL:])
            for n, rate in enumerate(RATES):
                ids = open_ids[n * int(RATE * DURATION_S) :]
                started, server_cpu, client_cpu = (
                    time.perf_counter(),
                    tree_cpu_seconds(server.pid),
                    time.process_time(),
                )
                results = asyncio.run(load("127.0.0.1", port, tokens, ids, rate))
                took = time.perf_counter() - started
                runs.append(
                    Run(
                        rate=rate,
                        results=results,
                        seconds=took,
                        server_cores=(tree_cpu_seconds(server.pid) - server_cpu) / took,
                        client_cores=(time.process_time() - client_cpu) / took,
                    )
                )
    return report(runs, alone, insert_s, size_mb)
