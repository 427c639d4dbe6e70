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
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import insert, update

from cloud import registry
from cloud.db import Database
from cloud.enums import Channel, Priority, Role, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment
from cloud.orm import Counter
from cloud.users.service import add_user, issue_token
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from plantroom.inventory import load_inventory
from plantroom.ports import free_port

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
                connection.execute(insert(WorkOrder), rows)
                connection.execute(insert(WorkOrderEvent), events)
            connection.execute(
                update(Counter).where(Counter.name == "work_order_number").values(value=WORK_ORDERS)
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


MAX_CONNECTIONS = 1024  # more than an open-loop run at these rates ever has in flight
# Connections idle this long are closed rather than reused: uvicorn closes them after 5 s, and
# a request sent just as it does would fail through no fault of the server's.
IDLE_S = 4.0
REQUEST_TIMEOUT_S = 10.0


class LoadError(Exception):
    """A request of the load that got no usable answer (its text names why)."""


class Connections:
    """Keep-alive HTTP/1.1 connections to the API, each carrying one request at a time.

    The load generator's own client: a few hundred microseconds of CPU a request, and nothing
    that grows with the number of requests waiting, so the client stays far from the limit of
    the machine while the server is measured. (A general-purpose client's pool, with
    hundreds of requests queued on it, spends its time on the queue and falls behind the
    schedule it is meant to keep.) Answers must carry a Content-Length, as the API's do."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open = 0
        self._freed = asyncio.Condition()

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self._freed:
            while True:
                stale = time.monotonic() - IDLE_S
                while self._idle and self._idle[0][2] < stale:  # the oldest first
                    self._idle.pop(0)[1].close()
                    self._open -= 1
                if self._idle or self._open < MAX_CONNECTIONS:
                    break
                await self._freed.wait()
            if self._idle:
                reader, writer, _ = self._idle.pop()
                return reader, writer
            self._open += 1
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        except OSError:
            await self._lost()
            raise
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def _lost(self) -> None:
        async with self._freed:
            self._open -= 1
            self._freed.notify()

    async def _give_back(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        async with self._freed:
            self._idle.append((*conn, time.monotonic()))
            self._freed.notify()

    async def request(self, method: str, path: str, token: str, body: bytes | None) -> int:
        """Send one request and read its whole answer; its HTTP status."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Authorization: Bearer {token}\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = head.encode("latin-1") + b"\r\n" + (body or b"")
        conn = await self._take()
        reader, writer = conn
        try:
            writer.write(data)
            status, length, keep = _head(await reader.readuntil(b"\r\n\r\n"))
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, LoadError):
            writer.close()
            await self._lost()
            raise
        except BaseException:  # cancelled (timed out) mid-answer: the connection is unusable
            writer.close()
            await self._lost()
            raise
        if keep:
            await self._give_back(conn)
        else:
            writer.close()
            await self._lost()
        return status

    async def aclose(self) -> None:
        async with self._freed:
            idle, self._idle = self._idle, []
        for _, writer, _ in idle:
            writer.close()
            await writer.wait_closed()


def _head(raw: bytes) -> tuple[int, int, bool]:
    """An answer's status, Content-Length and whether the connection stays open."""
    lines = raw.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise LoadError(f"bad status line {lines[0]!r}") from exc
    length, keep = None, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
    if length is None:
        raise LoadError("answer without Content-Length")
    return status, length, keep


async def load(
    host: str, port: int, tokens: list[str], open_ids: list[int], rate: float
) -> dict[str, Series]:
    """Open loop: every request is started when it is due, whatever the earlier ones are
    doing, and its latency runs from when it was due."""
    results = {"list": Series(), "acknowledge": Series()}
    rng = random.Random(11)
    connections = Connections(host, port)

    async def one(
        kind: str, due: float, method: str, path: str, token: str, body: bytes | None
    ) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status = await connections.request(method, path, token, body)
            ok, what = status == 200, f"HTTP {status}"
        except TimeoutError:
            ok, what = False, "timeout"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            ok, what = False, type(exc).__name__
        except LoadError as exc:
            ok, what = False, str(exc)
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
    ack_body = b'{"channel": "api"}'
    count = int(rate * DURATION_S)
    ids = iter(open_ids)
    tasks: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.5
    for i in range(count):
        token = tokens[i % len(tokens)]
        query = urlencode(dict(rng.choice(filters), limit="50"))
        sends = (
            (start + i / rate, "list", "GET", f"/api/work-orders?{query}", None),
            (
                start + (i + 0.5) / rate,
                "acknowledge",
                "POST",
                f"/api/work-orders/{next(ids)}/acknowledge",
                ack_body,
            ),
        )
        for due, kind, method, path, body in sends:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(kind, due, method, path, token, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    await connections.aclose()
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
                results = asyncio.run(load("127.0.0.1", port, tokens, ids, rate))
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
