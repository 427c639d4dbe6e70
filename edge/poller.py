"""Polling the Modbus equipment: each device on its schedule (`edge.schedule`), for as long as
the agent runs.

Each poll reads the point classes due, in requests compiled once per combination of classes;
its result marks the device available or not, goes out as one sample while the device is
online, and is counted in the device's `DevicePollStats`. An offline device is retried with a
jittered, backed-off delay instead of on its schedule.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from edge.availability import StatusChange, never_answered
from edge.decode import Value
from edge.equipment import ServedEquipment
from edge.errors import DeviceTimeout
from edge.health import DevicePollStats
from edge.modbus import CompiledPlan, HubKey, ModbusDevice, ModbusHub
from edge.schedule import PollSchedule, class_intervals
from edge.stop_signal import StopSignal
from plantroom.backoff import backoff_delay
from plantroom.inventory import Connection, Mqtt
from plantroom.profiles import Assignment, ModbusPoint, ModbusProfile, Poll
from plantroom.schema import Quality
from plantroom.settings import EdgeSettings

Emit = Callable[[ServedEquipment, int, dict[str, Value], dict[str, Quality]], None]
SetStatus = Callable[[ServedEquipment, StatusChange], None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def poll_device(
    eq: ServedEquipment,
    device: ModbusDevice,
    stats: DevicePollStats,
    schedule: PollSchedule,
    *,
    stop: StopSignal,
    emit: Emit,
    set_status: SetStatus,
    linked_hubs: set[HubKey],
    offline_retry_max_s: float,
    rng: random.Random,
) -> None:
    """Poll until `stop` is set. `linked_hubs` holds the links connected before, shared by
    the devices of one agent, so a link's first connection is not counted as a reconnect."""
    by_class: dict[Poll, list[ModbusPoint]] = {c: [] for c in Poll}
    for p in device.profile.points:
        by_class[p.poll].append(p)
    if await stop.sleep(schedule.offset(rng)):
        return
    loop = asyncio.get_running_loop()
    schedule.start(loop.time())
    cycle = schedule.cycle
    tolerance = schedule.tolerance
    retry = 0
    availability = eq.availability
    hub = device.hub
    plans: dict[tuple[Poll, ...], CompiledPlan] = {}  # by the classes due together
    while not stop.is_set():
        started = loop.time()
        due = schedule.due(started, retrying=availability.offline)
        if not due:
            if await stop.sleep(schedule.planned - started):
                return
            continue
        plan = plans.get(due)
        if plan is None:
            plan = plans[due] = device.compile([p for c in due for p in by_class[c]])
        ts = now_ms()
        connects = hub.connects
        result = await device.poll_compiled(plan)
        stats.record_poll(schedule.lateness(started), tolerance, loop.time() - started)
        if result.errors:
            stats.record_errors(result.errors)
        if hub.connects != connects and hub.connected:
            if hub.key in linked_hubs:
                stats.reconnects += 1
            else:
                linked_hubs.add(hub.key)
        if result.answered:
            change = availability.succeeded(ts)
            retry = 0
        else:
            reason = result.error.reason if result.error else "no answer"
            if (
                isinstance(result.error, DeviceTimeout)
                and hub.connected
                and not availability.answered
            ):
                reason = never_answered(device.unit, hub.key.address)
            change = availability.failed(reason, ts)
        if change is not None:
            set_status(eq, change)
        if not availability.offline:
            emit(eq, ts, result.values, result.quality)
        finished = loop.time()
        if availability.offline:
            delay = backoff_delay(retry, cycle, offline_retry_max_s, rng)
            retry += 1
            schedule.retry_at(finished + delay)
        else:
            stats.skipped += schedule.polled(due, finished)
            delay = schedule.planned - finished
        if await stop.sleep(delay):
            return


class ModbusPolling:
    """The agent's Modbus equipment: one hub per physical link (shared by the units behind
    it), one device per unit, the poll figures of each, and a poll loop for each."""

    def __init__(self, settings: EdgeSettings, rng: random.Random) -> None:
        self.settings = settings
        self.rng = rng
        self.hubs: dict[HubKey, ModbusHub] = {}
        self.devices: dict[str, ModbusDevice] = {}
        self.stats: dict[str, DevicePollStats] = {}
        self.linked_hubs: set[HubKey] = set()

    def add(self, assignment: Assignment, conn: Connection) -> None:
        """Serve one piece of Modbus equipment, on the hub of its connection."""
        assert not isinstance(conn, Mqtt) and isinstance(assignment.profile, ModbusProfile)
        s = self.settings
        key = HubKey.of(conn)
        if key not in self.hubs:
            self.hubs[key] = ModbusHub(
                conn,
                timeout=s.edge_timeout_s,
                inter_frame_delay=s.edge_inter_frame_delay_s,
                backoff_initial=s.edge_backoff_initial_s,
                backoff_max=s.edge_backoff_max_s,
                rng=self.rng,
            )
        eq_id = assignment.equipment.id
        self.devices[eq_id] = ModbusDevice(self.hubs[key], conn.unit, assignment.profile)
        self.stats[eq_id] = DevicePollStats()

    def intervals(self) -> dict[Poll, float]:
        s = self.settings
        return class_intervals(s.edge_poll_interval_s, s.edge_normal_every, s.edge_slow_every)

    async def poll(
        self, eq: ServedEquipment, *, stop: StopSignal, emit: Emit, set_status: SetStatus
    ) -> None:
        """Poll one device until `stop` is set."""
        device = self.devices[eq.id]
        await poll_device(
            eq,
            device,
            self.stats[eq.id],
            PollSchedule(self.intervals(), {p.poll for p in device.profile.points}),
            stop=stop,
            emit=emit,
            set_status=set_status,
            linked_hubs=self.linked_hubs,
            offline_retry_max_s=self.settings.edge_offline_retry_max_s,
            rng=self.rng,
        )

    async def close(self) -> None:
        for hub in self.hubs.values():
            await hub.close()
