"""The telemetry consumer: MQTT in, the monitor (registry, rules, alarms, work orders) out.

    receiver ──► intake queue ──► worker ──► one DB thread (Monitor.process, in batches)
    ticker   ──┘ (one tick at a time)

The intake queue (`cloud.intake`) takes alarm and state changes first (status messages, rule
ticks, and the samples `cloud.triggers` calls urgent), each after its equipment's earlier
samples, and folds the routine samples of one piece of equipment waiting together into one,
keeping what windowed rules need: when the worker falls behind, faults still go straight
through and measurements lag. The lag is measured (`oldest_wait_s`, `delays`); beyond
`intake_lag_alarm_s` the ticker raises the `telemetry_intake_behind` system alarm
(`lag_alarms`), cleared once the intake has caught up.

Back-pressure: QoS 1 messages are acknowledged once they are in the bounded queue (a folded
one once folded), not on receipt. When the queue is full the receiver stops taking messages,
so acknowledgements stop; at `RECEIVE_MAXIMUM` unacknowledged messages the subscriber stops
reading the socket and the broker holds the rest (within its `max_queued_messages`). Memory
stays bounded whatever the lag; a message past the receiver's buffer (QoS 0 only, which the
broker does not hold back) is counted as dropped. The broker side is `cloud.receiver`.

Batches: the worker takes what is queued, up to `batch_size`, and when that is less waits up
to `batch_linger` for more, so that at a steady rate many messages share one transaction.
Batches are small (25 entries): a worker that is behind takes full ones, and a fault arriving
meanwhile waits for the batch's commit (the registry's rows of every entry applied), which a
starved process pays for in its scarce CPU; a batch of routine samples also stops at the
sample it is applying once an urgent entry is queued, commits what it applied and puts the
rest back in front.

Telemetry comes through a plain subscription, or the shared subscription
`$share/<cloud_share_group>/…/telemetry` when a group is set, so replicas split the stream
(mosquitto 2.0 restores only plain subscriptions after a crash); equipment status through a
plain subscription, so the retained statuses arrive on connect. Every message is validated at
this boundary; an invalid one is counted and logged with its topic and never stops the stream.
A sample more than `max_clock_skew_s` ahead of this process's clock is refused and counted
(`future`), so it cannot shadow the real samples after it. Each sample's points are checked
against its equipment's device profile (`cloud.points`): a point the profile does not define
or a value of the wrong type is dropped and counted, the good points go on. Edge agents'
health reports are read only for their time: `clocks` holds each agent's clock skew, and when
one goes beyond the bound or comes back, the ticker writes the `edge_clock_wrong` system alarm
(`clock_alarms`). A batch that fails is retried, then its messages one by one, and a message
that fails alone is dead-lettered (`cloud.batches`). The broker connection is re-made with
jittered exponential backoff. All database work runs on one thread owned here, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from cloud.alarms.edge_clock import EdgeClockAlarms
from cloud.alarms.intake import IntakeAlarms
from cloud.batches import process_batch
from cloud.clockskew import ClockSkews
from cloud.equipment import key
from cloud.intake import Delays, Intake, LagWatch, health_fields
from cloud.invalidlog import InvalidLog
from cloud.messages import edge_report_time, parse_item
from cloud.monitor import Item, Monitor, TelemetryItem, TickItem
from cloud.points import PointCheck
from cloud.receiver import IngestStats, Receiver, session_names
from cloud.rules.base import Scalar
from cloud.rules.model import Rule
from cloud.triggers import Triggers
from plantroom.backoff import Backoff
from plantroom.errors import InvalidMessage
from plantroom.mqttwire import Publish
from plantroom.schema import DEFAULT_MAX_CLOCK_SKEW_S, FutureTimestamp
from plantroom.settings import CloudSettings
from plantroom.ticker import Runs, WorkerThread

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
BATCH_SIZE = 25  # a full batch's commit is what a fault arriving late in it waits for
BATCH_LINGER_S = 0.02
DRAIN_TIMEOUT_S = 10.0

T = TypeVar("T")


class TelemetryConsumer(Runs):
    """An async context manager: entering loads the rule state and starts consuming; leaving
    stops receiving, processes what is queued (up to a deadline) and stops the DB thread."""

    def __init__(
        self,
        settings: CloudSettings,
        monitor: Monitor,
        *,
        client_id: str | None = None,
        tick_interval: float = 1.0,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        batch_linger: float = BATCH_LINGER_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        points: PointCheck | None = None,
        clock_alarms: EdgeClockAlarms | None = None,
        lag_alarms: IntakeAlarms | None = None,
        site: str | None = None,
    ) -> None:
        self._settings = settings
        self._site = site  # only this site's topics (a cluster's lease); None: every site
        self._clock_alarms = clock_alarms
        self.points = points
        self._monitor = monitor
        self._client_id, self._persistent, self.intake_name = session_names(
            settings, client_id, site
        )
        self._tick_interval = tick_interval
        self._batch_size = batch_size
        self._batch_linger = batch_linger
        self._clock = clock
        self._wall_clock = wall_clock
        self.clocks = ClockSkews(
            max_skew_s=settings.max_clock_skew_s, behind_for_s=settings.edge_clock_behind_for_s
        )
        self.intake = Intake(queue_size, Triggers(monitor.engine.rules))
        self._rule_reloads = monitor.stats.rule_reloads
        self.delays = Delays()
        # how long the oldest waiting message had waited at the last tick: measured on the
        # event loop, read by /api/health from its own thread
        self.oldest_wait_s = 0.0
        self.lag = LagWatch(settings.intake_lag_alarm_s)
        self._lag_alarms = lag_alarms
        self._db = WorkerThread("cloud-db")
        self._runner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._tick_queued = False
        self._invalid_log = InvalidLog(clock)
        self._receiver: Receiver | None = None
        self.stats = IngestStats()

    @property
    def queued(self) -> int:
        return len(self.intake)

    @property
    def backlogged(self) -> bool:
        """At least half the intake queue is waiting, or the intake is behind by more than
        its bound: the broker may be holding more, and what arrives now may have been sent
        long ago (see `cloud.clockskew`)."""
        return len(self.intake) * 2 >= self.intake.maxsize or self.lag.behind

    def health_fields(self) -> dict[str, int | float]:
        """The intake's `plantroom_health` fields (written with the metrics)."""
        return health_fields(self.intake, self.delays, self.lag, self.stats, self.oldest_wait_s)

    @property
    def buffered(self) -> int:
        """Messages received from the broker and not yet validated (and not acknowledged)."""
        return 0 if self._receiver is None else self._receiver.buffered

    @property
    def monitor(self) -> Monitor:
        return self._monitor

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the database thread, in order with the telemetry batches (e.g.
        a rule reload, which must not interleave with a batch)."""
        return await self._db.call(fn, *args)  # NotRunning (a RuntimeError) when stopped

    async def start(self) -> None:
        self._db.start()
        try:
            await self._db.call(self._monitor.load)
            if self._clock_alarms is not None:
                self.clocks.assume_off(await self._db.call(self._clock_alarms.active_agents))
            if self._lag_alarms is not None:
                self.lag.behind = await self._db.call(self._lag_alarms.is_active, self.intake_name)
            rules, values = await self._db.call(self._engine_state)
            self.intake.triggers.set_rules(rules)
            for equipment, known in values.items():
                self.intake.triggers.seed(equipment, known)
        except BaseException:
            await self._db.stop()
            raise
        self._stop.clear()
        self.intake.open()
        self._runner = asyncio.create_task(self._supervise(), name="cloud-ingest")

    async def stop(self, *, drain: bool = True) -> None:
        """Stop receiving and process what is queued, then save the rule state; with
        `drain=False` (a lost lease) drop the queue and save nothing: another process owns the
        work now."""
        self._stop.set()
        if self._runner is not None and not drain:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._runner is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), DRAIN_TIMEOUT_S)
            except TimeoutError:
                log.error(
                    "telemetry consumer did not drain in %.0f s; %d messages not processed",
                    DRAIN_TIMEOUT_S,
                    len(self.intake),
                )
                self._runner.cancel()
                await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        if self._db.running and drain:
            try:
                await self._db.call(self._monitor.flush)
            except Exception:
                log.exception("saving the rule state at shutdown failed")
        if self._db.running:
            await self._db.stop()
        self.stats.connected = False

    async def _supervise(self) -> None:
        """Run the receiver, ticker and worker; restart them if one fails unexpectedly."""
        backoff = Backoff(1.0, 60.0)
        while True:
            try:
                await self._run_once()
                return
            except Exception:
                log.exception("telemetry consumer failed; restarting")
            if self._stop.is_set():
                return
            try:
                await asyncio.wait_for(self._stop.wait(), backoff.next_delay())
                return
            except TimeoutError:
                continue

    async def _run_once(self) -> None:
        async with asyncio.TaskGroup() as tg:
            receiver = tg.create_task(self._receive_forever(), name="cloud-ingest-mqtt")
            ticker = tg.create_task(self._tick_forever(), name="cloud-ingest-tick")
            tg.create_task(self._work(), name="cloud-ingest-worker")
            await self._stop.wait()
            receiver.cancel()
            ticker.cancel()
            self.intake.close()  # the worker processes what is queued, then returns

    # -- receiving ---------------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        receiver = Receiver(
            self._settings,
            client_id=self._client_id,
            persistent=self._persistent,
            stats=self.stats,
            site=self._site,
        )
        self._receiver = receiver
        await receiver.run(self._accept, self.intake.has_room)

    async def _accept(self, message: Publish) -> None:
        """Validate and queue one message, then acknowledge it: while the queue is full this
        waits, and the broker holds back what follows."""
        self.stats.received += 1
        self.stats.last_message_at = self._clock()
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message.topic_bytes.decode("utf-8", "replace")
            self._invalid(topic, "topic is not valid UTF-8")
            item = None
        else:
            item = self._parse(topic, message.payload)
        if item is not None:
            await self.intake.put_when_room(item, self._clock)

    def _parse(self, topic: str, payload: Any) -> Item | None:
        """A queue item, or None: an edge health report (read for its time only), a deleted
        retained status, an invalid message (counted and logged), or a sample none of whose
        points its equipment's profile accepts (`points`: counted and logged)."""
        now_ms = int(self._wall_clock() * 1000)
        try:
            if topic.endswith("/health"):
                agent, ts = edge_report_time(topic, payload)
                self.stats.edge_health += 1
                self.clocks.observe(agent, ts, now_ms, backlogged=self.backlogged)
                return None
            item = self.parse(
                topic, payload, now_ms=now_ms, max_skew_s=self._settings.max_clock_skew_s
            )
        except InvalidMessage as exc:
            if isinstance(exc, FutureTimestamp):
                self.stats.future += 1
            self._invalid(topic, exc.reason)
            return None
        if self.points is not None and isinstance(item, TelemetryItem):
            where = item.topic
            checked = self.points.check(key(where.site, where.equipment), item.telemetry)
            if checked is not item.telemetry:
                return None if checked is None else TelemetryItem(item.topic, checked)
        return item

    @staticmethod
    def parse(
        topic: str,
        payload: Any,
        *,
        now_ms: int | None = None,
        max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
    ) -> Item | None:
        """Validate one message into a queue item; InvalidMessage says why not (its subclass
        FutureTimestamp: a time more than `max_skew_s` ahead of `now_ms`)."""
        return parse_item(topic, payload, now_ms=now_ms, max_skew_s=max_skew_s)

    def _invalid(self, topic: str, reason: str) -> None:
        self.stats.invalid += 1
        self._invalid_log.note(topic, reason, self.stats.invalid)

    # -- processing --------------------------------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_interval)
            await self._clock_alarms_changed()
            await self._lag_changed()
            if not self._tick_queued:
                self._tick_queued = True
                self.intake.put(TickItem(), self._clock())  # one at a time: past the bound

    async def _lag_changed(self) -> None:
        """Raise or clear the lag alarm when the intake fell behind or caught up; what fails
        is tried again on the next tick."""
        wait = self.oldest_wait_s = self.intake.oldest_wait(self._clock())
        if not self.lag.observe(wait) or self._lag_alarms is None:
            return
        details: dict[str, Any] = {
            "oldest_wait_s": round(max(wait, self.lag.worst_s if self.lag.behind else 0), 1),
            "bound_s": self.lag.bound_s,
            "queued": len(self.intake),
            "coalesced": self.intake.coalesced,
        }
        try:
            await self._db.call(self._lag_alarms.apply, self.intake_name, self.lag.behind, details)
        except Exception:
            self.lag.behind = not self.lag.behind
            log.exception("writing the telemetry intake alarm failed; trying again")

    async def _clock_alarms_changed(self) -> None:
        """Raise or clear the clock alarm of the agents whose clock went off or came back;
        what fails is tried again on the next tick."""
        if self._clock_alarms is None:
            return
        changes = self.clocks.take_changes()
        if not changes:
            return
        try:
            await self._db.call(self._clock_alarms.apply, changes)
        except Exception:
            self.clocks.put_back(changes)
            log.exception("writing the edge clock alarms failed; trying again")

    async def _work(self) -> None:
        while True:
            batch = await self.intake.next_batch(
                self._batch_size, self._batch_linger, self._stop.is_set
            )
            if not batch:
                return  # closed, and everything queued was processed
            # a routine batch stops at an urgent entry queued meanwhile, so it cuts in
            routine = not any(e.urgent for e in batch)
            left = await self._process([e.item for e in batch], routine)
            batch = self.intake.applied(batch, left)
            if any(isinstance(e.item, TickItem) for e in batch):
                self._tick_queued = False
            self.delays.record(batch, self._clock())
            if self._monitor.stats.rule_reloads != self._rule_reloads:
                self._rule_reloads = self._monitor.stats.rule_reloads
                self.intake.triggers.set_rules(await self._db.call(self._rules))

    def _rules(self) -> list[Rule]:
        return self._monitor.engine.rules

    def _engine_state(self) -> tuple[list[Rule], dict[str, dict[str, Scalar]]]:
        """The engine's rules and last values (on the database thread)."""
        engine = self._monitor.engine
        return engine.rules, {e: engine.values(e) for e in engine.tracked_ids()}

    async def _process(self, batch: list[Item], interruptible: bool) -> int:
        """One transaction for the batch; what fails is retried, then isolated, and what
        fails alone is dead-lettered (see `cloud.batches`). When `interruptible`, it stops
        early once an urgent entry waits: how many of the last items it left."""
        backoff = Backoff(0.5, 5.0)
        stop = (lambda: self.intake.urgent_waiting > 0) if interruptible else None  # DB thread

        async def run(items: Sequence[Item]) -> int:
            return await self._db.call(self._monitor.process, items, stop)

        async def pause(attempt: int) -> None:
            await asyncio.sleep(backoff.next_delay())

        outcome = await process_batch(run, batch, pause=pause)
        self.stats.processed += outcome.processed
        self.stats.dead_lettered += outcome.dead_lettered
        if outcome.last_error is not None:
            self.stats.last_error = outcome.last_error
        return outcome.left
