"""Checklist steps of PM plans: readings with units and limits, and the errors of bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.errors import InvalidInput
from cloud.pm.loader import load_plan_file, load_plans
from cloud.pm.steps import Reading
from plantroom.errors import ConfigError

PLAN = """\
plans:
  - id: pump.readings
    kind: pump
    title: Pump readings
    every: 1mo
    checklist:
      - Look at the seal
      - step: Discharge pressure
        reading: {reading}
"""


def write_plan(tmp_path: Path, reading: str) -> Path:
    path = tmp_path / "plans.yaml"
    path.write_text(PLAN.replace("{reading}", reading), encoding="utf-8")
    return path


def test_a_step_is_a_text_or_a_step_with_its_reading(tmp_path: Path) -> None:
    ((plan, where),) = load_plan_file(
        write_plan(tmp_path, "{unit: bar, min: 2.5, max: 4.5, follow_up: true}")
    )
    first, second = plan.plan.checklist
    assert first.step == "Look at the seal" and first.reading is None
    assert second.reading == Reading(unit="bar", min=2.5, max=4.5, follow_up=True)
    assert second.entry()["reading"] == {"unit": "bar", "min": 2.5, "max": 4.5, "follow_up": True}
    assert where.endswith("plans.yaml:2")


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        ("{unit: furlongs-ish}", "'furlongs-ish' is not a unit pint knows"),
        ("{unit: mm, min: 5, max: 1}", "min (5) is greater than max (1)"),
        ("{unit: mm, follow_up: true}", "follow_up needs a limit"),
        ("{unit: mm, minimum: 1}", "minimum: Extra inputs are not permitted"),
        ("{unit: mm, max: .inf}", "max: Input should be less than or equal to"),
    ],
)
def test_bad_readings_are_refused_with_file_and_line(
    tmp_path: Path, reading: str, message: str
) -> None:
    path = write_plan(tmp_path, reading)
    with pytest.raises(ConfigError) as caught:
        load_plan_file(path)
    text = str(caught.value)
    assert message in text
    assert f"{path}:9: plan 'pump.readings': plans.0.checklist.1.reading" in text


def test_limits_are_inclusive_and_values_convert_to_the_step_unit() -> None:
    clearance = Reading(unit="mm", min=0.1, max=0.7)
    assert not clearance.out_of_limits(0.1) and not clearance.out_of_limits(0.7)
    assert clearance.out_of_limits(0.71) and clearance.out_of_limits(0.05)
    assert clearance.in_unit(0.5, None) == 0.5
    assert clearance.in_unit(500, "µm") == pytest.approx(0.5)
    assert Reading(unit="MΩ", min=0.5).in_unit(200, "kΩ") == pytest.approx(0.2)
    assert not Reading(unit="A").out_of_limits(1e6)  # no limits: recorded, never flagged
    assert clearance.limits().english == "0.1 to 0.7 mm"
    assert Reading(unit="MΩ", min=0.5).limits().english == "≥ 0.5 MΩ"


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        (1.0, "V", "'V' cannot be converted to the step's unit 'mm'"),
        (1.0, "zorkmids", "is not a unit"),
        (float("nan"), None, "is not a finite reading"),
        (1e13, None, "is not a finite reading"),
    ],
)
def test_bad_values_say_what_is_wrong(value: float, unit: str | None, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Reading(unit="mm", max=1).in_unit(value, unit)
    assert message in caught.value.message


def test_the_shipped_plans_ask_for_readings_with_limits() -> None:
    plans = {p.id: p.plan for p in load_plans()}
    lift = plans["elevator.routine_maintenance"]
    assert lift.sign_off == "required"
    readings = {s.step: s.reading for s in lift.checklist if s.reading is not None}
    brake = readings["Brake shoe clearance, the widest point"]
    assert (brake.unit, brake.min, brake.max, brake.follow_up) == ("mm", 0.1, 0.7, True)
    battery = next(s.reading for s in plans["fire_panel.annual_test"].checklist if s.reading)
    assert battery.unit == "V" and battery.min == 21.6
    insulation = [
        s.reading
        for s in plans["elevator.professional_maintenance"].checklist
        if s.reading and s.reading.unit == "MΩ"
    ]
    assert insulation and insulation[0].min == 0.5
