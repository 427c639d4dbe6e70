"""The edge agent process: poll the equipment of some buildings, publish their telemetry.

`run(settings)` is the process (blocking; stops cleanly on SIGINT/SIGTERM). `EdgeAgent` is
the same agent as an async context manager, for embedding and for tests.

Poll classes: a point's `poll` is `fast` (every `edge_poll_interval_s`), `normal` (5 times that)
or `slow` (30 times that). Each device starts at a random offset within its cycle so devices on
one link do not poll in lock-step, and each poll yields one message carrying the points read
in that cycle (fewer with a `report` policy in the profile, see `edge.report`).

Every poll is counted in the device's `DevicePollStats` (see `edge.health` for what "on
schedule", "late" and "skipped" mean), and every `edge_health_interval_s` an EdgeHealth report
goes through the same buffer and publisher as telemetry to `plantroom.topics.edge_health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import signal
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Literal

from edge.availability import Availability, Status, StatusChange
from edge.buffer import BufferStats, SampleBuffer
from edge.decode import Value
from edge.health import (
    HEALTH_SEQ_KEY,
    ON_SCHEDULE_TOLERANCE,
    DevicePollStats,
    Figures,
    agent_figures,
    health_reports,
)
from edge.modbus import CompiledPlan, HubKey, ModbusDevice, ModbusHub, backoff_delay
from edge.mqtt_devices import MqttDevices
from edge.profile import Assignment, ModbusPoint, ModbusProfile, Poll, ProfileLibrary
from edge.publisher import Publisher, PublisherStats
from edge.report import ChangeTracker, ReportFilter
from plantroom.errors import ConfigError
from plantroom.inventory import Inventory, Mqtt, load_inventory
from plantroom.schema import Quality
from plantroom.settings import EdgeSettings
from plantroom.topics import EquipmentTopic, check_segment, edge_health

log = logging.getLogger(__name__)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs beyond `EdgeSettings`; each is read from `settings.edge_<name>` when present."""

    normal_every: int = 5
    slow_every: int = 30
    commit_interval_s: float = 0.5
    buffer_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    inter_frame_delay_s: float = 0.0
    publish_window: int = 100
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    offline_retry_max_s: float = 60.0
    mqtt_stale_after_s: float | None = None
    stats_log_interval_s: float = 300.0
    stop_drain_s: float = 2.0
    health_interval_s: float = 10.0

    def __post_init__(self) -> None:
        if self.normal_every < 1 or self.slow_every < 1:
            raise ConfigError("edge_normal_every and edge_slow_every must be at least 1")
        if self.commit_interval_s < 0 or self.inter_frame_delay_s < 0:
            raise ConfigError("edge_commit_interval_s and edge_inter_frame_delay_s must be >= 0")
        if self.buffer_synchronous not in ("NORMAL", "FULL"):
            raise ConfigError("edge_buffer_synchronous must be NORMAL or FULL")
        if self.publish_window < 1:
            raise ConfigError("edge_publish_window must be at least 1")
        if min(self.backoff_initial_s, self.backoff_max_s, self.offline_retry_max_s) <= 0:
            raise ConfigError("edge backoff settings must be > 0")
        if self.stop_drain_s < 0:
            raise ConfigError("edge_stop_drain_s must be >= 0")
        if self.stats_log_interval_s <= 0:
            raise ConfigError("edge_stats_log_interval_s must be > 0")
        if self.health_interval_s <= 0:
            raise ConfigError("edge_health_interval_s must be > 0")
        if self.mqtt_stale_after_s is not None and self.mqtt_stale_after_s <= 0:
            raise ConfigError("edge_mqtt_stale_after_s must be > 0")

    @classmethod
    def from_settings(cls, settings: EdgeSettings) -> Tuning:
        found: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            value = getattr(settings, f"edge_{f.name}", None)
            if value is not None:
                found[f.name] = value
        return cls(**found)


RECENT_VENDOR_TS = 64


