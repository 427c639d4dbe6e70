"""The API benchmark's client: an open-loop load of list and acknowledge requests over a few
lines of asyncio streams (keep-alive HTTP/1.1), each latency taken from when its request was
due."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from benchmarks.api_params import IDLE_S, MAX_CONNECTIONS, REQUEST_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Phase:
    """`rate` requests a second in all (list and acknowledge in turn) for `seconds`."""

    rate: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: its phase, kind, when it was due (seconds into its phase), its latency
    from then, and its HTTP status (None: no answer, `error` says why)."""

    phase: int
    kind: str
    due_s: float
    ms: float
    status: int | None
    error: str | None = None

    @property
    def served(self) -> bool:
        return self.status == 200

    @property
    def shed(self) -> bool:
        return self.status == 503

    @property
    def what(self) -> str:
        return self.error or f"HTTP {self.status}"


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


FILTERS: tuple[dict[str, str], ...] = (
    {"status": "open"},
    {"status": "open", "building": "tower-a"},
    {"priority": "emergency"},
    {"kind": "fault", "status": "in_progress"},
    {"offset": "500"},
    {},
)
ACK_BODY = b'{"channel": "api"}'


async def load(
    host: str, port: int, tokens: list[str], open_ids: deque[int], phases: Sequence[Phase]
) -> list[Sample]:
    """Open loop: every request is started when it is due, whatever the earlier ones are
    doing, and its latency runs from when it was due. The phases follow one another without
    a pause. Each acknowledgement takes a job from `open_ids`, and gives it back if it was
    answered 503 (the job is still open)."""
    samples: list[Sample] = []
    rng = random.Random(11)
    connections = Connections(host, port)

    async def one(
        phase: int,
        kind: str,
        due: float,
        since: float,
        method: str,
        path: str,
        token: str,
        job: int | None,
    ) -> None:
        status, error = None, None
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status = await connections.request(
                    method, path, token, ACK_BODY if job is not None else None
                )
        except TimeoutError:
            error = "timeout"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            error = type(exc).__name__
        except LoadError as exc:
            error = str(exc)
        if job is not None and status == 503:
            open_ids.appendleft(job)
        ms = (time.perf_counter() - due) * 1000
        samples.append(Sample(phase, kind, due - since, ms, status, error))

    tasks: set[asyncio.Task[None]] = set()
    since = time.perf_counter() + 0.5
    sent = 0
    for n, phase in enumerate(phases):
        for i in range(int(phase.rate * phase.seconds)):
            due = since + i / phase.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            token = tokens[sent % len(tokens)]
            job = None
            if sent % 2:
                if not open_ids:
                    raise RuntimeError(
                        f"no open job left to acknowledge after {sent} requests; "
                        "raise OPEN in benchmarks/api_params.py"
                    )
                job = open_ids.popleft()
                path, method = f"/api/work-orders/{job}/acknowledge", "POST"
            else:
                query = urlencode(dict(rng.choice(FILTERS), limit="50"))
                path, method = f"/api/work-orders?{query}", "GET"
            kind = "list" if job is None else "acknowledge"
            task = asyncio.create_task(one(n, kind, due, since, method, path, token, job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        since += phase.seconds
    while tasks:
        await asyncio.gather(*tasks)
    await connections.aclose()
    return samples
