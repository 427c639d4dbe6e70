"""The loop behind maintenance mode, every `PLANTROOM_MAINTENANCE_INTERVAL_S` (or at once when
woken, after a change through the API or a job's step):

1. follows the PM jobs whose plan puts their equipment in maintenance (`cloud.maintenance.pm`)
   and reloads the board of windows from the database (so a restart, or another process,
   loses nothing);
2. settles the windows that are over (`cloud.maintenance.settle`) on the telemetry thread of
   the consumer evaluating the window's site, in turn with its batches; a window of a site
   without one here (an API-only process, a site another cluster process holds) on its own
   thread.

Its database work runs on its own thread (`cloud-maintenance`). A pass that fails is logged
once per outage and tried again at the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from cloud.clock import Clock
from cloud.cluster.turns import turn
from cloud.db import Database
from cloud.maintenance.pm import follow_jobs
from cloud.maintenance.service import unsettled
from cloud.maintenance.settle import Settled, settle
from cloud.maintenance.window import Board, Window
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy
from plantroom.ticker import Runs, WorkerThread

if TYPE_CHECKING:
    from cloud.ingest import TelemetryConsumer
    from cloud.monitor import Monitor

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class RunnerStats:
    passes: int = 0
    failures: int = 0
    settled: int = 0
    released: int = 0
    raised: int = 0
    last_error: str | None = None


class MaintenanceRunner(Runs):
    def __init__(
        self,
        db: Database,
        board: Board,
        *,
        sla: SlaPolicy,
        clock: Clock,
        interval: float,
        pm_plans: Collection[str] = (),
        pm_longest: timedelta = timedelta(hours=12),
        rules: Callable[[], Collection[Rule]] = list,
    ) -> None:
        self._db = db
        self.board = board
        self._sla = sla
        self._clock = clock
        self.interval = interval
        self.pm_plans = frozenset(pm_plans)
        self._pm_longest = pm_longest
        self._rules = rules
        # the running consumers: per site, or under None the one evaluating every site
        self.consumers: dict[str | None, TelemetryConsumer] = {}
        self.site_of: Callable[[Window], str | None] = lambda window: None
        self.on_raised: Callable[[], None] | None = None  # the SLA ticker's wake
        self.stats = RunnerStats()
        self._thread = WorkerThread("cloud-maintenance")
        self._woken = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run a pass now (from any thread); nothing when not running."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)

    # -- one pass ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Follow the PM jobs and reload the board, in one transaction; in turn with any
        other process's, so a PM job in progress opens one window."""
        with turn(self._db, "cloud-maintenance"), self.board.lock:
            with self._db.session() as session:
                follow_jobs(
                    session, plans=self.pm_plans, now=self._clock(), longest=self._pm_longest
                )
                windows = unsettled(session)
            self.board.replace(windows)

    def settle_now(
        self, monitor: Monitor | None, windows: Collection[int] | None = None
    ) -> Settled:
        """Settle the windows over now, or of them those in `windows` (on the telemetry thread
        of `monitor` when it is given)."""
        if monitor is not None:
            engine = monitor.engine
            known = {r.id: r for r in engine.rules}
            incidents = monitor.incidents
        else:
            known = {r.id: r for r in self._rules()}
            incidents = None
        with self._db.session() as session:
            done = settle(
                session,
                self.board,
                now=self._clock(),
                sla=self._sla,
                rule_of=known.get,
                incidents=incidents,
                windows=windows,
            )
        self.board.drop(done.windows)
        return done

    async def run_once(self) -> Settled | None:
        """One pass; what it settled, or None when no window was over. Runs in the caller's
        thread when the loop is not running (tests drive it so)."""
        await self._on_thread(self.refresh)
        due = self.board.due(self._clock())
        if not due:
            return None
        done = Settled(windows=[])
        for consumer, windows in self._by_consumer(due):
            if consumer is not None:
                part = await consumer.call(self.settle_now, consumer.monitor, windows)
            else:
                part = await self._on_thread(self.settle_now, None, windows)
            done.windows += part.windows
            done.released += part.released
            done.raised += part.raised
            done.carried += part.carried
        self.stats.settled += len(done.windows)
        self.stats.released += done.released
        self.stats.raised += done.raised
        if done.raised and self.on_raised is not None:
            self.on_raised()
        return done

    def _by_consumer(self, due: list[Window]) -> list[tuple[TelemetryConsumer | None, list[int]]]:
        """The due windows grouped by the consumer evaluating their site (None: none here)."""
        groups: dict[int, tuple[TelemetryConsumer | None, list[int]]] = {}
        for window in due:
            consumers = self.consumers
            consumer = consumers.get(self.site_of(window)) or consumers.get(None)
            groups.setdefault(id(consumer), (consumer, []))[1].append(window.id)
        return list(groups.values())

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread.running:
            return await self._thread.call(fn, *args)
        return fn(*args)

    # -- the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._thread.start()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._forever(), name="cloud-maintenance")

    async def stop(self) -> None:
        self._loop = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._thread.stop()

    async def _forever(self) -> None:
        outage = False
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if not outage:
                    log.exception("maintenance pass failed; retrying every %g s", self.interval)
                outage = True
            else:
                self.stats.passes += 1
                if outage:
                    log.info("maintenance passes work again")
                outage = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=self.interval)
            self._woken.clear()
