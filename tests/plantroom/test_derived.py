"""Derived points in profiles: each form computes what it says, and a mistake is refused with
the file, the line, the point and the field (and the column of an expression)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plantroom.profiles import DerivedPoint, load_profile
from plantroom.profiles.derived import compile_derived
from tests.plantroom.harness import error_of, write

HEAD = """
name: cim
kind: pump
protocol: modbus
points:
  - {name: alarm_code, table: input, address: 14, type: enum, role: alarm,
     enum: {0: none, 57: dry_run, 64: motor_over_temperature}}
  - {name: vendor_code, table: input, address: 15, type: uint16, role: alarm}
  - {name: status_word, table: input, address: 20, type: uint16, role: state}
  - {name: status_long, table: input, address: 21, type: uint32, role: state}
  - {name: voltage, table: input, address: 23, type: uint16, unit: V}
  - {name: current, table: input, address: 24, type: uint16, scale: 0.1, unit: A}
  - {name: motor_temperature, table: input, address: 25, type: int16, unit: degC}
"""
HEAD_LINES = len(textwrap.dedent(HEAD).strip().splitlines())


def profile(tmp_path: Path, derived: str) -> Path:
    lines = [f"  {line.strip()}" for line in derived.splitlines() if line.strip()]
    return write(tmp_path, "cim", HEAD + "\n".join(lines) + "\n")


def computed(tmp_path: Path, derived: str, values: dict[str, object]) -> dict[str, object]:
    loaded = load_profile(profile(tmp_path, derived))
    known = dict(values)
    got = {}
    for derivation in compile_derived(loaded):  # in order: each sees the ones before
        got[derivation.name] = known[derivation.name] = derivation.compute(known)  # type: ignore[arg-type]
    return got


def test_the_example_forms_load_and_compute(tmp_path: Path) -> None:
    got = computed(
        tmp_path,
        """
          - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}
          - {name: hot, role: alarm, derive: {from: alarm_code, in: [motor_over_temperature]}}
          - {name: odd_code, role: alarm, derive: {from: vendor_code, in: [3, 5]}}
          - {name: running, role: state, derive: {from: status_word, bit: 3}}
          - {name: mode, role: state, derive: {from: status_word, bits: [4, 6]}}
          - {name: high_bit, role: state, derive: {from: status_long, bit: 31}}
          - {name: over_temperature, role: alarm, derive: {expr: "motor_temperature > 90"}}
          - {name: power, unit: kW, derive: {expr: "voltage * current * 1.732 * 0.9 / 1000"}}
          - {name: fast_mode, role: state, derive: {expr: "running and mode >= 4"}}
        """,
        {
            "alarm_code": "dry_run",
            "vendor_code": 5,
            "status_word": 0b0101_1000,
            "status_long": 0x8000_0000,
            "voltage": 400,
            "current": 10.0,
            "motor_temperature": 95,
        },
    )
    assert got == {
        "dry_run": True,
        "hot": False,
        "odd_code": True,
        "running": True,
        "mode": 5,
        "high_bit": True,
        "over_temperature": True,
        "power": 400 * 10.0 * 1.732 * 0.9 / 1000,
        "fast_mode": True,
    }


def test_a_code_the_enum_does_not_name_matches_its_code_label(tmp_path: Path) -> None:
    got = computed(
        tmp_path,
        "  - {name: odd, role: alarm, derive: {from: alarm_code, in: [99]}}\n",
        {"alarm_code": "code_99"},
    )
    assert got == {"odd": True}


def test_a_derived_power_in_watts_is_reported_in_kilowatts(tmp_path: Path) -> None:
    path = profile(tmp_path, "  - {name: power, unit: W, derive: {expr: 'voltage * current'}}\n")
    (power,) = load_profile(path).derived
    assert (power.unit, power.scale) == ("kW", 0.001)
    (derivation,) = compile_derived(load_profile(path))
    assert derivation.compute({"voltage": 400, "current": 10.0}) == 4.0


def test_a_division_by_zero_gives_no_value(tmp_path: Path) -> None:
    got = computed(
        tmp_path,
        "  - {name: ratio, unit: '1', derive: {expr: 'voltage / current'}}\n",
        {"voltage": 400, "current": 0.0},
    )
    assert got == {"ratio": None}


def test_derived_points_stay_apart_from_the_points_read(tmp_path: Path) -> None:
    loaded = load_profile(
        profile(
            tmp_path, "  - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}\n"
        )
    )
    assert "dry_run" not in [p.name for p in loaded.points]
    (dry_run,) = loaded.derived
    assert isinstance(dry_run, DerivedPoint) and dry_run.value_type == "bool"
    assert [p.name for p in loaded.all_points()][-1] == "dry_run"


LINE = HEAD_LINES + 1  # the first derived point's line in the file


@pytest.mark.parametrize(
    ("derived", "where", "message"),
    [
        (
            "{name: a, role: alarm, derive: {from: nope, in: [1]}}",
            "field derive.from",
            "no point 'nope' in this profile to derive from",
        ),
        (
            "{name: a, role: state, derive: {from: status_word, bit: 16}}",
            "field derive.bit",
            "bit 16 is outside 'status_word', which has bits 0..15",
        ),
        (
            "{name: a, role: state, derive: {from: status_word, bits: [6, 4]}}",
            "field derive.bits",
            "write [lo, hi], lo <= hi",
        ),
        (
            "{name: a, role: state, derive: {from: current, bit: 1}}",
            "field derive.from",
            "'current' is not an unscaled integer",
        ),
        (
            "{name: a, role: state, derive: {from: alarm_code, in: [dry_running]}}",
            "field derive.in",
            "'dry_running' is not a label of 'alarm_code' (labels: dry_run, motor_over_",
        ),
        (
            "{name: a, role: state, derive: {from: current, in: [1]}}",
            "field derive.in",
            "'current' is a number, not an unscaled integer",
        ),
        (
            "{name: a, role: state, derive: {from: status_word, in: [1], bit: 2}}",
            "field derive",
            "give exactly one of `in`, `bit`, `bits` or `expr` (given: in, bit)",
        ),
        (
            "{name: a, role: state, derive: {bit: 2}}",
            "field derive",
            "`bit` needs `from:`",
        ),
        (
            "{name: a, role: state, derive: {from: voltage, expr: 'voltage > 1'}}",
            "field derive.from",
            "`expr` names its points itself",
        ),
        (
            "{name: a, role: state, derive: {expr: 'voltage >> 2'}}",
            "field derive.expr",
            "expression 'voltage >> 2': column 1: the operator RShift is not allowed",
        ),
        (
            "{name: a, role: state, derive: {expr: 'voltage > (1'}}",
            "field derive.expr",
            "column 11: syntax error",
        ),
        (
            "{name: a, role: state, derive: {from: status_word, bit: 1, colour: red}}",
            "field derive.colour",
            "Extra inputs are not permitted",
        ),
        (
            "{name: a, derive: {expr: 'voltage * 2'}}",
            "field unit",
            "a numeric point needs `unit:`",
        ),
        (
            "{name: dry_run, derive: {from: status_word, bits: [0, 3]}}",
            "field derive",
            "'dry_run' is a canonical pump point of type bool",
        ),
        (
            "{name: a, role: state, scale: 2, derive: {from: status_word, bit: 1}}",
            "field scale",
            "applies only to a derived number",
        ),
        (
            "{name: voltage, role: state, derive: {from: status_word, bit: 1}}",
            "field name",
            "point name 'voltage' is already used by points[4]",
        ),
    ],
)
def test_a_mistake_in_a_derived_point_is_refused_at_its_line(
    tmp_path: Path, derived: str, where: str, message: str
) -> None:
    path = profile(tmp_path, f"  - {derived}\n")
    msg = error_of(path)
    assert f"{path}:{LINE}: point " in msg and f"(points[7]), {where}: " in msg, msg
    assert message in msg, msg


def test_derived_points_are_computed_in_the_order_written(tmp_path: Path) -> None:
    got = computed(
        tmp_path,
        """
          - {name: running, role: state, derive: {from: status_word, bit: 0}}
          - {name: dry_alarm, role: alarm, derive: {expr: "running and voltage < 10"}}
        """,
        {"status_word": 1, "voltage": 5},
    )
    assert got == {"running": True, "dry_alarm": True}
    path = profile(
        tmp_path,
        """
          - {name: dry_alarm, role: alarm, derive: {expr: "running and voltage < 10"}}
          - {name: running, role: state, derive: {from: status_word, bit: 0}}
        """,
    )
    msg = error_of(path)
    assert f"{path}:{LINE}: point 'dry_alarm' (points[7]), field derive.expr:" in msg
    assert "reads derived point 'running', which is listed after it" in msg


def test_a_cycle_of_derived_points_is_named(tmp_path: Path) -> None:
    path = profile(
        tmp_path,
        """
          - {name: first, role: state, derive: {expr: "second > 1"}}
          - {name: second, unit: '1', derive: {expr: "max(first, 2)"}}
        """,
    )
    assert "derived points read each other in a cycle: first → second → first" in error_of(path)


def test_the_validator_counts_the_derived_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from plantroom.profiles.__main__ import main

    path = profile(
        tmp_path, "  - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}"
    )
    assert main([str(path)]) == 0
    assert "ok (pump, modbus, 7 points, 1 derived)" in capsys.readouterr().out
