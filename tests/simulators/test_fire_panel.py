"""Fire panel model: zone and panel life-safety states, status word, battery."""

from __future__ import annotations

import pytest

from simulators.errors import InvalidFaultParams
from simulators.faults import FaultSpec
from simulators.models.base import ModelContext
from simulators.models.fire_panel import FirePanelModel
from simulators.registers import Value


def panel() -> FirePanelModel:
    return FirePanelModel(ModelContext("fire-1", seed=2))


def inject(m: FirePanelModel, fault: str, **params: object) -> None:
    spec = m.fault_spec(fault)
    assert isinstance(spec, FaultSpec)
    m.inject(fault, spec.validate(params))


def zones(v: dict[str, Value]) -> list[Value]:
    return [v[f"zone_{z}"] for z in range(1, 9)]


def assert_quiet(v: dict[str, Value]) -> None:
    assert v["panel_state"] == "normal"
    assert zones(v) == ["normal"] * 8
    assert v["active_alarms"] == 0
    assert (v["mains_ok"], v["battery_ok"]) == (True, True)
    assert not any(v[b] for b in ("fire_alarm", "trouble", "supervisory", "zone_disabled"))
    assert 27.0 < v["battery_voltage"] < 27.6


def test_a_quiet_panel_stays_normal_on_float_charge() -> None:
    m = panel()
    for _ in range(48):
        m.advance(1800)
        assert_quiet(m.values())


def test_fire_alarm_in_the_default_zone_and_a_chosen_one() -> None:
    m = panel()
    inject(m, "fire_alarm")
    v = m.values()
    assert v["zone_1"] == "alarm" and v["panel_state"] == "alarm"
    assert v["fire_alarm"] is True and v["active_alarms"] == 1
    assert zones(v)[1:] == ["normal"] * 7
    inject(m, "fire_alarm", zone=6)  # re-injecting moves the alarm
    v = m.values()
    assert v["zone_6"] == "alarm" and v["zone_1"] == "normal"
    m.clear("fire_alarm")
    assert_quiet(m.values())


@pytest.mark.parametrize(
    ("fault", "zone_state", "panel_state", "bit"),
    [
        ("pre_alarm", "pre_alarm", "pre_alarm", None),
        ("detector_trouble", "fault", "fault", "trouble"),
        ("supervisory", "supervisory", "supervisory", "supervisory"),
        ("zone_disabled", "disabled", "disabled", "zone_disabled"),
    ],
)
def test_zone_faults(fault: str, zone_state: str, panel_state: str, bit: str | None) -> None:
    m = panel()
    inject(m, fault, zone=4)
    v = m.values()
    assert v["zone_4"] == zone_state
    assert v["panel_state"] == panel_state
    assert v["fire_alarm"] is False and v["active_alarms"] == 0
    for b in ("trouble", "supervisory", "zone_disabled"):
        assert v[b] is (b == bit), b
    m.clear(fault)
    assert_quiet(m.values())


def test_the_panel_shows_the_most_urgent_state() -> None:
    m = panel()
    inject(m, "detector_trouble", zone=2)
    inject(m, "supervisory", zone=3)
    assert m.values()["panel_state"] == "supervisory"
    inject(m, "pre_alarm", zone=5)
    assert m.values()["panel_state"] == "pre_alarm"
    inject(m, "fire_alarm", zone=7)
    v = m.values()
    assert v["panel_state"] == "alarm"
    assert (v["trouble"], v["supervisory"], v["fire_alarm"]) == (True, True, True)
    m.clear()
    assert_quiet(m.values())


def test_an_isolated_zone_reports_nothing_else() -> None:
    m = panel()
    m.write("zone_3_isolate", True)
    inject(m, "fire_alarm", zone=3)
    v = m.values()
    assert v["zone_3"] == "disabled" and v["fire_alarm"] is False and v["zone_disabled"] is True
    m.write("zone_3_isolate", False)
    assert m.values()["zone_3"] == "alarm"


def test_mains_failure_runs_down_the_battery_slowly() -> None:
    m = panel()
    inject(m, "mains_failure")
    v = m.values()
    assert v["mains_ok"] is False and v["trouble"] is True and v["panel_state"] == "fault"
    assert v["battery_ok"] is True
    assert 25.0 < v["battery_voltage"] <= 25.6
    m.advance(3600)
    after_hour = m.values()["battery_voltage"]
    assert after_hour == pytest.approx(25.1, abs=0.05)
    m.advance(5 * 3600)
    v = m.values()
    assert v["battery_voltage"] < 23.0 and v["battery_ok"] is False
    m.clear("mains_failure")
    m.advance(600)
    assert_quiet(m.values())


def test_mains_failure_rate_parameter() -> None:
    m = panel()
    inject(m, "mains_failure", rate=3.0)
    m.advance(3600)
    assert m.values()["battery_voltage"] == pytest.approx(22.6, abs=0.05)
    assert m.values()["battery_ok"] is False


def test_low_battery() -> None:
    m = panel()
    inject(m, "low_battery")
    v = m.values()
    assert v["battery_ok"] is False and v["trouble"] is True and v["mains_ok"] is True
    assert v["battery_voltage"] < 23.0 and v["panel_state"] == "fault"
    m.clear("low_battery")
    assert_quiet(m.values())


def test_zone_parameter_is_checked() -> None:
    spec = panel().fault_spec("fire_alarm")
    assert spec is not None
    with pytest.raises(InvalidFaultParams, match=r"zone.*1\.\.8"):
        spec.validate({"zone": 9})
