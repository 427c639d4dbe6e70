"""Derived points at the edge: computed after each decoded sample, quality carried through,
reported like any point (MQTT vendor messages here; Modbus polls in the end-to-end test
tests/cloud/test_derived_points.py)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.decode import Value
from edge.decode_derived import DerivedValues
from edge.mqtt_devices import VendorDecoder
from edge.report import ReportFilter
from plantroom.profiles import ModbusProfile, MqttProfile, load_profile
from plantroom.schema import Quality

PUMP = {
    "name": "cim",
    "kind": "pump",
    "protocol": "modbus",
    "points": [
        {"name": "alarm_code", "table": "input", "address": 14, "type": "uint16", "role": "alarm"},
        {"name": "status_word", "table": "input", "address": 20, "type": "uint16", "role": "state"},
        {"name": "motor_temperature", "table": "input", "address": 6, "type": "int16",
         "unit": "degC", "poll": "slow"},
        {"name": "code_57", "role": "alarm", "derive": {"from": "alarm_code", "in": [57]}},
        {"name": "running", "role": "state", "derive": {"from": "status_word", "bit": 3}},
        {"name": "hot_running", "role": "alarm",
         "derive": {"expr": "running and motor_temperature > 90"}},
    ],
}  # fmt: skip


def apply(values: dict[str, Value], quality: dict[str, Quality] | None = None) -> tuple:
    derived = DerivedValues(ModbusProfile.model_validate(PUMP))
    quality = dict(quality or {})
    values = dict(values)
    derived.apply(values, quality)
    return values, quality


def test_every_derived_point_is_added_to_the_sample() -> None:
    values, quality = apply({"alarm_code": 57, "status_word": 8, "motor_temperature": 95})
    assert values == {
        "alarm_code": 57,
        "status_word": 8,
        "motor_temperature": 95,
        "code_57": True,
        "running": True,
        "hot_running": True,
    }
    assert quality == {}


def test_an_unavailable_source_makes_the_derived_point_unavailable() -> None:
    values, quality = apply(
        {"alarm_code": None, "status_word": 8, "motor_temperature": None},
        {"alarm_code": Quality.UNAVAILABLE, "motor_temperature": Quality.UNAVAILABLE},
    )
    assert values["code_57"] is None and quality["code_57"] is Quality.UNAVAILABLE
    assert values["running"] is True and "running" not in quality
    # unavailable through a derived source too
    assert values["hot_running"] is None and quality["hot_running"] is Quality.UNAVAILABLE


def test_a_stale_source_makes_the_derived_point_stale() -> None:
    values, quality = apply(
        {"alarm_code": 0, "status_word": 8, "motor_temperature": 20},
        {"status_word": Quality.STALE},
    )
    assert values["running"] is True and quality["running"] is Quality.STALE
    assert values["code_57"] is False and "code_57" not in quality


def test_a_source_not_in_this_poll_leaves_the_derived_point_out() -> None:
    # a fast poll: the slow motor temperature was not read
    values, _ = apply({"alarm_code": 0, "status_word": 0})
    assert values["running"] is False
    assert "hot_running" not in values


def test_derived_points_have_their_report_policy_and_role() -> None:
    data = {**PUMP, "report": {"deadband": 1.0}}
    report = ReportFilter(ModbusProfile.model_validate(data))
    first, _ = report.select({"running": True, "code_57": False}, {}, 0.0)
    again, _ = report.select({"running": True, "code_57": True}, {}, 1.0)
    assert first == {"running": True, "code_57": False}
    assert again == {"code_57": True}  # an alarm point is reported when it changes


def test_a_vendor_message_carries_its_derived_points(tmp_path: Path) -> None:
    path = tmp_path / "vendor-lc.yaml"
    path.write_text(
        "name: vendor-lc\n"
        "kind: lighting\n"
        "protocol: mqtt\n"
        "points:\n"
        "  - {name: status, path: st, type: int, role: state}\n"
        "  - {name: circuit_1_power, path: p1, type: float, unit: kW}\n"
        "  - {name: circuit_1_on, role: state, derive: {from: status, bit: 0}}\n"
        "  - {name: circuit_1_tripped, role: alarm, derive: {from: status, bit: 1}}\n"
        "  - {name: circuit_1_lit_and_drawing, role: state,\n"
        "     derive: {expr: 'circuit_1_on and circuit_1_power > 10'}}\n",
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert isinstance(profile, MqttProfile)
    decoder = VendorDecoder("lc-1", profile)
    sample = decoder.decode("t", json.dumps({"st": 1, "p1": 0.4}).encode(), 1_767_225_600_000)
    assert sample.values == {
        "status": 1,
        "circuit_1_power": 400.0,  # kW on the wire, W (canonical) in telemetry
        "circuit_1_on": True,
        "circuit_1_tripped": False,
        "circuit_1_lit_and_drawing": True,
    }
    missing = decoder.decode("t", json.dumps({"p1": 0.4}).encode(), 1_767_225_600_000)
    assert missing.values["circuit_1_on"] is None
    assert missing.quality["circuit_1_on"] is Quality.UNAVAILABLE
