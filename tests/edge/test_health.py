"""Per-device poll statistics, the EdgeHealth report built from them, and its buffering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.availability import Status
from edge.buffer import SampleBuffer
from edge.buffer_stats import BufferStats
from edge.errors import DeviceExceptionResponse, DeviceTimeout, DeviceUnreachable
from edge.health import (
    DEVICES_PER_MESSAGE,
    HEALTH_SEQ_KEY,
    LATENCY_WINDOW,
    DevicePollStats,
    agent_figures,
    health_reports,
)
from edge.publisher import PublisherStats
from plantroom.errors import ConfigError
from plantroom.health import parse_edge_health
from plantroom.settings import EdgeSettings, load_settings
from plantroom.topics import edge_health

TOPIC = edge_health("campus", "edge-a")
TS = 1_790_000_000_000


def test_on_schedule_is_within_ten_percent_of_the_cycle() -> None:
    s = DevicePollStats()
    tolerance = 0.1  # a 1 s cycle
    for lateness in (-0.3, 0.0, 0.05, 0.1):
        s.record_poll(lateness, tolerance, 0.002)
    for lateness in (0.1001, 0.5, 3.0):
        s.record_poll(lateness, tolerance, 0.002)
    assert (s.polls, s.on_schedule, s.late) == (7, 4, 3)
    assert s.on_schedule + s.late == s.polls


def test_latency_percentiles_and_max_over_the_window() -> None:
    s = DevicePollStats()
    assert s.latency_p50_ms is None and s.latency_p99_ms is None and s.latency_max_ms is None
    for ms in range(1, 101):  # 1 … 100 ms
        s.record_poll(0.0, 0.1, ms / 1000)
    assert s.latency_p50_ms == pytest.approx(50.0)
    assert s.latency_p99_ms == pytest.approx(99.0)
    assert s.latency_max_ms == pytest.approx(100.0)
    figures = s.figures()
    assert figures["poll_latency_p50_ms"] == pytest.approx(50.0)
    assert figures["poll_latency_p99_ms"] == pytest.approx(99.0)
    assert figures["poll_latency_max_ms"] == pytest.approx(100.0)
    s.reset_window()
    assert s.window_polls == 0 and s.latency_max_ms is None
    assert "poll_latency_p50_ms" not in s.figures()
    assert s.figures()["polls"] == 100  # counters are cumulative across windows
    s.record_poll(0.0, 0.1, 0.007)
    assert s.latency_p50_ms == pytest.approx(7.0) and s.latency_max_ms == pytest.approx(7.0)


def test_the_latency_record_is_bounded_but_the_max_is_exact() -> None:
    s = DevicePollStats()
    s.record_poll(0.0, 0.1, 5.0)  # one very slow poll, then many fast ones
    for _ in range(LATENCY_WINDOW):
        s.record_poll(0.0, 0.1, 0.001)
    assert len(s._latencies) == LATENCY_WINDOW
    assert s.latency_p99_ms == pytest.approx(1.0)  # the slow one left the ring
    assert s.latency_max_ms == pytest.approx(5000.0)  # but still is the window's max


def test_errors_are_sorted_by_kind() -> None:
    s = DevicePollStats()
    s.record_errors(
        [
            DeviceTimeout("unit 1"),
            DeviceExceptionResponse(2),
            DeviceExceptionResponse(4),
            DeviceUnreachable("connection refused", "x"),
        ]
    )
    assert (s.timeouts, s.exceptions, s.errors) == (1, 2, 1)


def test_agent_figures_sum_devices_and_count_statuses() -> None:
    a, b = DevicePollStats(), DevicePollStats()
    a.polls, a.on_schedule, a.late, a.skipped, a.timeouts = 10, 9, 1, 2, 3
    b.polls, b.on_schedule, b.exceptions, b.errors = 5, 5, 1, 4
    figures = agent_figures(
        uptime_s=12.3456,
        buffer=BufferStats(
            depth=7,
            max_samples=1000,
            dropped_measurements=2,
            refused_measurements=1,
            dropped_keepers=0,
            oldest_ts=None,
        ),
        publisher=PublisherStats(
            connected=True, connects=3, published=40, vendor_messages=6, refused=4
        ),
        statuses=[Status.ONLINE, Status.OFFLINE, Status.ONLINE, None, Status.STALE],
        polls=[a, b],
        vendor_malformed=2,
        modbus_links=2,
        modbus_requests=30,
    )
    assert figures["queue_depth"] == 7 and figures["buffer_dropped"] == 3
    assert figures["published"] == 40 and figures["broker_reconnects"] == 2
    assert figures["broker_connected"] == 1 and figures["broker_refused"] == 4
    assert (figures["devices_online"], figures["devices_offline"]) == (2, 1)
    assert (figures["devices_stale"], figures["devices_unknown"]) == (1, 1)
    assert figures["vendor_malformed"] == 2 and figures["vendor_messages"] == 6
    assert (figures["polls_total"], figures["on_schedule_total"]) == (15, 14)
    assert (figures["late_total"], figures["skipped_total"]) == (1, 2)
    assert (figures["timeouts_total"], figures["exceptions_total"]) == (3, 1)
    assert figures["errors_total"] == 4 and figures["uptime_s"] == 12.346


def test_reports_are_valid_edge_health_and_split_large_agents() -> None:
    devices = {f"pump-{i:04d}": DevicePollStats() for i in range(DEVICES_PER_MESSAGE + 5)}
    devices["pump-0000"].record_poll(0.0, 0.1, 0.004)
    devices["pump-0000"].timeouts = 2
    encoders = health_reports(TS, {"queue_depth": 3}, devices)
    assert len(encoders) == 2
    first = parse_edge_health(TOPIC, encoders[0](17))
    second = parse_edge_health(TOPIC, encoders[1](18))
    assert (first.seq, second.seq, first.ts) == (17, 18, TS)
    assert len(first.devices) == DEVICES_PER_MESSAGE and len(second.devices) == 5
    assert first.agent == second.agent == {"queue_depth": 3}
    pump = first.devices["pump-0000"]
    assert pump["polls"] == 1 and pump["on_schedule"] == 1 and pump["timeouts"] == 2
    assert pump["poll_latency_max_ms"] == pytest.approx(4.0)
    assert devices["pump-0000"].window_polls == 0  # reading started a new window
    only_agent = health_reports(TS, {"queue_depth": 0}, {})
    assert parse_edge_health(TOPIC, only_agent[0](0)).devices == {}


def test_health_messages_share_the_buffer_and_its_bound(tmp_path: Path) -> None:
    with SampleBuffer(tmp_path / "b.sqlite", 1000, commit_interval_s=0) as buf:
        for i in range(3):
            seq = buf.append_encoded(
                HEALTH_SEQ_KEY, TOPIC, TS + i, lambda seq: json.dumps({"seq": seq}).encode()
            )
            assert seq == i
        buf.append("pump-1", "t/pump-1", TS, {"alarm": True}, keep=True)
        rows = buf.pending()
        assert [r.topic for r in rows] == [TOPIC] * 3 + ["t/pump-1"]
        assert [json.loads(r.payload)["seq"] for r in rows[:3]] == [0, 1, 2]
        assert buf.depth == 4
        for i in range(1000):  # fill to the limit with alarm samples
            buf.append("pump-1", "t/pump-1", TS, {"alarm": i % 2 == 0}, keep=True)
        stats = buf.stats()
        assert stats.dropped_measurements == 3  # the health reports went first
        assert stats.dropped_keepers == 0
    with SampleBuffer(tmp_path / "b.sqlite", 1000) as buf:
        assert buf.next_seq(HEALTH_SEQ_KEY) == 3  # the report seq survives a restart


def test_health_interval_is_a_setting() -> None:
    assert EdgeSettings().edge_health_interval_s == 10.0
    assert EdgeSettings(edge_health_interval_s=2.5).edge_health_interval_s == 2.5
    with pytest.raises(ConfigError, match="PLANTROOM_EDGE_HEALTH_INTERVAL_S"):
        load_settings(EdgeSettings, edge_health_interval_s=0)
