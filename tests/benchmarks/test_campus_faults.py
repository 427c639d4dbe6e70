"""The campus benchmark's fault path arithmetic: e-mails matched to work orders, the legs and
the fault → first notification figures."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from benchmarks.campus_faults import (
    LEGS,
    FaultTrace,
    FirstArrivals,
    channels_yaml,
    epoch_ms,
    first_instant,
    leg_values,
    legs_table,
    notify_figures,
    poll_latencies,
    work_orders_named,
)
from benchmarks.procstat import pressure_some_seconds
from plantroom.health import EdgeHealth

T = 1_700_000_000_000.0


def _mail(subject: str, body: str = "") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "plantroom@bench.example.com"
    message["To"] = "tech1@demo.example.com"
    message.set_content(body)
    return message


def _trace(n: int, **instants: float | None) -> FaultTrace:
    return FaultTrace(f"b02-fire-{n}", injected=T, number=f"WO-{n:06d}", **instants)


def test_numbers_come_from_subject_and_body() -> None:
    one = _mail("[Plantroom] WO-000007 P1: Fire alarm", "Open the job.")
    assert work_orders_named(one) == {"WO-000007"}
    incident = _mail("[Plantroom] Incident 3: 2 job(s), P1", "WO-000008 and WO-000009 need you")
    assert work_orders_named(incident) == {"WO-000008", "WO-000009"}
    assert work_orders_named(_mail("[Plantroom] a test code", "123456")) == set()
    assert work_orders_named(_mail("XWO-0000071 WO-12")) == set()


def test_first_arrival_of_each_number_is_kept() -> None:
    arrivals = FirstArrivals()
    arrivals.note(bytes(_mail("[Plantroom] WO-000001 P1: Fire alarm")), T)
    arrivals.note(bytes(_mail("[Plantroom] WO-000001 P1 OVERDUE: Fire alarm")), T + 5)
    arrivals.note(bytes(_mail("[Plantroom] something else")), T + 9)
    assert arrivals.first_of("WO-000001") == T
    assert arrivals.first_of("WO-000002") is None
    assert arrivals.count == 3


def test_channels_file_points_at_the_server() -> None:
    text = channels_yaml("127.0.0.1", 2525)
    assert 'url: "mailto://127.0.0.1:2525?' in text
    assert "to={address}" in text
    assert "style: email" in text


def test_epoch_ms_reads_naive_as_utc() -> None:
    assert epoch_ms("2023-11-14T22:13:20") == T
    assert epoch_ms("2023-11-14T23:13:20.250+01:00") == T + 250
    assert epoch_ms(None) is None
    assert epoch_ms("") is None
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp: 'yesterday'"):
        epoch_ms("yesterday")


def test_first_instant_is_the_earliest_present() -> None:
    rows = [
        {"created_at": "2023-11-14T22:13:21"},
        {"created_at": "2023-11-14T22:13:20.500"},
        {"created_at": None},
    ]
    assert first_instant(rows, "created_at") == T + 500
    assert first_instant([{"sent_at": None}], "sent_at") is None
    assert first_instant([], "created_at") is None


def test_legs_subtract_consecutive_instants_and_skip_missing_ones() -> None:
    a = _trace(1, poll=T, broker=T + 40, created=T + 90, listed=T + 120, notified=T + 600)
    b = _trace(2, poll=T, broker=T + 1000, created=None, listed=T + 1200)
    assert leg_values([a, b], "poll", "broker") == [40.0, 1000.0]
    assert leg_values([a, b], "broker", "created") == [50.0]
    assert leg_values([a, b], "created", "listed") == [30.0]
    assert leg_values([a, b], "queued", "notified") == []
    for _, start, end in LEGS:  # every leg names two instants of a trace
        assert hasattr(a, start) and hasattr(a, end)


def test_notify_figures_count_untold_and_faults_without_work_order() -> None:
    told = _trace(1, poll=T, notified=T + 700)
    told_late = _trace(2, poll=T + 5, notified=T + 2005)
    untold = _trace(3, poll=T)
    no_wo = FaultTrace("b03-fire-1", injected=T, poll=T)
    figures = notify_figures([told, told_late, untold, no_wo])
    assert figures.from_poll == [700.0, 2000.0]
    assert figures.untold == 1
    assert figures.no_work_order == 1


def test_legs_table_has_a_row_per_leg_with_percentiles() -> None:
    traces = [_trace(n, poll=T, broker=T + 10 * n) for n in range(1, 101)]
    rows = legs_table(traces)
    assert len(rows) == 2 + len(LEGS)
    assert rows[2].startswith("| poll → broker")
    assert rows[2].endswith("| 100 | 500 ms | 990 ms | 1,000 ms |")
    assert rows[3].endswith("| 0 | n/a | n/a | n/a |")


def _health(devices: dict[str, dict[str, float]]) -> EdgeHealth:
    return EdgeHealth(ts=int(T), seq=0, agent={"uptime_s": 1.0}, devices=devices)


def test_poll_latencies_take_the_marked_devices_inside_the_window() -> None:
    inside = _health(
        {
            "b02-fire-01": {"poll_latency_p50_ms": 12.0, "poll_latency_p99_ms": 80.0},
            "b02-pump-01": {"poll_latency_p50_ms": 99.0, "poll_latency_p99_ms": 999.0},
            "b02-fire-02": {"polls": 5},  # no poll in that window: no latency figures
        }
    )
    later = _health({"b03-fire-01": {"poll_latency_p50_ms": 20.0, "poll_latency_p99_ms": 40.0}})
    health = {"edge-b02": [(10.0, inside), (99.0, later)], "edge-b03": [(20.0, later)]}
    assert poll_latencies(health, 5.0, 30.0, "-fire-") == ([12.0, 20.0], [80.0, 40.0])
    assert poll_latencies(health, 100.0, 200.0, "-fire-") == ([], [])


def test_pressure_reads_the_some_total() -> None:
    text = (
        "some avg10=31.25 avg60=60.49 avg300=56.43 total=18794697271\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    assert pressure_some_seconds(text) == pytest.approx(18794.697271)
    with pytest.raises(ValueError, match="no `some"):
        pressure_some_seconds("full avg10=0.00 total=0\n")
