"""The notifier: one delivery pump per receiver, and the periodic InfluxDB metrics.

    audit trail ──► pump ─► webhook URL 1        (every event, signed)
                ├─► pump ─► webhook URL 2
                ├─► pump ─► Grafana annotations  (raised, acknowledged, resolved)
                └─► pump ─► InfluxDB `events`
    every metrics interval: KPIs ─► InfluxDB `work_orders`

Each receiver has its own cursor, so one that is down holds up no other. All database work
runs on one thread owned here (a `plantroom.ticker.WorkerThread`, `cloud-notify`); the pumps
and the metrics loop run in one TaskGroup, restarted with backoff (from the cursors saved in
the database) if it fails, for instance while the database is unreachable.

Of several cloud processes on one database, one sends: the pumps run in the process holding
`cloud-notify` (`cloud.cluster.turns.Holder`); the others look every poll interval and take
over from the saved cursors when it stops or dies. Only that process writes the work-order
metrics; every process writes its own intake's.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import httpx
from sqlalchemy.orm import Session

from cloud.clock import Clock
from cloud.cluster.turns import Holder
from cloud.db import Database
from cloud.notify.config import NotifyConfig
from cloud.notify.events import EventReader, load_cursor
from cloud.notify.grafana import GrafanaSink
from cloud.notify.influx import (
    InfluxEventsSink,
    collect_metrics,
    influx_target,
    intake_line,
    write,
)
from cloud.notify.pump import DeliveryError, Pump, Sink
from cloud.notify.webhooks import WebhookSink
from cloud.sla import SlaPolicy
from plantroom.backoff import backoff_delay
from plantroom.influx.writer import InfluxWriter
from plantroom.ticker import Runs, WorkerThread

log = logging.getLogger(__name__)

T = TypeVar("T")
# per running telemetry consumer (one per leased site in a cluster): its site, its intake's
# name and `plantroom_health` fields; none while the intake does not run
IntakeFigures = Callable[[], list[tuple[str, str, Mapping[str, int | float]]]]


def cursor_name(sink: str, key: str = "") -> str:
    """`notify:<sink>[:<10 hex of the key>]`, short enough for the counters table."""
    if not key:
        return f"notify:{sink}"
    return f"notify:{sink}:{hashlib.sha1(key.encode()).hexdigest()[:10]}"


@dataclass(slots=True)
class MetricsStats:
    writes: int = 0
    failures: int = 0
    last_written_at: datetime | None = None
    last_error: str | None = None


class Notifier(Runs):
    """An async context manager: entering starts delivery, leaving stops it (events not yet
    delivered are delivered after the next start)."""

    def __init__(
        self,
        db: Database,
        config: NotifyConfig,
        *,
        sla: SlaPolicy,
        clock: Clock,
        metrics: bool = True,
        intake: IntakeFigures | None = None,
    ) -> None:
        self._db = db
        self.config = config
        self._sla = sla
        self._clock = clock
        self._metrics_enabled = metrics and config.influx_enabled
        self._intake = intake  # written with the metrics
        self._thread = WorkerThread("cloud-notify")
        self._holder = Holder(db, "cloud-notify")
        self._client: httpx.AsyncClient | None = None
        self._influx: InfluxWriter | None = None
        self._grafana: GrafanaSink | None = None
        self._task: asyncio.Task[None] | None = None
        self.pumps: list[Pump] = []
        self.metrics = MetricsStats()

    @property
    def enabled(self) -> bool:
        c = self.config
        return bool(c.webhook_urls or c.grafana_url or c.influx_enabled)

    def wake(self) -> None:
        """Look for new events now (e.g. right after a change), not at the next poll."""
        for pump in self.pumps:
            pump.wake()

    async def _run_db(self, fn: Callable[[Session], T]) -> T:
        def call() -> T:
            with self._db.session() as session:
                return fn(session)

        return await self._thread.call(call)

    def _sinks(self) -> list[tuple[Sink, str]]:
        assert self._client is not None
        c = self.config
        sinks: list[tuple[Sink, str]] = []
        for url in c.webhook_urls:
            assert c.webhook_secret is not None  # NotifyConfig guarantees one with URLs
            sinks.append((WebhookSink(url, c.webhook_secret, self._client), cursor_name("wh", url)))
        if self._grafana is not None:
            sinks.append((self._grafana, cursor_name("grafana")))
        if self._influx is not None:
            sinks.append((InfluxEventsSink(self._influx), cursor_name("influx")))
        return sinks

    async def start(self) -> None:
        if not self.enabled:
            return
        c = self.config
        self._thread.start()
        self._client = httpx.AsyncClient(timeout=c.webhook_timeout_s)
        if c.influx_enabled:
            self._influx = InfluxWriter(influx_target(c), timeout_s=c.webhook_timeout_s)
        if c.grafana_url:
            self._grafana = GrafanaSink(c.grafana_url, c.grafana_token, timeout=c.webhook_timeout_s)
        # Cursors are set before the service answers anything: a receiver configured now is
        # sent every event from now on, none from before.
        try:
            for _, name in self._sinks():
                await self._run_db(functools.partial(load_cursor, name=name))
        except BaseException:  # e.g. the database unreachable: start nothing, leave nothing
            await self.stop()
            raise
        self._task = asyncio.create_task(self._supervise(), name="cloud-notify")
        targets = [*c.webhook_urls, *([c.grafana_url] if c.grafana_url else [])]
        if c.influx_enabled:
            targets.append(f"{c.influx_url} (db {c.influx_database})")
        log.info("notifying: %s", ", ".join(targets))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._grafana is not None:
            await self._grafana.aclose()
            self._grafana = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._influx is not None:
            await self._influx.aclose()
            self._influx = None
        if self._thread.running:  # let go of the delivery (e.g. taken while being cancelled)
            await self._thread.call(self._holder.release)
        await self._thread.stop()

    async def _supervise(self) -> None:
        attempt = 0
        while True:
            try:
                await self._run_once()
            except Exception as exc:
                attempt += 1
                delay = backoff_delay(attempt - 1, 1.0, 60.0)
                level = logging.ERROR if attempt == 1 else logging.DEBUG
                log.log(level, "notifier failed (%s); restarting in %.0f s", exc, delay)
                await asyncio.sleep(delay)

    async def _run_once(self) -> None:
        # who sends is settled before the first metrics: a process that may send writes the
        # work orders' figures from its first write on
        await self._thread.call(self._holder.try_hold)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._deliver_while_held(), name="notify delivery")
            if self._metrics_enabled:
                tg.create_task(self._metrics_forever(), name="notify metrics")

    async def _deliver_while_held(self) -> None:
        """Wait until this process holds the delivery, then deliver until it stops, or
        until the connection the hold lives on is lost (the supervisor starts again)."""
        waiting = False
        while not await self._thread.call(self._holder.try_hold):
            if not waiting:
                log.info("another cloud process sends the events; this one takes over if it stops")
            waiting = True
            await asyncio.sleep(self.config.poll_interval_s)
        try:
            await self._pump_all()
        finally:
            self.pumps = []
            await self._thread.call(self._holder.release)

    async def _keep_holding(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            if not await self._thread.call(self._holder.still_held):
                raise DeliveryError("the hold on event delivery was lost with its connection")

    async def _pump_all(self) -> None:
        c = self.config
        pumps = []
        for sink, name in self._sinks():
            position = await self._run_db(functools.partial(load_cursor, name=name))
            pumps.append(
                Pump(
                    sink,
                    name,
                    EventReader(position, site=c.site),
                    self._run_db,
                    queue_size=c.webhook_queue_size,
                    max_attempts=c.webhook_max_attempts,
                    poll_interval=c.poll_interval_s,
                )
            )
        self.pumps = pumps
        async with asyncio.TaskGroup() as tg:
            for pump in pumps:
                tg.create_task(pump.run(), name=f"notify {pump.sink.name}")
            tg.create_task(self._keep_holding(), name="notify hold")

    async def _metrics_forever(self) -> None:
        writer = self._influx
        assert writer is not None
        c = self.config
        window = timedelta(days=c.metrics_window_days)
        outage = False
        while True:
            now = self._clock()
            try:
                collect = functools.partial(
                    collect_metrics,
                    site=c.site,
                    now=now,
                    window=window,
                    targets=self._sla.targets,
                    dispatch_s=self._sla.dispatch,
                )
                # the work orders' figures from the process sending the events only
                lines = await self._run_db(collect) if self._holder.held else []
                for site, name, fields in self._intake() if self._intake is not None else []:
                    lines.append(intake_line(site, name, fields, now))
                await write(writer, lines)
            except DeliveryError as exc:
                self.metrics.failures += 1
                self.metrics.last_error = str(exc)
                if not outage:
                    log.error("work-order metrics not written to InfluxDB: %s", exc)
                outage = True
            else:
                self.metrics.writes += 1
                self.metrics.last_written_at = now
                if outage:
                    log.info("work-order metrics written to InfluxDB again")
                outage = False
            await asyncio.sleep(c.metrics_interval_s)
