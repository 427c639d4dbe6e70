"""A TCP proxy that can cut or degrade a link: one edge agent talks to the broker through it.

The proxy runs its own asyncio loop in one thread. `cut()` closes every open connection
and refuses new ones (accepted and closed at once, as a dead uplink looks to the agent);
`degrade(Degradation(...))` delays every chunk each way by a latency plus random jitter
(order kept) and resets every connection at random intervals; `restore()` ends either.
`close()` stops the loop and joins the thread.

A TCP proxy cannot drop single segments: the kernel on each side retransmits them, and
dropping bytes inside the stream would corrupt it. Loss is modelled as what it costs the
application: latency jitter (a lost segment arrives late, after its retransmission) and
connection resets (a link that loses too much is torn down and reconnected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from plantroom.errors import ServiceError

log = logging.getLogger(__name__)

CHUNK = 65536
MAX_CONNECTIONS = 64


@dataclass(frozen=True)
class Degradation:
    """A slow, lossy link: `latency_s` each way plus up to `jitter_s` more per chunk, and
    every connection reset after a random `reset_every_s` (low, high) interval."""

    latency_s: float
    jitter_s: float
    reset_every_s: tuple[float, float]


class LinkProxy:
    """Forwards `listen_host:listen_port` to `target_host:target_port`, with a cut switch."""

    def __init__(
        self, listen_host: str, listen_port: int, target_host: str, target_port: int
    ) -> None:
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.target_host = target_host
        self.target_port = target_port
        self.refused = 0
        self.accepted = 0
        self._cut = False
        self._degraded: Degradation | None = None
        self.resets = 0
        self._rng = random.Random()
        self._reset_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._error: BaseException | None = None

    # -- control, from any thread -----------------------------------------------------------
    @property
    def is_cut(self) -> bool:
        return self._cut

    def start(self, timeout: float = 10.0) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-link-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ServiceError(f"the link proxy did not start on port {self.listen_port}")
        if self._error is not None:
            raise ServiceError(
                f"the link proxy cannot listen on {self.listen_host}:{self.listen_port}: "
                f"{self._error}"
            ) from self._error

    def cut(self) -> None:
        """Drop every connection through the proxy and refuse new ones until `restore()`."""
        self._cut = True
        self._call(self._drop_all)

    def degrade(self, how: Degradation) -> None:
        """Slow every connection down and reset them now and then, until `restore()`."""
        self._degraded = how
        self._call(self._start_resets)

    def restore(self) -> None:
        self._cut = False
        self._degraded = None

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> LinkProxy:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, fn: object) -> None:
        assert callable(fn)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            done = threading.Event()

            def run() -> None:
                try:
                    fn()
                finally:
                    done.set()

            loop.call_soon_threadsafe(run)
            done.wait(5)

    # -- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # reported to the thread that started the proxy
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._handle, self.listen_host, self.listen_port, reuse_address=True
        )
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            self._drop_all()

    def _start_resets(self) -> None:
        if self._reset_task is None or self._reset_task.done():
            self._reset_task = asyncio.get_running_loop().create_task(
                self._resets(), name="proxy-resets"
            )

    async def _resets(self) -> None:
        while (how := self._degraded) is not None:
            await asyncio.sleep(self._rng.uniform(*how.reset_every_s))
            if self._degraded is not None and self._writers:
                self.resets += 1
                self._drop_all()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut or len(self._writers) >= MAX_CONNECTIONS:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        self._writers.update((writer, up_writer))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pipe(reader, up_writer), name="proxy-up")
                tg.create_task(self._pipe(up_reader, writer), name="proxy-down")
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction; on a degraded link each chunk waits for its due time, which
        never runs before the previous chunk's (the stream stays in order)."""
        due = 0.0
        try:
            while data := await reader.read(CHUNK):
                if self._cut:
                    break
                if (how := self._degraded) is not None:
                    delay = how.latency_s + self._rng.uniform(0.0, how.jitter_s)
                    due = max(due, time.monotonic() + delay)
                    await asyncio.sleep(due - time.monotonic())
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
