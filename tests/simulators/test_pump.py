"""Pump model: booster and sump cycling, protections, and each fault's signature."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from simulators.models.base import ModelContext
from simulators.models.pump import PumpModel
from simulators.registers import Value
from tests.simulators.harness import advance_until, sample_values

TZ = ZoneInfo("Asia/Hong_Kong")
DAYTIME = datetime(2026, 3, 2, 9, 0, tzinfo=TZ).timestamp()
V = dict[str, Value]


def booster(seed: int = 1) -> PumpModel:
    return PumpModel(
        ModelContext(
            "pump-1", seed=seed, start_time=DAYTIME, timezone=TZ, tags={"system": "domestic-water"}
        )
    )


def sump(seed: int = 1) -> PumpModel:
    return PumpModel(
        ModelContext("pump-2", seed=seed, start_time=DAYTIME, timezone=TZ, tags={"system": "sump"})
    )


# a pump changes over seconds: it is run a second and sampled 5 seconds at a time
run_until = partial(advance_until, step=1.0)
sample = partial(sample_values, step=5.0)


def starts_in(m: PumpModel, seconds: float) -> int:
    before = m.starts
    m.advance(seconds)
    return m.starts - before


def developed(m: PumpModel, fault: str, seconds: float) -> V:
    """`m`'s values `seconds` after `fault`, injected, first raises its flag of that name."""
    m.inject(fault, {})
    run_until(m, lambda x: x.values()[fault] is True, 3600)
    m.advance(seconds)
    return m.values()


def no_alarms(v: V) -> bool:
    return v["alarm_code"] == "none" and not any(
        v[b] for b in ("dry_run", "low_pressure", "over_current", "high_level", "leak")
    )


def test_booster_cycles_between_cut_in_and_cut_out() -> None:
    m = booster()
    values = sample(m, 6 * 3600)
    states = {v["run_state"] for v in values}
    assert states == {"running", "stopped"}
    assert 5 < m.starts - values[0]["starts"] < 150
    pressures = [v["discharge_pressure"] for v in values]
    assert min(pressures) > 2.9 and max(pressures) < 4.8
    for v in values:
        assert no_alarms(v)
        assert v["sump_level"] is None
        if v["run_state"] == "running":
            assert 2850 < v["speed"] < 2960
            assert 5.0 < v["current"] <= 10.5
            assert v["flow"] > 5.0
            assert 0.5 < v["vibration"] < 2.5
        else:
            assert v["speed"] == 0 and v["current"] == 0 and v["flow"] == 0 and v["power"] == 0
    assert values[-1]["run_hours"] > values[0]["run_hours"]
    assert 30 < values[-1]["motor_temperature"] < 80


def test_sump_pumps_down_between_start_and_stop_levels() -> None:
    m = sump()
    values = sample(m, 12 * 3600)
    levels = [v["sump_level"] for v in values]
    assert min(levels) > 15 and max(levels) < 75
    assert m.starts > values[0]["starts"]
    assert all(no_alarms(v) for v in values)
    running = [v for v in values if v["run_state"] == "running"]
    assert running and all(v["flow"] > 10 for v in running)


def test_same_seed_same_pump() -> None:
    a, b = booster(3), booster(3)
    a.advance(7200)
    b.advance(7200)
    assert a.values() == b.values()


def test_booster_dry_run() -> None:
    m = booster()
    v = developed(m, "dry_run", 1800)
    assert v["run_state"] == "running"
    assert v["flow"] < 0.5
    assert v["current"] < 4.0  # about a third of its usual 7-9 A
    assert v["discharge_pressure"] < 1.0
    assert v["alarm_code"] == "dry_run"
    m.clear("dry_run")
    m.advance(1800)
    v = m.values()
    assert v["dry_run"] is False and v["alarm_code"] == "none"
    assert v["discharge_pressure"] > 2.5


def test_sump_dry_run_runs_on_an_empty_pit() -> None:
    m = sump()
    run_until(m, lambda x: not x.running, 3600)
    m.inject("dry_run", {})
    m.advance(10)
    v = m.values()
    assert v["run_state"] == "running" and v["flow"] < 0.5 and v["dry_run"] is True
    assert v["alarm_code"] == "dry_run"
    m.clear()
    m.advance(15)
    assert m.values()["dry_run"] is False


