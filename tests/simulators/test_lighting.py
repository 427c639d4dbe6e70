"""Lighting controller model: the schedule in the site's timezone, power, faults, message."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from simulators.models.base import ModelContext
from simulators.models.lighting import LightingModel

TZ = ZoneInfo("Asia/Hong_Kong")


def controller(hour: int, minute: int = 0) -> LightingModel:
    start = datetime(2026, 3, 2, hour, minute, tzinfo=TZ).timestamp()
    return LightingModel(ModelContext("light-1", seed=4, start_time=start, timezone=TZ))


def on(m: LightingModel) -> list[bool]:
    return [c.on for c in m.circuits]


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (3, [False, False, True, True]),
        (12, [True, True, False, True]),
        (20, [True, True, True, True]),
        (23, [False, False, True, True]),
    ],
)
def test_schedule_follows_local_time(hour: int, expected: list[bool]) -> None:
    assert on(controller(hour)) == expected


def test_circuits_switch_at_the_schedule_edges() -> None:
    m = controller(6, 59)
    m.advance(50)
    assert on(m)[0] is False
    m.advance(20)  # 07:00:10
    assert on(m) == [True, True, False, True]


def test_site_timezone_matters() -> None:
    start = datetime(2026, 3, 2, 12, 0, tzinfo=TZ).timestamp()  # 04:00 UTC
    utc = LightingModel(ModelContext("light-1", start_time=start, timezone=ZoneInfo("UTC")))
    assert on(utc) == [False, False, True, True]


def test_power_lamps_and_burn_hours() -> None:
    m = controller(12)
    payload = m.payload("lc1")
    for c, msg in zip(m.circuits, payload["circuits"], strict=True):
        if c.on:
            assert msg["power_w"] == pytest.approx(c.lamps * c.lamp_w, rel=0.03)
        else:
            assert msg["power_w"] == 0.0
    burn = [c.burn_h for c in m.circuits]
    m.advance(2 * 3600)
    assert m.circuits[0].burn_h == pytest.approx(burn[0] + 2, abs=0.01)  # lit
    assert m.circuits[2].burn_h == pytest.approx(burn[2], abs=1e-9)  # dark at midday
    assert 220 < m.mains_voltage() < 240


def test_message_format_matches_the_profile_header() -> None:
    m = controller(20)
    msg = json.loads(json.dumps(m.payload("a-lc1")))
    assert set(msg) == {"device", "time", "mains_v", "circuits"}
    assert msg["device"] == "a-lc1"
    assert msg["time"] == round(m.now * 1000)
    assert [c["n"] for c in msg["circuits"]] == [1, 2, 3, 4]
    for c in msg["circuits"]:
        assert set(c) == {"n", "on", "power_w", "lamps", "failed", "tripped", "burn_h"}
        assert isinstance(c["on"], bool) and isinstance(c["tripped"], bool)
        assert isinstance(c["lamps"], int) and isinstance(c["failed"], int)


def test_lamp_failure_drops_power_on_its_circuit() -> None:
    m = controller(20)
    before = m.payload("x")["circuits"][1]
    spec = m.fault_spec("lamp_failure")
    assert spec is not None
    m.inject("lamp_failure", spec.validate({"circuit": 2, "lamps": 3}))
    after = m.payload("x")["circuits"][1]
    assert after["failed"] == 3 and after["on"] is True
    assert after["power_w"] == pytest.approx(
        before["power_w"] * (after["lamps"] - 3) / after["lamps"], rel=0.02
    )
    assert m.values()["circuit_2_failed_lamps"] == 3
    assert m.values()["circuit_1_failed_lamps"] == 0
    m.clear("lamp_failure")
    assert m.payload("x")["circuits"][1]["failed"] == 0


def test_circuit_trip_switches_the_circuit_off() -> None:
    m = controller(20)
    spec = m.fault_spec("circuit_trip")
    assert spec is not None
    m.inject("circuit_trip", spec.validate({}))
    c1 = m.payload("x")["circuits"][0]
    assert (c1["tripped"], c1["on"], c1["power_w"]) == (True, False, 0.0)
    burn = m.circuits[0].burn_h
    m.advance(3600)
    assert m.circuits[0].burn_h == burn
    m.clear()
    c1 = m.payload("x")["circuits"][0]
    assert (c1["tripped"], c1["on"]) == (False, True) and c1["power_w"] > 0
