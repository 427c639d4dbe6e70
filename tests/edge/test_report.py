"""Report-by-exception and the availability state machine."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from edge.availability import Availability, Status
from edge.decode import Value
from edge.report import ChangeTracker, ReportFilter
from plantroom.profiles import ModbusProfile, Role
from plantroom.schema import Quality


def profile(report: dict[str, Any] | None = None, **point_reports: dict[str, Any]) -> ModbusProfile:
    def p(name: str, address: int, **kw: Any) -> dict[str, Any]:
        spec = {"name": name, "table": "holding", "address": address, "type": "uint16", **kw}
        if name in point_reports:
            spec["report"] = point_reports[name]
        return spec

    return ModbusProfile.model_validate(
        {
            "name": "x",
            "kind": "pump",
            "protocol": "modbus",
            "report": report,
            "points": [
                p("speed", 0),
                p("pressure", 1),
                p("state", 2, type="enum", enum={0: "stopped", 1: "running"}, role="state"),
                p("fault", 3, role="alarm"),
            ],
        }
    )


def test_without_a_policy_everything_is_reported() -> None:
    f = ReportFilter(profile())
    assert not f.active
    values: dict[str, Value] = {"speed": 1, "pressure": 2, "state": "stopped", "fault": 0}
    assert f.select(values, {}, 0.0) == (values, {})
    assert f.select(values, {}, 1.0) == (values, {})


def test_absolute_deadband_against_the_last_reported_value() -> None:
    f = ReportFilter(profile(report={"deadband": 5}))
    assert f.active
    assert f.select({"speed": 100}, {}, 0)[0] == {"speed": 100}
    assert f.select({"speed": 104}, {}, 1)[0] == {}
    assert f.select({"speed": 103}, {}, 2)[0] == {}
    assert f.select({"speed": 105}, {}, 3)[0] == {"speed": 105}  # creeping counts from 100
    assert f.select({"speed": 101}, {}, 4)[0] == {}


def test_percent_deadband() -> None:
    f = ReportFilter(profile(speed={"deadband_percent": 10}))
    assert f.select({"speed": 200, "pressure": 1}, {}, 0)[0] == {"speed": 200, "pressure": 1}
    assert f.select({"speed": 219, "pressure": 1}, {}, 1)[0] == {"pressure": 1}
    assert f.select({"speed": 180, "pressure": 1}, {}, 2)[0] == {"speed": 180, "pressure": 1}


def test_heartbeat_reports_unchanged_values() -> None:
    f = ReportFilter(profile(report={"deadband": 1000, "heartbeat_s": 10}))
    assert f.select({"speed": 1}, {}, 0)[0] == {"speed": 1}
    assert f.select({"speed": 1}, {}, 9.9)[0] == {}
    assert f.select({"speed": 2}, {}, 10)[0] == {"speed": 2}
    assert f.select({"speed": 2}, {}, 15)[0] == {}


def test_heartbeat_only_policy_reports_changes() -> None:
    f = ReportFilter(profile(report={"heartbeat_s": 60}))
    assert f.select({"speed": 1}, {}, 0)[0] == {"speed": 1}
    assert f.select({"speed": 1}, {}, 1)[0] == {}
    assert f.select({"speed": 2}, {}, 2)[0] == {"speed": 2}


def test_alarm_and_state_changes_pass_any_deadband() -> None:
    f = ReportFilter(profile(report={"deadband": 1000}))
    first: dict[str, Value] = {"state": "stopped", "fault": 0}
    assert f.select(first, {}, 0)[0] == first
    assert f.select(first, {}, 1)[0] == {}
    assert f.select({"state": "running", "fault": 1}, {}, 2)[0] == {"state": "running", "fault": 1}


def test_quality_change_is_reported() -> None:
    f = ReportFilter(profile(report={"deadband": 1000}))
    f.select({"speed": 1}, {}, 0)
    assert f.select({"speed": None}, {"speed": Quality.UNAVAILABLE}, 1) == (
        {"speed": None},
        {"speed": Quality.UNAVAILABLE},
    )
    assert f.select({"speed": None}, {"speed": Quality.UNAVAILABLE}, 2) == ({}, {})
    assert f.select({"speed": 1}, {}, 3)[0] == {"speed": 1}


def test_availability_goes_offline_after_n_failures_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="edge.availability")
    a = Availability("pump-1", offline_after=3)
    assert a.status is None
    assert a.failed("timeout", 1) is None
    assert a.failed("timeout", 2) is None
    change = a.failed("timeout", 3)
    assert change is not None and change.status is Status.OFFLINE and change.reason == "timeout"
    assert change.payload() == {"status": "offline", "reason": "timeout", "ts": 3}
    assert a.failed("timeout", 4) is None
    again = a.failed("connection refused", 5)
    assert again is not None and again.reason == "connection refused"
    back = a.succeeded(6)
    assert back is not None and back.status is Status.ONLINE and back.reason is None
    assert a.succeeded(7) is None
    levels = [(r.levelname, r.message.split(":")[0]) for r in caplog.records]
    assert [lv for lv, _ in levels].count("ERROR") == 1
    assert [lv for lv, _ in levels].count("INFO") == 1


def test_availability_first_success_is_online() -> None:
    a = Availability("pump-1", offline_after=1)
    first = a.succeeded(1)
    assert first is not None and first.status is Status.ONLINE
    stale = a.went_stale("no message for 60 s", 2)
    assert stale is not None and stale.status is Status.STALE
    assert a.went_stale("no message for 60 s", 3) is None
    with pytest.raises(ValueError):
        Availability("x", 0)


def test_change_tracker_flags_alarm_and_state_changes_only() -> None:
    t = ChangeTracker({"speed": Role.MEASUREMENT, "state": Role.STATE, "fault": Role.ALARM})
    assert t.changed({"speed": 1, "state": "stopped", "fault": 0})  # first values
    assert not t.changed({"speed": 2, "state": "stopped", "fault": 0})
    assert not t.changed({"speed": 3})
    assert t.changed({"speed": 3, "fault": 1})
    assert t.changed({"state": "running"})
    assert not t.changed({"state": "running", "fault": 1})
    assert t.changed({"fault": None})  # the alarm became unavailable
