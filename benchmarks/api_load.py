"""The API benchmark's client: an open-loop load of list and acknowledge requests over a few
lines of asyncio streams (keep-alive HTTP/1.1), each latency taken from when its request was
due."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from benchmarks.api_params import DURATION_S, IDLE_S, MAX_CONNECTIONS, REQUEST_TIMEOUT_S


@dataclass
class Series:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


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
