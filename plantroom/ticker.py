"""One worker thread owned by the event loop, and the interval loop that ticks on it.

Database work is blocking, so a process runs it off the event loop; and work on one database
that must not interleave (a tick and a rule reload, two evaluations of the same schedules)
runs in order on one thread. `WorkerThread` is that thread:

    async with WorkerThread("cloud-db") as worker:
        result = await worker.call(fn, arg)     # on the thread, in turn, off the loop

`Ticker` adds the loop that runs one function on it every `interval` seconds:

    async with Ticker("cloud-sla", escalator.tick, interval=5.0) as ticker:
        ...                                     # ticker.stats: ticks, failures, last error
        await ticker.run_now()                  # one more tick, in turn with the loop's

Leaving either waits for the work under way (a tick is never cut short), then joins the
thread: nothing is left running behind. A tick that raises is counted and logged (ERROR with
the traceback once per outage, DEBUG while it lasts, INFO when ticks succeed again), and the
loop carries on at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


class NotRunning(RuntimeError):
    """Work was handed to a worker thread that is not running (not started, or stopped)."""


class Stops(ABC):
    """An async context manager whose leaving stops what it runs, however the block ended."""

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class WorkerThread(Stops):
    """One thread that runs blocking functions in the order they are handed over.

    `start` makes the thread (it is named `<name>_0`); `stop` lets the work already handed
    over finish, without blocking the event loop, and joins the thread. Started and stopped
    from the event loop that calls it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        if self._executor is not None:
            raise RuntimeError(f"worker thread {self.name} is already running")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the thread, after whatever was handed over before it."""
        executor = self._executor
        if executor is None:
            raise NotRunning(f"worker thread {self.name} is not running")
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    async def stop(self) -> None:
        """Refuse new work, wait for the work handed over, then join the (idle) thread.

        Cancelled while waiting, it still joins the thread before the cancellation goes on,
        blocking the loop for what remains of the function under way."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:  # one thread takes work in order: once this has run, all before it has
            await asyncio.get_running_loop().run_in_executor(executor, _nothing)
        finally:
            executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        self.start()
        return self


class Runs(Stops):
    """An async context manager that starts what it runs on entry and stops it on exit."""

    @abstractmethod
    async def start(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self


@dataclass(slots=True)
class TickerStats:
    """What a ticker has done; a subclass may add the counts of its own ticks."""

    ticks: int = 0  # ticks that returned
    failures: int = 0  # ticks that raised
    failing: int = 0  # ticks that raised since the last one that returned
    last_tick_at: datetime | None = None  # when the last tick returned
    last_error: str | None = None  # the last error seen, kept after recovery


class Ticker(Runs, Generic[R]):
    """Runs `tick` on its own `WorkerThread` every `interval` seconds while it is entered.

    The first tick runs at once, or one interval after start with `delay_first` (for a
    tick that needs data to have arrived first). The interval is the pause between the end
    of one tick and the start of the next. `clock` stamps `stats.last_tick_at`; `stats`
    may be a subclass of `TickerStats` that the tick itself adds counts to."""

    def __init__(
        self,
        name: str,
        tick: Callable[[], R],
        *,
        interval: float,
        delay_first: bool = False,
        what: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        stats: TickerStats | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"ticker {name}: interval must be more than zero, got {interval!r}")
        self.name = name
        self.what = what or name
        self.interval = interval
        self.delay_first = delay_first
        self.stats = stats if stats is not None else TickerStats()
        self.thread = WorkerThread(name)
        self._tick = tick
        self._clock = clock
        self._stop = asyncio.Event()
        self._woken = asyncio.Event()
        self._loop_of: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def wake(self) -> None:
        """Tick now rather than at the end of the pause (from any thread); a tick under way
        is followed by another at once. Does nothing when the ticker is not running."""
        loop = self._loop_of
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Any other function on the ticker's thread, in turn with the ticks."""
        return await self.thread.call(fn, *args)

    async def run_now(self) -> R:
        """One tick now, on the thread in turn with the loop's (in the caller's thread when
        the ticker is not running); counted like the loop's, and its error raised."""
        if not self.thread.running:
            return self._counted()
        return await self.thread.call(self._counted)

    def _counted(self) -> R:
        stats = self.stats
        try:
            result = self._tick()
        except Exception as exc:
            stats.failures += 1
            stats.failing += 1
            stats.last_error = f"{type(exc).__name__}: {exc}"
            raise
        stats.ticks += 1
        stats.failing = 0
        stats.last_tick_at = self._clock()
        return result

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"ticker {self.name} is already running")
        self.thread.start()
        self._stop.clear()
        self._loop_of = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop ticking after the tick under way, and join the thread."""
        self._stop.set()
        self._loop_of = None
        task, self._task = self._task, None
        try:
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await self.thread.stop()

    async def _pause(self) -> bool:
        """Wait one interval, or until woken; True if asked to stop meanwhile."""
        stop = asyncio.ensure_future(self._stop.wait())
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait({stop, woken}, timeout=self.interval, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()
            woken.cancel()
        self._woken.clear()
        return self._stop.is_set()

    async def _loop(self) -> None:
        if self.delay_first and await self._pause():
            return
        outage = False
        while not self._stop.is_set():
            try:
                await self.run_now()
            except Exception:
                if not outage:
                    log.exception("%s failed; retrying every %g s", self.what, self.interval)
                else:
                    log.debug("%s still failing: %s", self.what, self.stats.last_error)
                outage = True
            else:
                if outage:
                    log.info("%s works again", self.what)
                outage = False
            if await self._pause():
                return


class Ticked(Runs):
    """Runs on a `Ticker` of its own (`self.ticker`): entering starts it, leaving stops it."""

    ticker: Ticker[Any]

    async def start(self) -> None:
        await self.ticker.start()

    async def stop(self) -> None:
        await self.ticker.stop()
