"""The lease loop of one cloud process: a heartbeat every third of the lease's lifetime that
renews what it holds, takes its fair share of free sites (`cloud.cluster.allocator`), gives
back what is over its share, and raises the `site_unwatched` system alarm about a site no one
has held for longer than a lease lasts.

While it holds a site it runs that site's work (`start_site`: the site's telemetry consumer
and rule evaluation), which commits each batch only under the lease (`fence`). The work stops
at once, without finishing its queue, when the lease is lost: a renewal that finds the lease
taken, a fence that finds it so, or the lease's lifetime passing on this process's clock
since the last renewal began without a renewal (the database unreachable). A process that
stops normally finishes its work under the lease, then releases it, so another takes the site
at its next heartbeat rather than after the lease expires.

Its database work runs on its own thread (`cloud-cluster`), not behind the telemetry batches,
so a busy site cannot delay its own renewal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from cloud.alarms import system
from cloud.alarms.unwatched import UNWATCHED
from cloud.alarms.unwatched import message as unwatched_message
from cloud.cluster import allocator, leases
from cloud.cluster.leases import ClusterView, LeaseLost
from cloud.db import Database
from cloud.enums import Severity
from plantroom.clustersettings import ClusterSettings
from plantroom.ticker import Runs, WorkerThread

log = logging.getLogger(__name__)

Fence = Callable[[Session], None]


class SiteWork(Protocol):
    """What runs while a site's lease is held."""

    async def stop(self, *, drain: bool) -> None: ...


StartSite = Callable[[str, Fence], Awaitable[SiteWork]]


@dataclass(slots=True)
class Held:
    epoch: int
    valid_until: float  # on this process's monotonic clock
    acquired_at: datetime
    expires_at: datetime
    work: SiteWork | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class ClusterStats:
    rounds: int = 0
    failures: int = 0
    failing: int = 0  # rounds failed in a row
    acquired: int = 0
    released: int = 0
    lost: int = 0
    last_error: str | None = None
    last_view: ClusterView | None = None
    unwatched: list[str] = field(default_factory=list)


