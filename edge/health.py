"""The agent's self-health: per-device poll statistics and the EdgeHealth report built from them.

Poll accounting (`DevicePollStats`), per device, cumulative since the agent started (due
times and the on-schedule window are those of `edge.schedule.PollSchedule`):

- ``polls``: polls started (one poll = the reads of the point classes due at that moment).
- ``on_schedule``: polls that started no later than 10 % of the device's poll cycle (the
  interval of its fastest poll class) after their due time. Starting early is on schedule.
- ``late``: polls that started more than 10 % of the cycle after their due time (the event
  loop was too busy to start them in time). ``on_schedule + late == polls``.
- ``skipped``: due times of the device's cycle that were never polled because their
  on-schedule window (due time + 10 % of the cycle) closed before the previous poll of the
  same device had finished (a slow or timing-out device) or before the agent got to it. The
  agent does not catch up missed polls; it polls at the next due time whose window is open.
  The on-schedule ratio of a run is ``on_schedule / (polls + skipped)``.
- ``timeouts``: reads that got no answer in time; ``exceptions``: Modbus exception responses;
  ``errors``: other failed reads (connection refused or lost, short or malformed answers).
- ``reconnects``: times the device's link (its hub) was connected again during one of its
  polls, after the link's first connection.

While a device is offline its polls are retries at a backed-off delay; each retry's due time
is the planned retry time, and no ticks count as skipped.

Poll latency (start of the poll to its decoded result, including waiting for a shared link)
is kept per report window in a fixed ring of `LATENCY_WINDOW` values: p50 and p99 are over
the last `LATENCY_WINDOW` polls of the window, the maximum over the whole window. Building a
report starts a new window.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from edge.availability import Status
from edge.buffer_stats import BufferStats
from edge.errors import DeviceError, DeviceExceptionResponse, DeviceTimeout
from edge.publisher import PublisherStats
from plantroom.health import DEVICE_COUNTERS, EdgeHealth

LATENCY_WINDOW = 1024
DEVICES_PER_MESSAGE = 1000
HEALTH_SEQ_KEY = "@edge-health"  # not a valid equipment id: its seq counter cannot collide

Figures = dict[str, int | float]


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty list."""
    rank = math.ceil(fraction * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(slots=True, eq=False)
class DevicePollStats:
    """Poll figures of one device; see the module docstring for what each counts."""

    polls: int = 0
    on_schedule: int = 0
    late: int = 0
    skipped: int = 0
    timeouts: int = 0
    exceptions: int = 0
    errors: int = 0
    reconnects: int = 0
    _latencies: array[float] = field(
        default_factory=lambda: array("d", bytes(8 * LATENCY_WINDOW)), repr=False
    )
    _window_polls: int = field(default=0, repr=False)
    _window_max: float = field(default=0.0, repr=False)

    # -- recording (on the poll path: no allocation, no logging) -----------------------------

    def record_poll(self, lateness_s: float, tolerance_s: float, latency_s: float) -> None:
        """One poll that started `lateness_s` after its due time and took `latency_s`."""
        self.polls += 1
        if lateness_s <= tolerance_s:
            self.on_schedule += 1
        else:
            self.late += 1
        n = self._window_polls
        self._latencies[n % LATENCY_WINDOW] = latency_s
        self._window_polls = n + 1
        if latency_s > self._window_max:
            self._window_max = latency_s

    def record_errors(self, errors: Iterable[DeviceError]) -> None:
        for exc in errors:
            if isinstance(exc, DeviceTimeout):
                self.timeouts += 1
            elif isinstance(exc, DeviceExceptionResponse):
                self.exceptions += 1
            else:
                self.errors += 1

    # -- reading ---------------------------------------------------------------------------

    @property
    def window_polls(self) -> int:
        """Polls recorded in the current report window."""
        return self._window_polls

    def _ordered(self) -> list[float]:
        n = min(self._window_polls, LATENCY_WINDOW)
        return sorted(self._latencies[:n])

    @property
    def latency_p50_ms(self) -> float | None:
        """Median poll latency of the current window; None before the first poll in it."""
        ordered = self._ordered()
        return _percentile(ordered, 0.50) * 1000 if ordered else None

    @property
    def latency_p99_ms(self) -> float | None:
        ordered = self._ordered()
        return _percentile(ordered, 0.99) * 1000 if ordered else None

    @property
    def latency_max_ms(self) -> float | None:
        return self._window_max * 1000 if self._window_polls else None

    def reset_window(self) -> None:
        self._window_polls = 0
        self._window_max = 0.0

    def figures(self) -> Figures:
        """This device's figures for a health report (latency only when the window has any)."""
        out: Figures = {name: getattr(self, name) for name in DEVICE_COUNTERS}
        ordered = self._ordered()
        if ordered:
            out["poll_latency_p50_ms"] = round(_percentile(ordered, 0.50) * 1000, 3)
            out["poll_latency_p99_ms"] = round(_percentile(ordered, 0.99) * 1000, 3)
            out["poll_latency_max_ms"] = round(self._window_max * 1000, 3)
        return out


def agent_figures(
    *,
    uptime_s: float,
    buffer: BufferStats,
    publisher: PublisherStats,
    statuses: Iterable[Status | None],
    polls: Iterable[DevicePollStats],
    vendor_malformed: int,
    modbus_links: int,
    modbus_requests: int,
) -> Figures:
    """The agent-wide figures of a health report (names documented in docs/contract.md)."""
    online = offline = stale = unknown = 0
    for status in statuses:
        if status is Status.ONLINE:
            online += 1
        elif status is Status.OFFLINE:
            offline += 1
        elif status is Status.STALE:
            stale += 1
        else:
            unknown += 1
    totals = dict.fromkeys(("polls", "on_schedule", "late", "skipped", "timeouts"), 0)
    totals.update(exceptions=0, errors=0)
    for s in polls:
        totals["polls"] += s.polls
        totals["on_schedule"] += s.on_schedule
        totals["late"] += s.late
        totals["skipped"] += s.skipped
        totals["timeouts"] += s.timeouts
        totals["exceptions"] += s.exceptions
        totals["errors"] += s.errors
    figures: Figures = {
        "uptime_s": round(uptime_s, 3),
        "queue_depth": buffer.depth,
        "queue_max": buffer.max_samples,
        "buffer_dropped": buffer.dropped,
        "buffer_dropped_measurements": buffer.dropped_measurements,
        "buffer_refused_measurements": buffer.refused_measurements,
        "buffer_dropped_keepers": buffer.dropped_keepers,
        "buffer_held": buffer.held,
        "buffer_disk_full": int(buffer.disk_full),
        "buffer_disk_full_events": buffer.disk_full_events,
        "published": publisher.published,
        "statuses_published": publisher.statuses_published,
        "broker_refused": publisher.refused,
        "broker_connected": int(publisher.connected),
        "broker_connects": publisher.connects,
        "broker_reconnects": max(publisher.connects - 1, 0),
        "devices_online": online,
        "devices_offline": offline,
        "devices_stale": stale,
        "devices_unknown": unknown,
        "vendor_messages": publisher.vendor_messages,
        "vendor_malformed": vendor_malformed,
        "modbus_links": modbus_links,
        "modbus_requests": modbus_requests,
    }
    for name, value in totals.items():
        figures[f"{name}_total"] = value
    return figures


def health_reports(
    ts: int, agent: Figures, devices: Mapping[str, DevicePollStats]
) -> list[Callable[[int], bytes]]:
    """Encoders of the EdgeHealth messages for one report, each taking the message's seq.

    Devices are split over messages of at most `DEVICES_PER_MESSAGE` (each message repeats the
    agent figures), which keeps every message far below the payload limit. Reading the device
    figures starts their next latency window.
    """
    items = list(devices.items())
    chunks: list[list[tuple[str, DevicePollStats]]] = [
        items[i : i + DEVICES_PER_MESSAGE] for i in range(0, len(items), DEVICES_PER_MESSAGE)
    ] or [[]]
    encoders: list[Callable[[int], bytes]] = []
    for chunk in chunks:
        figures = {eq_id: stats.figures() for eq_id, stats in chunk}
        for _, stats in chunk:
            stats.reset_window()

        def encode(seq: int, figures: dict[str, Figures] = figures) -> bytes:
            return EdgeHealth(ts=ts, seq=seq, agent=agent, devices=figures).to_json()

        encoders.append(encode)
    return encoders
