"""The campus benchmark's pure helpers: percentiles, poll windows, probe parsing."""

from __future__ import annotations

import math

import pytest

from benchmarks.bench_campus import influx_rows, probe_query
from benchmarks.campus_report import PollTally, health_tally, window_tally
from benchmarks.measure import parse_metrics, percentile
from plantroom.health import EdgeHealth

TS = 1_700_000_000_000


def _report(devices: dict[str, dict[str, int | float]], **agent: int | float) -> EdgeHealth:
    return EdgeHealth(ts=TS, seq=0, agent={"uptime_s": 1.0, **agent}, devices=devices)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_window_tally_sums_device_differences() -> None:
    first = _report(
        {
            "a": {"polls": 10, "on_schedule": 10, "late": 0, "skipped": 0, "timeouts": 0},
            "b": {"polls": 10, "on_schedule": 9, "late": 1, "skipped": 2, "timeouts": 1},
        }
    )
    last = _report(
        {
            "a": {"polls": 110, "on_schedule": 109, "late": 1, "skipped": 0, "timeouts": 0},
            "b": {"polls": 105, "on_schedule": 103, "late": 2, "skipped": 7, "timeouts": 4},
        }
    )
    t = window_tally(first, last)
    assert t == PollTally(polls=195, on_schedule=193, late=2, skipped=5, timeouts=3)
    assert t.ratio == pytest.approx(193 / 200)


def test_health_tally_falls_back_to_agent_totals() -> None:
    report = _report(
        {}, polls_total=50, on_schedule_total=48, late_total=2, skipped_total=1, timeouts_total=0
    )
    assert health_tally(report) == PollTally(50, 48, 2, 1, 0)


def test_reports_without_poll_figures_give_none() -> None:
    bare = _report({"a": {"poll_latency_p50_ms": 2.0}}, queue_depth=0)
    assert health_tally(bare) is None
    assert window_tally(bare, bare) is None
    assert math.isnan(PollTally().ratio)


def test_influx_rows_reads_every_series() -> None:
    data = {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "pump",
                        "tags": {"equipment": "p1"},
                        "columns": ["time", "seq"],
                        "values": [[TS, 4], [TS + 1000, 5]],
                    },
                    {
                        "name": "elevator",
                        "tags": {"equipment": "e1"},
                        "columns": ["time", "seq"],
                        "values": [[TS + 500, 9], [TS + 600, None]],
                    },
                ],
            }
        ]
    }
    assert influx_rows(data) == [("p1", 4, TS), ("p1", 5, TS + 1000), ("e1", 9, TS + 500)]
    assert influx_rows({"results": [{"statement_id": 0}]}) == []


def test_influx_rows_reports_query_errors() -> None:
    with pytest.raises(RuntimeError, match="database not found"):
        influx_rows({"results": [{"error": "database not found: plantroom"}]})


def test_probe_query_names_every_device_and_the_window() -> None:
    q = probe_query("campus", ["b01-pump-1", "b01-lift-1"], TS)
    assert "\"equipment\"='b01-lift-1' OR \"equipment\"='b01-pump-1'" in q
    assert f"time > {TS}ms" in q
    assert "\"site\"='campus'" in q
    with pytest.raises(ValueError, match="no equipment"):
        probe_query("campus", [], TS)


def test_parse_metrics_strips_prefix_labels_and_suffix() -> None:
    text = (
        "# TYPE plantroom_gateway_points_out_total counter\n"
        'plantroom_gateway_points_out_total{instance="gateway-1"} 1234\n'
        "# TYPE plantroom_gateway_batch_latency_ms gauge\n"
        'plantroom_gateway_batch_latency_ms{instance="gateway-1"} 12.5\n'
    )
    assert parse_metrics(text) == {"points_out": 1234.0, "batch_latency_ms": 12.5}
