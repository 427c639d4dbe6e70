"""API latency with a realistic backlog: 100 000 work orders in SQLite, the cloud API served by
uvicorn in its own process, and an open-loop load of 100 list and 100 acknowledge requests a
second on loopback for 30 s.

Requests are sent on a fixed schedule whatever the answers do (open loop), and each latency is
measured from when its request was due to be sent, so a slow server cannot hide its queueing
delay by slowing the client down.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from cloud import registry
from cloud.db import Database
from cloud.enums import Channel, Priority, Role, WorkOrderKind, WorkOrderStatus
from cloud.models import Counter, Equipment, WorkOrder, WorkOrderEvent
from cloud.users import add_user, issue_token
from plantroom.inventory import load_inventory
from plantroom.services import free_port

TITLE = "API: list and acknowledge with 100k work orders"

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "sites" / "demo.yaml"
WORK_ORDERS = 100_000
OPEN = 20_000  # enough never to run out of jobs to acknowledge
RATE = 100.0  # requests a second, per kind (list, acknowledge): 200 a second in all
# then the same at half the rate, to show where the target holds on the machine at hand
RATES = (RATE, RATE / 2)
DURATION_S = float(os.environ.get("PLANTROOM_BENCH_API_SECONDS", "30"))
TECHNICIANS = 8
CHUNK = 5_000
TARGET_MS = 50.0
STATUSES = [  # the rest of the backlog: mostly finished work
    (WorkOrderStatus.CLOSED, 0.78),
    (WorkOrderStatus.RESOLVED, 0.08),
    (WorkOrderStatus.CANCELLED, 0.04),
    (WorkOrderStatus.IN_PROGRESS, 0.06),
    (WorkOrderStatus.ON_HOLD, 0.04),
]


def populate(url: str, now: datetime) -> tuple[list[str], list[int], float]:
    """The database: registry, technicians with tokens, and the backlog. Returns the tokens,
    the open jobs' ids and the seconds the bulk insert took."""
    rng = random.Random(7)
    db = Database(url)
    try:
        db.migrate()
        with db.session() as session:
            registry.sync_inventory(session, load_inventory(INVENTORY))
            tokens = []
            for i in range(TECHNICIANS):
                user = add_user(session, f"tech{i + 1}", Role.TECHNICIAN, now=now)
                tokens.append(issue_token(session, user, now=now))
            equipment = [(e.id, e.building) for e in session.query(Equipment).all()]
        started = time.perf_counter()
        open_ids = []
        with db.engine.begin() as connection:
            for first in range(0, WORK_ORDERS, CHUNK):
                rows, events = [], []
                for n in range(first + 1, min(first + CHUNK, WORK_ORDERS) + 1):
                    created = now - timedelta(minutes=5 * (WORK_ORDERS - n))
                    eq, building = rng.choice(equipment)
                    if n > WORK_ORDERS - OPEN:
                        status = WorkOrderStatus.OPEN
                        open_ids.append(n)
                    else:
                        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
                    opened = created
                    rows.append(
                        {
                            "id": n,
                            "number": f"WO-{n:06d}",
                            "title": f"Job {n} on {eq}",
                            "kind": rng.choice(list(WorkOrderKind)).value,
                            "equipment_id": eq,
                            "building": building,
                            "priority": rng.choice(list(Priority)).value,
                            "status": status.value,
                            "created_at": created,
                            "updated_at": created,
                            "opened_at": opened,
                            "dispatched_at": opened,
                            # far enough ahead that the ticker has nothing to escalate
                            "respond_due_at": (now + timedelta(days=30)),
                            "resolve_due_at": (now + timedelta(days=30)),
                            "holds": 0,
                            "version": 1,
                            "escalation_stage": 0,
                            "postponements": 0,
                            "reopens": 0,
                            "follow_up": False,
                        }
                    )
                    events.append(
                        {
                            "work_order_id": n,
                            "at": created,
                            "actor": "system",
                            "action": "created",
                            "to_status": "open",
                            "channel": Channel.SYSTEM.value,
                        }
                    )
                connection.execute(insert(WorkOrder.__table__), rows)
                connection.execute(insert(WorkOrderEvent.__table__), events)
            connection.execute(
                update(Counter.__table__)
                .where(Counter.__table__.c.name == "work_order_number")
                .values(value=WORK_ORDERS)
            )
        took = time.perf_counter() - started
    finally:
        db.close()
    rng.shuffle(open_ids)
    return tokens, open_ids, took


WORKERS = int(os.environ.get("PLANTROOM_BENCH_API_WORKERS", str(os.cpu_count() or 1)))
# With several workers uvicorn shares one listening socket between processes; connections
# accepted from it do not get TCP_NODELAY, so small answers wait for delayed ACKs (~40 ms).
# The socket is made here with it (Linux hands it down to the accepted connections).
SERVE = """
import logging, socket, sys, uvicorn
logging.basicConfig(level=logging.WARNING)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(2048)
uvicorn.run("benchmarks.bench_api:serve", factory=True, fd=sock.fileno(),
            workers=int(sys.argv[2]), log_config=None, access_log=False)
"""