def test_low_pressure() -> None:
    m = booster()
    v = developed(m, "low_pressure", 600)
    assert v["run_state"] == "running"
    assert v["discharge_pressure"] < 1.5
    assert v["flow"] > 15
    assert v["alarm_code"] == "low_pressure"
    m.clear("low_pressure")
    m.advance(1800)
    v = m.values()
    assert v["low_pressure"] is False and v["discharge_pressure"] > 2.5


def test_over_current() -> None:
    m = booster()
    run_until(m, lambda x: x.running, 3600)
    normal_current = m.current()
    m.inject("over_current", {})
    m.advance(5)
    v = m.values()
    assert v["current"] > 12.0 and v["current"] > normal_current * 1.5
    assert v["over_current"] is True and v["alarm_code"] == "overload"
    m.clear("over_current")
    m.advance(5)
    assert m.values()["over_current"] is False


def test_sustained_over_current_trips_the_motor_on_temperature() -> None:
    m = booster()
    m.inject("over_current", {})
    m.inject("low_pressure", {})  # the burst keeps it running flat out
    run_until(m, lambda x: x.values()["run_state"] == "fault", 4 * 3600, step=10.0)
    v = m.values()
    assert v["motor_temperature"] > 109 and v["alarm_code"] == "motor_over_temperature"
    assert v["speed"] == 0 and v["current"] == 0
    m.clear()
    run_until(m, lambda x: x.values()["run_state"] != "fault", 4 * 3600, step=10.0)


def test_bearing_wear_drifts_over_days() -> None:
    m = booster()
    m.inject("bearing_wear", {"rate": 2.0})

    def running_vibration() -> float:
        run_until(m, lambda x: x.running, 3600)
        m.advance(5)
        return float(m.values()["vibration"])

    day0 = running_vibration()
    assert day0 < 2.5
    m.advance(2 * 86400)
    day2 = running_vibration()
    assert 4.5 < day2 < 7.1
    assert m.values()["warning_code"] == "bearing_wear"
    assert m.values()["alarm_code"] == "none"
    m.advance(86400)
    v = running_vibration()
    assert v > 7.1 and m.values()["alarm_code"] == "bearing_wear"
    assert m.motor_temperature > 30
    m.clear("bearing_wear")
    assert running_vibration() < 2.5


def test_short_cycling_multiplies_starts() -> None:
    normal, faulty = booster(), booster()
    faulty.inject("short_cycling", {})
    assert starts_in(normal, 3600) < 20
    assert starts_in(faulty, 3600) > 60
    faulty.clear()
    faulty.advance(600)
    assert starts_in(faulty, 3600) < 20


def test_sump_short_cycling() -> None:
    normal, faulty = sump(), sump()
    faulty.inject("short_cycling", {})
    faulty.level = normal.level = 60.0
    assert starts_in(normal, 3 * 3600) <= 4
    assert starts_in(faulty, 3 * 3600) > 40


def test_sump_high_level() -> None:
    m = sump()
    m.inject("high_level", {})
    run_until(m, lambda x: x.values()["high_level"] is True, 3600)
    v = m.values()
    assert v["sump_level"] >= 90 and v["alarm_code"] == "high_level"
    assert v["run_state"] == "running"
    m.clear("high_level")
    run_until(m, lambda x: x.values()["high_level"] is False, 3600)
    assert m.values()["alarm_code"] == "none"


def test_booster_high_level_and_leak_are_float_and_leak_switches() -> None:
    m = booster()
    m.inject("high_level", {})
    m.inject("leak", {})
    v = m.values()
    assert v["high_level"] is True and v["leak"] is True and v["alarm_code"] == "high_level"
    m.clear("high_level")
    v = m.values()
    assert v["high_level"] is False and v["leak"] is True
    m.clear("leak")
    assert no_alarms(m.values())


def test_remote_stop_and_setpoints() -> None:
    m = booster()
    m.write("remote_stop", True)
    m.advance(3600)
    assert m.values()["run_state"] == "stopped" and m.values()["remote_stop"] is True
    m.write("remote_stop", False)
    m.write("pressure_setpoint", 6.0)
    m.advance(3600)
    assert max(v["discharge_pressure"] for v in sample(m, 3600)) > 5.0
    s = sump()
    with pytest.raises(ValueError, match="5 %"):
        s.write("start_level", 22.0)
    with pytest.raises(ValueError, match="5 %"):
        s.write("stop_level", 68.0)
    s.write("start_level", 50.0)
    assert s.values()["start_level"] == 50.0
