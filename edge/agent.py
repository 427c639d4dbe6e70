"""The edge agent process: poll the equipment of some buildings, publish their telemetry.

`run(settings)` is the process (blocking; stops cleanly on SIGINT/SIGTERM). `EdgeAgent` is
the same agent as an async context manager, for embedding and for tests.

Every setting, tuning included, comes from `EdgeSettings` (`PLANTROOM_EDGE_*`). Each Modbus
device is polled by `edge.poller` on its `edge.schedule.PollSchedule` (poll classes `fast`,
`normal`, `slow`, a random start within the cycle); each poll yields one message carrying the
points read in that cycle (fewer with a `report` policy in the profile, see `edge.report`).

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
import time
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from edge.availability import Availability, Status, StatusChange
from edge.buffer import SampleBuffer
from edge.buffer_stats import BufferStats
from edge.decode import Value
from edge.equipment import ServedEquipment
from edge.health import HEALTH_SEQ_KEY, DevicePollStats, Figures, agent_figures, health_reports
from edge.mqtt_devices import MqttDevices
from edge.poller import ModbusPolling, now_ms
from edge.publisher import Publisher, PublisherStats
from edge.report import ChangeTracker, ReportFilter
from edge.stop_signal import StopSignal
from edge.vendor_equipment import VendorEquipment
from plantroom.errors import ConfigError
from plantroom.inventory import Inventory, Mqtt, load_inventory
from plantroom.profiles import Assignment, Poll, ProfileLibrary
from plantroom.schema import Quality
from plantroom.settings import EdgeSettings
from plantroom.signals import stop_on_signals
from plantroom.sitecheck import check_inventory, enforce
from plantroom.tls import mqtt_client_context
from plantroom.topics import check_segment, edge_health

log = logging.getLogger(__name__)


class EdgeAgent:
    """`async with EdgeAgent(settings) as agent:` polls and publishes until the block ends."""

    def __init__(
        self,
        settings: EdgeSettings,
        inventory: Inventory | None = None,
    ) -> None:
        self.settings = settings
        self._inventory = inventory
        self._rng = random.Random()
        self._stop = StopSignal()
        self._task: asyncio.Task[None] | None = None
        self._equipment: dict[str, ServedEquipment] = {}
        self._pollers: list[asyncio.Task[None]] = []
        self._site = ""
        self.modbus = ModbusPolling(settings, self._rng)
        self.hubs = self.modbus.hubs
        self.buffer: SampleBuffer | None = None
        self.publisher: Publisher | None = None
        self.mqtt_devices: MqttDevices | None = None
        self._vendor: VendorEquipment | None = None
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
        s = self.settings
        for a in assignments:
            if not isinstance(a.equipment.connection, Mqtt):
                self.modbus.add(a, a.equipment.connection)
            self._equipment[a.equipment.id] = ServedEquipment(
                assignment=a,
                topic=inventory.topic(a.building, a.equipment),
                availability=Availability(a.equipment.id, s.edge_offline_after),
                report=ReportFilter(a.profile),
                changes=ChangeTracker({p.name: p.role for p in a.profile.all_points()}),
            )
        self.mqtt_devices = MqttDevices(assignments, max_skew_s=self.settings.max_clock_skew_s)
        vendor = VendorEquipment(
            self.mqtt_devices, self._equipment, emit=self._emit, set_status=self._set_status
        )
        self._vendor = vendor
        buffer = SampleBuffer(
            s.edge_buffer_path,
            s.edge_buffer_max_samples,
            commit_interval_s=s.edge_commit_interval_s,
            synchronous=s.edge_buffer_synchronous,
        )
        buffer.open()
        self.buffer = buffer
        self.publisher = Publisher(
            s,
            buffer,
            site=inventory.site.id,
            agent_id=s.edge_agent_id,
            vendor_topics=self.mqtt_devices.topics,
            on_vendor_message=vendor.on_message,
            window=s.edge_publish_window,
            backoff_initial=s.edge_backoff_initial_s,
            backoff_max=s.edge_backoff_max_s,
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
        mqtt_client_context(s)

    # -- supervision ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self.publisher is not None
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.publisher.run(), name="publisher")
            tg.create_task(self._commit_loop(), name="buffer-commit")
            tg.create_task(self._stats_loop(), name="stats")
            tg.create_task(self._health_loop(), name="health")
            for eq_id in self.modbus.devices:
                poller = self.modbus.poll(
                    self._equipment[eq_id],
                    stop=self._stop,
                    emit=self._emit,
                    set_status=self._set_status,
                )
                self._pollers.append(tg.create_task(poller, name=f"poll:{eq_id}"))
            if self._vendor is not None and self._vendor.devices.topics:
                tg.create_task(self._stale_loop(self._vendor), name="vendor-stale")

    @property
    def task(self) -> asyncio.Task[None]:
        """The supervising task: done when the agent stopped or failed."""
        if self._task is None:
            raise RuntimeError("the agent is not running")
        return self._task

    async def stop(self, raise_failure: bool = True) -> None:
        """Stop polling, publish `offline`, disconnect, close the buffer."""
        self._stop.set()
        if self._pollers:
            await asyncio.wait(self._pollers, timeout=2 * self.settings.edge_timeout_s + 1)
        if self.buffer is not None and self._task is not None and not self._task.done():
            self.buffer.commit()
        if self.publisher is not None:
            self.publisher.request_stop(self.settings.edge_stop_drain_s)
        failure: BaseException | None = None
        task = self._task
        if task is not None:
            grace = self.settings.edge_stop_drain_s + self.publisher_timeout + 1
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                log.warning("agent did not stop within %.0f s; cancelling", grace)
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled():
                failure = task.exception()
        await self.modbus.close()
        if self.buffer is not None:
            self.buffer.close()
        if failure is not None and raise_failure:
            raise failure

    @property
    def publisher_timeout(self) -> float:
        return self.publisher.publish_timeout if self.publisher is not None else 0.0

    async def _commit_loop(self) -> None:
        assert self.buffer is not None
        period = self.settings.edge_commit_interval_s or 1.0
        while not await self._stop.sleep(period):
            self.buffer.commit()
        self.buffer.commit()

    async def _stats_loop(self) -> None:
        last: BufferStats | None = None
        while not await self._stop.sleep(self.settings.edge_stats_log_interval_s):
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

    def _set_status(self, eq: ServedEquipment, change: StatusChange) -> None:
        assert self.publisher is not None
        self.publisher.set_status(eq.topic.status(), change)

    def _emit(
        self, eq: ServedEquipment, ts: int, values: dict[str, Value], quality: dict[str, Quality]
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

    # -- self-health ----------------------------------------------------------------------

    def health_figures(self) -> Figures:
        """The agent-wide figures of a health report, as of now."""
        vendor = self.mqtt_devices
        return agent_figures(
            uptime_s=time.monotonic() - self.started_at,
            buffer=self.buffer_stats(),
            publisher=self.publisher_stats(),
            statuses=(e.availability.status for e in self._equipment.values()),
            polls=self.modbus.stats.values(),
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
        encoders = health_reports(ts, self.health_figures(), self.modbus.stats)
        for encode in encoders:
            self.buffer.append_encoded(HEALTH_SEQ_KEY, topic, ts, encode)
        return len(encoders)

    async def _health_loop(self) -> None:
        while not await self._stop.sleep(self.settings.edge_health_interval_s):
            self.queue_health_report()

    # -- vendor MQTT devices --------------------------------------------------------------

    def stale_after(self) -> float:
        if self.settings.edge_mqtt_stale_after_s is not None:
            return self.settings.edge_mqtt_stale_after_s
        return 2 * self.modbus.intervals()[Poll.SLOW]

    async def _stale_loop(self, vendor: VendorEquipment) -> None:
        limit = self.stale_after()
        period = min(limit / 4, self.settings.edge_poll_interval_s * 5)
        await vendor.watch_staleness(self._stop, limit, period, self.started_at)

    # -- introspection ----------------------------------------------------------------------

    def status(self, equipment_id: str) -> tuple[Status | None, str | None]:
        a = self._equipment[equipment_id].availability
        return a.status, a.reason

    def poll_stats(self) -> Mapping[str, DevicePollStats]:
        """Poll figures of every Modbus device, by equipment id (live objects, read-only map)."""
        return MappingProxyType(self.modbus.stats)

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
    with stop_on_signals() as stop:
        async with EdgeAgent(settings) as agent:
            stopper = asyncio.create_task(stop.wait(), name="signal")
            await asyncio.wait({stopper, agent.task}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper
            if stop.is_set():
                log.info("stopping on signal")


def run(settings: EdgeSettings) -> None:
    """Run the edge agent until SIGINT/SIGTERM; publish `offline` before a clean exit."""
    # pymodbus logs every timeout at ERROR; the hub reports outages once, in its own words.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    enforce(
        check_inventory(settings.inventory, settings.edge_profiles_dir, settings.edge_buildings),
        log,
    )
    asyncio.run(_main(settings))