def serve() -> Any:
    """The app for one uvicorn worker, configured from the environment the benchmark sets."""
    from cloud.app import create_app
    from plantroom.settings import CloudSettings

    return create_app(CloudSettings(), ingest=False, notify=False)


@dataclass
class Series:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def load(base: str, tokens: list[str], open_ids: list[int], rate: float) -> dict[str, Series]:
    results = {"list": Series(), "acknowledge": Series()}
    rng = random.Random(11)
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:

        async def one(kind: str, due: float, method: str, path: str, token: str, **kw: Any) -> None:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                r = await client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}, **kw
                )
                ok = r.status_code == 200
                what = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                ok, what = False, type(exc).__name__
            results[kind].latencies.append((time.perf_counter() - due) * 1000)
            if not ok:
                results[kind].error(what)

        filters = [
            {"status": "open"},
            {"status": "open", "building": "tower-a"},
            {"priority": "emergency"},
            {"kind": "fault", "status": "in_progress"},
            {"offset": "500"},
            {},
        ]
        tasks = []
        start = time.perf_counter() + 0.5
        count = int(rate * DURATION_S)
        ids = iter(open_ids)
        for i in range(count):
            due = start + i / rate
            token = tokens[i % len(tokens)]
            params = dict(rng.choice(filters), limit="50")
            tasks.append(one("list", due, "GET", "/api/work-orders", token, params=params))
            tasks.append(
                one(
                    "acknowledge",
                    due + 0.5 / rate,
                    "POST",
                    f"/api/work-orders/{next(ids)}/acknowledge",
                    token,
                    json={"channel": "api"},
                )
            )
        await asyncio.gather(*tasks)
    return results


SEQUENTIAL = 100
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) of process `root` and its children, from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def one_at_a_time(base: str, token: str, ids: list[int]) -> dict[str, float]:
    """Median round trip of each request sent alone: the server's own cost."""
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        calls = {
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


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run() -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="plantroom-bench-api-") as tmp:
        url = f"sqlite:///{tmp}/cloud.sqlite"
        tokens, open_ids, insert_s = populate(url, now)
        size_mb = os.path.getsize(f"{tmp}/cloud.sqlite") / 1e6
        port = free_port()
        env = {
            **os.environ,
            "PLANTROOM_INVENTORY": str(INVENTORY),
            "PLANTROOM_DATABASE_URL": url,
            "PYTHONPATH": str(ROOT),
        }
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port), str(WORKERS)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/api/health", timeout=1).status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    why = (
                        server.stderr.read() if server.stderr and server.poll() is not None else ""
                    )
                    raise RuntimeError(f"the API did not start: {why}")
                time.sleep(0.2)
            alone = one_at_a_time(base, tokens[0], open_ids[-SEQUENTIAL:])
            runs = []
            for n, rate in enumerate(RATES):
                ids = open_ids[n * int(RATE * DURATION_S) :]
                started, server_cpu, client_cpu = (
                    time.perf_counter(),
                    cpu_seconds(server.pid),
                    time.process_time(),
                )
                results = asyncio.run(load(base, tokens, ids, rate))
                took = time.perf_counter() - started
                cpu = (
                    (cpu_seconds(server.pid) - server_cpu) / took,
                    (time.process_time() - client_cpu) / took,
                )
                runs.append((rate, results, took, cpu))
        finally:
            server.terminate()
            try:
                server.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.communicate()
    lines = [
        f"SQLite, {WORK_ORDERS:,} work orders ({OPEN:,} open) and {WORK_ORDERS:,} audit events "
        f"bulk-inserted in {insert_s:.1f} s ({size_mb:.0f} MB). The API (`create_app`, SLA "
        f"ticker on, no telemetry consumer) served by uvicorn with {WORKERS} worker process(es); "
        f"an open-loop load of list and acknowledge requests, half each, for "
        f"{DURATION_S:.0f} s at each rate, from one async httpx client on loopback; latency "
        f"from each request's scheduled send time. Lists: 50 per page, filters among status, "
        f"building, priority, kind, offset. Acknowledgements: a different open job each time, "
        f"{TECHNICIANS} technicians.",
        "",
        "| offered | request | requests | errors | p50 ms | p90 ms | p99 ms | max ms | "
        f"p99 ≤ {TARGET_MS:.0f} ms | achieved | CPU server / client |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rate, results, took, (server_cpu, client_cpu) in runs:
        total = sum(len(s.latencies) for s in results.values())
        for kind, s in results.items():
            lat = s.latencies
            errors = ", ".join(f"{k}: {v}" for k, v in s.errors.items()) or "0"
            ok = "met" if pct(lat, 99) <= TARGET_MS else "missed"
            lines.append(
                f"| {2 * rate:.0f}/s | {kind} | {len(lat)} | {errors} | "
                f"{statistics.median(lat):.1f} | {pct(lat, 90):.1f} | {pct(lat, 99):.1f} | "
                f"{max(lat):.1f} | {ok} | {total / took:.0f}/s | "
                f"{server_cpu:.0%} / {client_cpu:.0%} |"
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