def default_process_id() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class Coordinator(Runs):
    """An async context manager: entering joins the cluster and takes this process's share of
    `sites` before returning; leaving stops the work and releases the leases."""

    def __init__(
        self,
        db: Database,
        sites: Sequence[str],
        settings: ClusterSettings,
        start_site: StartSite,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.sites = tuple(sites)
        self.process_id = settings.cloud_process_id or default_process_id()
        self.ttl_s = settings.cloud_lease_ttl_s
        self._ttl = timedelta(seconds=self.ttl_s)
        self.interval_s = self.ttl_s / 3
        self._start_site = start_site
        self._monotonic = monotonic
        self._thread = WorkerThread("cloud-cluster")
        self._held: dict[str, Held] = {}
        self._lock = asyncio.Lock()  # one round, abandonment or stop at a time
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = ClusterStats()

    # -- what the API shows -----------------------------------------------------------------

    def held(self) -> dict[str, Held]:
        return dict(self._held)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        try:
            await self._round()
        except BaseException:
            await self.stop()
            raise
        self._task = asyncio.create_task(self._run(), name="cloud-cluster-leases")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        async with self._lock:
            for site in sorted(self._held):
                await self._release(site)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._thread.running:
            try:
                await self._thread.call(self._leave)
            except Exception as exc:
                log.warning("leaving the cluster: %s", exc)
            await self._thread.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            # a stop does not cut a round short: a lease it acquired is known, and released
            round_ = asyncio.ensure_future(self._round())
            try:
                await asyncio.shield(round_)
            except asyncio.CancelledError:
                await asyncio.gather(round_, return_exceptions=True)
                raise
            except Exception as exc:
                self.stats.failures += 1
                self.stats.failing += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("lease round failed (%s); the leases run out unless renewed", exc)

    # -- one round --------------------------------------------------------------------------

    async def _round(self) -> None:
        async with self._lock:
            began = self._monotonic()
            epochs = {site: held.epoch for site, held in self._held.items()}
            kept, view = await self._thread.call(self._heartbeat, epochs)
            for site in list(self._held):
                if site in kept:
                    self._extend(site, began, view.now)
                else:
                    await self._abandon(site, "it was taken over or released")
            self.stats.last_view = view
            moves = allocator.plan(view, self.process_id, held=set(self._held), serves=self.sites)
            for site in moves.release:
                log.info("giving up site %s: over this process's share of %d", site, moves.share)
                await self._release(site)
            for site in moves.acquire:
                await self._acquire(site, view.now)
            # the cluster as it is after this round's changes: health shows it
            self.stats.last_view, self.stats.unwatched = await self._thread.call(self._watch)
            self.stats.rounds += 1
            self.stats.failing = 0

    def _heartbeat(self, epochs: dict[str, int]) -> tuple[set[str], ClusterView]:
        with self._db.session() as session:
            now = leases.db_now(session)
            leases.ensure_sites(session, self.sites, now=now)
            leases.beat(session, self.process_id, now=now, ttl=self._ttl)
            kept = {
                site
                for site, epoch in epochs.items()
                if leases.renew(session, site, self.process_id, epoch, now=now, ttl=self._ttl)
            }
            return kept, leases.view(session, now=now)

    def _extend(self, site: str, began: float, now: datetime) -> None:
        held = self._held[site]
        held.valid_until = began + self.ttl_s
        held.expires_at = now + self._ttl
        self._arm(site, held)

    def _arm(self, site: str, held: Held) -> None:
        """Stop the site's work when its lease runs out on this clock, unless renewed first."""
        if held.timer is not None:
            held.timer.cancel()
        assert self._loop is not None
        delay = max(0.0, held.valid_until - self._monotonic())
        held.timer = self._loop.call_later(delay, self._lost_soon, site, held.epoch, "it ran out")

    def _lost_soon(self, site: str, epoch: int, why: str) -> None:
        """From a timer or (thread-safely) from a fence: abandon the site's work now."""
        held = self._held.get(site)
        if held is None or held.epoch != epoch:
            return
        task = asyncio.create_task(self._abandon_locked(site, epoch, why))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _abandon_locked(self, site: str, epoch: int, why: str) -> None:
        async with self._lock:
            held = self._held.get(site)
            if held is not None and held.epoch == epoch:
                await self._abandon(site, why)

    async def _abandon(self, site: str, why: str) -> None:
        held = self._held.pop(site)
        self.stats.lost += 1
        log.error(
            "lost the lease of site %s (epoch %d): %s; stopping its work", site, held.epoch, why
        )
        if held.timer is not None:
            held.timer.cancel()
        if held.work is not None:
            try:
                await held.work.stop(drain=False)
            except Exception:
                log.exception("stopping the work of site %s", site)

    async def _acquire(self, site: str, now: datetime) -> None:
        began = self._monotonic()
        epoch = await self._thread.call(self._take, site)
        if epoch is None:
            return  # another process was quicker
        held = Held(epoch, began + self.ttl_s, acquired_at=now, expires_at=now + self._ttl)
        self._held[site] = held
        self._arm(site, held)
        self.stats.acquired += 1
        log.info("acquired the lease of site %s (epoch %d)", site, epoch)
        try:
            held.work = await self._start_site(site, self._fence(site, epoch))
        except Exception:
            log.exception("starting the work of site %s failed; releasing it", site)
            await self._release(site)

    def _take(self, site: str) -> int | None:
        with self._db.session() as session:
            now = leases.db_now(session)
            return leases.acquire(session, site, self.process_id, now=now, ttl=self._ttl)

    async def _release(self, site: str) -> None:
        held = self._held[site]
        if held.timer is not None:
            held.timer.cancel()
        if held.work is not None:
            try:
                await held.work.stop(drain=True)  # the last batches commit under the lease
            except Exception:
                log.exception("stopping the work of site %s", site)
        del self._held[site]
        try:
            await self._thread.call(self._give_back, site, held.epoch)
        except Exception as exc:
            log.warning("releasing site %s: %s; it is free once the lease runs out", site, exc)
        self.stats.released += 1
        log.info("released the lease of site %s (epoch %d)", site, held.epoch)

    def _give_back(self, site: str, epoch: int) -> None:
        with self._db.session() as session:
            leases.release(session, site, self.process_id, epoch, now=leases.db_now(session))

    def _leave(self) -> None:
        with self._db.session() as session:
            leases.leave(session, self.process_id)

    def _fence(self, site: str, epoch: int) -> Fence:
        """The check a batch of `site` makes in its transaction before it commits anything."""

        def fence(session: Session) -> None:
            held = self._held.get(site)
            try:
                if held is None or held.epoch != epoch or self._monotonic() >= held.valid_until:
                    raise LeaseLost(site, epoch)
                leases.fence(session, site, self.process_id, epoch)
            except LeaseLost:
                if self._loop is not None:
                    self._loop.call_soon_threadsafe(self._lost_soon, site, epoch, "fenced off")
                raise

        return fence

    # -- sites no one watches ---------------------------------------------------------------

    def _watch(self) -> tuple[ClusterView, list[str]]:
        """The cluster now; `site_unwatched` raised for each site no one has held for over
        the TTL, cleared for the others."""
        with self._db.session() as session:
            now = leases.db_now(session)
            view = leases.view(session, now=now)
            unwatched = allocator.unwatched(view, self._ttl)
            subjects = {f"site:{site}": site for site in unwatched}
            active = set(system.active_subjects(session, UNWATCHED))
            for subject, site in subjects.items():
                if subject not in active:
                    facts = {"site": site, "ttl_s": self.ttl_s}
                    system.raise_system_alarm(
                        session,
                        UNWATCHED,
                        subject,
                        unwatched_message(facts),
                        severity=Severity.CRITICAL,
                        details=facts,
                        now=now,
                    )
            for subject in active - set(subjects):
                system.clear_system_alarm(
                    session, UNWATCHED, subject, now, note="a cloud process holds its lease"
                )
        return view, unwatched