@dataclass(slots=True)
class _Equipment:
    assignment: Assignment
    topic: EquipmentTopic
    availability: Availability
    report: ReportFilter
    changes: ChangeTracker
    last_heard: float | None = None
    samples: int = 0
    duplicates: int = 0
    # timestamps of the last vendor samples: a message the broker delivers again after a
    # reconnect carries one of them and is not a new sample
    recent_ts: deque[int] = field(default_factory=lambda: deque(maxlen=RECENT_VENDOR_TS))
    id: str = field(init=False)
    telemetry_topic: str = field(init=False)  # built once, not per sample

    def __post_init__(self) -> None:
        self.id = self.assignment.equipment.id
        self.telemetry_topic = self.topic.telemetry()


class EdgeAgent:
    """`async with EdgeAgent(settings) as agent:` polls and publishes until the block ends."""

    def __init__(
        self,
        settings: EdgeSettings,
        inventory: Inventory | None = None,
        *,
        tuning: Tuning | None = None,
    ) -> None:
        self.settings = settings
        self._inventory = inventory
        self.tuning = tuning or Tuning.from_settings(settings)
        self._rng = random.Random()
        self._stopping = asyncio.Event()
        self._sleepers: set[asyncio.Future[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._equipment: dict[str, _Equipment] = {}
        self._devices: dict[str, ModbusDevice] = {}
        self._pollers: list[asyncio.Task[None]] = []
        self._poll_stats: dict[str, DevicePollStats] = {}
        self._linked_hubs: set[HubKey] = set()
        self._site = ""
        self.hubs: dict[HubKey, ModbusHub] = {}
        self.buffer: SampleBuffer | None = None
        self.publisher: Publisher | None = None
        self.mqtt_devices: MqttDevices | None = None
        self.started_at = time.monotonic()

    # -- set-up -------------------------------------------------------------------------

    def _assignments(self) -> tuple[Inventory, list[Assignment]]:
        s = self.settings
        inventory = self._inventory if self._inventory is not None else load_inventory(s.inventory)
        library = ProfileLibrary(s.edge_profiles_dir)
        path = s.inventory if self._inventory is None else None
        return inventory, library.assign(inventory, s.edge_buildings, path)

    async def __aenter__(self) -> EdgeAgent:
        try:
            check_segment(self.settings.edge_agent_id, "PLANTROOM_EDGE_AGENT_ID")
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        self._check_tls()
        inventory, assignments = self._assignments()
        self._site = inventory.site.id
        if not assignments:
            log.warning(
                "no equipment to serve in buildings %s", self.settings.edge_buildings or "all"
            )
        s, t = self.settings, self.tuning
        for a in assignments:
            conn = a.equipment.connection
            if not isinstance(conn, Mqtt):
                assert isinstance(a.profile, ModbusProfile)
                key = HubKey.of(conn)
                if key not in self.hubs:
                    self.hubs[key] = ModbusHub(
                        conn,
                        timeout=s.edge_timeout_s,
                        inter_frame_delay=t.inter_frame_delay_s,
                        backoff_initial=t.backoff_initial_s,
                        backoff_max=t.backoff_max_s,
                        rng=self._rng,
                    )
                self._devices[a.equipment.id] = ModbusDevice(self.hubs[key], conn.unit, a.profile)
                self._poll_stats[a.equipment.id] = DevicePollStats()
            self._equipment[a.equipment.id] = _Equipment(
                assignment=a,
                topic=inventory.topic(a.building, a.equipment),
                availability=Availability(a.equipment.id, s.edge_offline_after),
                report=ReportFilter(a.profile),
                changes=ChangeTracker({p.name: p.role for p in a.profile.points}),
            )
        self.mqtt_devices = MqttDevices(assignments, max_skew_s=self.settings.max_clock_skew_s)
        buffer = SampleBuffer(
            s.edge_buffer_path,
            s.edge_buffer_max_samples,
            commit_interval_s=t.commit_interval_s,
            synchronous=t.buffer_synchronous,
        )
        buffer.open()
        self.buffer = buffer
        self.publisher = Publisher(
            s,
            buffer,
            site=inventory.site.id,
            agent_id=s.edge_agent_id,
            vendor_topics=self.mqtt_devices.topics,
            on_vendor_message=self._on_vendor_message,
            window=t.publish_window,
            backoff_initial=t.backoff_initial_s,
            backoff_max=t.backoff_max_s,
            rng=self._rng,
        )
        buffer.on_commit = self.publisher.notify
        self.started_at = time.monotonic()
        self._task = asyncio.create_task(self._supervise(), name="edge-agent")
        log.info(
            "edge agent %s serving %d equipment (%d Modbus links, %d vendor topics); buffer %s",
            s.edge_agent_id,
            len(self._equipment),
            len(self.hubs),
            len(self.mqtt_devices.topics),
            s.edge_buffer_path,
        )
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop(raise_failure=et is None)

    def _check_tls(self) -> None:
        """A TLS set-up that cannot work fails at start, naming the setting."""
        s = self.settings
        if not s.mqtt_tls:
            if s.mqtt_ca_file is not None:
                log.warning("PLANTROOM_MQTT_CA_FILE is set but PLANTROOM_MQTT_TLS is off")
            return
        if s.mqtt_ca_file is None:
            return  # the system's trusted CAs
        try:
            ssl.create_default_context(cafile=str(s.mqtt_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"PLANTROOM_MQTT_CA_FILE {s.mqtt_ca_file}: not a readable CA certificate ({exc})"
            ) from exc

    # -- supervision ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self.publisher is not None
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.publisher.run(), name="publisher")
            tg.create_task(self._commit_loop(), name="buffer-commit")
            tg.create_task(self._stats_loop(), name="stats")
            tg.create_task(self._health_loop(), name="health")
            for eq_id, device in self._devices.items():
                poller = self._poll_loop(self._equipment[eq_id], device, self._poll_stats[eq_id])
                self._pollers.append(tg.create_task(poller, name=f"poll:{eq_id}"))
            if self.mqtt_devices is not None and self.mqtt_devices.topics:
                tg.create_task(self._stale_loop(), name="vendor-stale")

    @property
    def task(self) -> asyncio.Task[None]:
        """The supervising task: done when the agent stopped or failed."""
        if self._task is None:
            raise RuntimeError("the agent is not running")
        return self._task

    async def stop(self, raise_failure: bool = True) -> None:
        """Stop polling, publish `offline`, disconnect, close the buffer."""
        self._stopping.set()
        for waiter in self._sleepers:
            _wake(waiter)
        if self._pollers:
            await asyncio.wait(self._pollers, timeout=2 * self.settings.edge_timeout_s + 1)
        if self.buffer is not None and self._task is not None and not self._task.done():
            self.buffer.commit()
        if self.publisher is not None:
            self.publisher.request_stop(self.tuning.stop_drain_s)
        failure: BaseException | None = None
        task = self._task
        if task is not None:
            grace = self.tuning.stop_drain_s + self.publisher_timeout + 1
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                log.warning("agent did not stop within %.0f s; cancelling", grace)
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled():
                failure = task.exception()
        for hub in self.hubs.values():
            await hub.close()
        if self.buffer is not None:
            self.buffer.close()
        if failure is not None and raise_failure:
            raise failure

    @property
    def publisher_timeout(self) -> float:
        return self.publisher.publish_timeout if self.publisher is not None else 0.0

    async def _sleep(self, delay: float) -> bool:
        """Wait `delay` seconds; True when the agent is stopping."""
        if self._stopping.is_set():
            return True
        # a bare future and a timer: `wait_for(event.wait())` costs a task per sleep
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(max(delay, 0.0), _wake, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleepers.discard(waiter)
        return self._stopping.is_set()

    async def _commit_loop(self) -> None:
        assert self.buffer is not None
        period = self.tuning.commit_interval_s or 1.0
        while not await self._sleep(period):
            self.buffer.commit()
        self.buffer.commit()

    async def _stats_loop(self) -> None:
        last: BufferStats | None = None
        while not await self._sleep(self.tuning.stats_log_interval_s):
            stats = self.buffer_stats()
            if stats.depth or (last is not None and stats.dropped != last.dropped):
                log.info(
                    "buffer: %d samples queued (max %d), %d dropped in total",
                    stats.depth,
                    stats.max_samples,
                    stats.dropped,
                )
            last = stats

    # -- samples and statuses -------------------------------------------------------------

    def _set_status(self, eq: _Equipment, change: StatusChange) -> None:
        assert self.publisher is not None
        self.publisher.set_status(eq.topic.status(), change)

    def _emit(
        self, eq: _Equipment, ts: int, values: dict[str, Value], quality: dict[str, Quality]
    ) -> None:
        assert self.buffer is not None
        if eq.report.active:
            values, quality = eq.report.select(values, quality, time.monotonic())
        if not values:
            return
        keep = eq.changes.changed(values)
        self.buffer.append(eq.id, eq.telemetry_topic, ts, values, quality, keep=keep)
        eq.samples += 1
        if keep:
            # an alarm or state change goes out now, not at the next commit: it is what raises
            # a work order (a WAL commit in synchronous=NORMAL costs no fsync)
            self.buffer.commit()

    # -- Modbus polling -------------------------------------------------------------------

    def _intervals(self) -> dict[Poll, float]:
        base = self.settings.edge_poll_interval_s
        return {
            Poll.FAST: base,
            Poll.NORMAL: base * self.tuning.normal_every,
            Poll.SLOW: base * self.tuning.slow_every,
        }

    async def _poll_loop(
        self, eq: _Equipment, device: ModbusDevice, stats: DevicePollStats
    ) -> None:
        intervals = self._intervals()
        by_class: dict[Poll, list[ModbusPoint]] = {c: [] for c in Poll}
        for p in device.profile.points:
            by_class[p.poll].append(p)
        present = [c for c in Poll if by_class[c]]
        cycle_class = min(present, key=intervals.__getitem__)
        cycle = intervals[cycle_class]
        tolerance = cycle * ON_SCHEDULE_TOLERANCE
        if await self._sleep(self._rng.uniform(0, cycle)):
            return
        loop = asyncio.get_running_loop()
        planned = loop.time()
        next_due = dict.fromkeys(present, planned)
        retry = 0
        availability = eq.availability
        hub = device.hub
        plans: dict[tuple[Poll, ...], CompiledPlan] = {}  # by the classes due together
        while not self._stopping.is_set():
            started = loop.time()
            if availability.offline:
                due = present
            else:
                due = [c for c in present if started >= next_due[c] - cycle / 2]
            if not due:
                planned = min(next_due.values())
                if await self._sleep(planned - started):
                    return
                continue
            key = tuple(due)
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = device.compile([p for c in due for p in by_class[c]])
            ts = now_ms()
            connects = hub.connects
            result = await device.poll_compiled(plan)
            stats.record_poll(started - planned, tolerance, loop.time() - started)
            if result.errors:
                stats.record_errors(result.errors)
            if hub.connects != connects and hub.connected:
                self._link_connected(hub, stats)
            if result.answered:
                change = availability.succeeded(ts)
                retry = 0
            else:
                reason = result.error.reason if result.error else "no answer"
                change = availability.failed(reason, ts)
            if change is not None:
                self._set_status(eq, change)
            if not availability.offline:
                self._emit(eq, ts, result.values, result.quality)
            finished = loop.time()
            if availability.offline:
                delay = backoff_delay(retry, cycle, self.tuning.offline_retry_max_s, self._rng)
                retry += 1
                planned = finished + delay
                for c in present:
                    next_due[c] = planned
            else:
                for c in due:
                    nd = next_due[c] + intervals[c]
                    if nd + tolerance < finished:  # overran: skip ticks whose window closed
                        missed = int((finished - tolerance - nd) // intervals[c]) + 1
                        nd += missed * intervals[c]
                        if c is cycle_class:
                            stats.skipped += missed
                    next_due[c] = nd
                planned = min(next_due.values())
                delay = planned - finished
            if await self._sleep(delay):
                return

    def _link_connected(self, hub: ModbusHub, stats: DevicePollStats) -> None:
        if hub.key in self._linked_hubs:
            stats.reconnects += 1
        else:
            self._linked_hubs.add(hub.key)

    # -- self-health ----------------------------------------------------------------------

    def health_figures(self) -> Figures:
        """The agent-wide figures of a health report, as of now."""
        vendor = self.mqtt_devices
        return agent_figures(
            uptime_s=time.monotonic() - self.started_at,
            buffer=self.buffer_stats(),
            publisher=self.publisher_stats(),
            statuses=(e.availability.status for e in self._equipment.values()),
            polls=self._poll_stats.values(),
            vendor_malformed=sum(vendor.malformed.values()) if vendor else 0,
            modbus_links=len(self.hubs),
            modbus_requests=sum(h.requests for h in self.hubs.values()),
        )

    def queue_health_report(self) -> int:
        """Queue one EdgeHealth report (one message per `DEVICES_PER_MESSAGE` devices) in the
        buffer, like a measurement sample; return the number of messages queued."""
        if self.buffer is None:
            raise RuntimeError("the agent is not running")
        ts = now_ms()
        topic = edge_health(self._site, self.settings.edge_agent_id)
        encoders = health_reports(ts, self.health_figures(), self._poll_stats)
        for encode in encoders:
            self.buffer.append_encoded(HEALTH_SEQ_KEY, topic, ts, encode)
        return len(encoders)

    async def _health_loop(self) -> None:
        while not await self._sleep(self.tuning.health_interval_s):
            self.queue_health_report()

    # -- vendor MQTT devices --------------------------------------------------------------

    def _on_vendor_message(self, topic: str, payload: bytes, received_ms: int) -> None:
        if self.mqtt_devices is None:
            return
        for assignment, sample in self.mqtt_devices.handle(topic, payload, received_ms):
            eq = self._equipment[assignment.equipment.id]
            eq.last_heard = time.monotonic()
            change = eq.availability.succeeded(received_ms)
            if change is not None:
                self._set_status(eq, change)
            if sample.ts in eq.recent_ts:
                # QoS 1 redelivery of a vendor message already taken (or a second message in
                # the same millisecond, which InfluxDB would merge into the first anyway): a
                # new seq at the same timestamp would overwrite the first sample's point
                eq.duplicates += 1
                continue
            eq.recent_ts.append(sample.ts)
            self._emit(eq, sample.ts, sample.values, sample.quality)

    def stale_after(self) -> float:
        if self.tuning.mqtt_stale_after_s is not None:
            return self.tuning.mqtt_stale_after_s
        return 2 * self._intervals()[Poll.SLOW]

    async def _stale_loop(self) -> None:
        limit = self.stale_after()
        vendor = [
            e
            for e in self._equipment.values()
            if isinstance(e.assignment.equipment.connection, Mqtt)
        ]
        while not await self._sleep(min(limit / 4, self.settings.edge_poll_interval_s * 5)):
            now = time.monotonic()
            for eq in vendor:
                heard = eq.last_heard if eq.last_heard is not None else self.started_at
                if now - heard >= limit:
                    change = eq.availability.went_stale(f"no message for {limit:.0f} s", now_ms())
                    if change is not None:
                        self._set_status(eq, change)

    # -- introspection ----------------------------------------------------------------------

    def status(self, equipment_id: str) -> tuple[Status | None, str | None]:
        a = self._equipment[equipment_id].availability
        return a.status, a.reason

    def poll_stats(self) -> Mapping[str, DevicePollStats]:
        """Poll figures of every Modbus device, by equipment id (live objects, read-only map)."""
        return MappingProxyType(self._poll_stats)

    def buffer_stats(self) -> BufferStats:
        if self.buffer is None:
            raise RuntimeError("the agent is not running")
        return self.buffer.stats()

    def publisher_stats(self) -> PublisherStats:
        if self.publisher is None:
            raise RuntimeError("the agent is not running")
        return self.publisher.stats

    def stats(self) -> dict[str, Any]:
        """A snapshot for logs and health checks."""
        return {
            "buffer": dataclasses.asdict(self.buffer_stats()),
            "publisher": dataclasses.asdict(self.publisher_stats()),
            "equipment": {
                eq_id: {
                    "status": eq.availability.status.value if eq.availability.status else None,
                    "reason": eq.availability.reason,
                    "samples": eq.samples,
                    "duplicates": eq.duplicates,
                }
                for eq_id, eq in self._equipment.items()
            },
            "malformed_vendor_messages": dict(self.mqtt_devices.malformed)
            if self.mqtt_devices
            else {},
        }


async def _main(settings: EdgeSettings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with EdgeAgent(settings) as agent:
            stopper = asyncio.create_task(stop.wait(), name="signal")
            await asyncio.wait({stopper, agent.task}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
            if stop.is_set():
                log.info("stopping on signal")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(settings: EdgeSettings) -> None:
    """Run the edge agent until SIGINT/SIGTERM; publish `offline` before a clean exit."""
    # pymodbus logs every timeout at ERROR; the hub reports outages once, in its own words.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(_main(settings))
