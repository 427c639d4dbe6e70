"""Units: a numeric point names its unit, and a canonical point is converted to the canonical
unit when its profile loads (pint once, folded into the scale and offset)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge.decode import decode_registers
from edge.mqtt_devices import convert
from plantroom.canonical import canonical_points
from plantroom.profiles import ModbusPoint, MqttPoint, load_profile
from plantroom.profiles.units import UnitConversion, check_unit, conversion, tidy
from tests.plantroom.harness import error_of, modbus, write


def only_point(path: Path) -> ModbusPoint:
    point = load_profile(path).points[0]
    assert isinstance(point, ModbusPoint)
    return point


@pytest.mark.parametrize(
    ("source", "target", "factor", "offset"),
    [
        ("W", "kW", 0.001, 0.0),
        ("kPa", "bar", 0.01, 0.0),
        ("psi", "bar", 0.0689475729316836, 0.0),
        ("degF", "degC", 5 / 9, -160 / 9),
        ("K", "degC", 1.0, -273.15),
        ("l/s", "m3/h", 3.6, 0.0),
        ("Hz", "rpm", 60.0, 0.0),
        ("min", "h", 1 / 60, 0.0),
        ("1", "%", 100.0, 0.0),
        ("count", "1", 1.0, 0.0),
        ("kWh", "kWh", 1.0, 0.0),
    ],
)
def test_conversions_are_a_factor_and_an_offset(
    source: str, target: str, factor: float, offset: float
) -> None:
    found = conversion(source, target)
    assert math.isclose(found.factor, factor, rel_tol=1e-13)
    assert math.isclose(found.offset, offset, rel_tol=1e-13, abs_tol=1e-12)


@pytest.mark.parametrize("text", ["foo", "W/", "", "2", "m3x", "kW" * 20])
def test_a_unit_pint_cannot_read_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match=f"unit {text!r}"):
        check_unit(text)


def test_units_of_other_dimensions_do_not_convert() -> None:
    with pytest.raises(ValueError, match=r"'W' .* cannot be converted to 'bar'"):
        conversion("W", "bar")


def test_folding_keeps_decimal_scales_decimal() -> None:
    assert UnitConversion(0.01, 0.0).fold(0.1, 0.0) == (0.001, 0.0)
    assert tidy(0.1 * 3) == 0.3


def test_a_numeric_point_without_a_unit_is_refused_at_its_line(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: speed, table: input, address: 1, type: uint16}\n")
    msg = error_of(path)
    assert f"{path}:5: point 'speed' (points[0]), field unit: a numeric point needs `unit:`" in msg
    assert "the canonical unit of 'speed' is rpm" in msg


def test_a_unit_that_does_not_parse_is_refused_at_its_line(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: head, table: input, address: 1, type: uint16, unit: mWg}\n")
    assert f"{path}:5: point 'head' (points[0]), field unit: unit 'mWg' is not a unit" in (
        error_of(path)
    )


def test_a_canonical_point_in_a_unit_that_cannot_convert_is_refused(tmp_path: Path) -> None:
    path = modbus(
        tmp_path,
        "  - {name: discharge_pressure, table: input, address: 4, type: uint16, unit: W}\n",
    )
    msg = error_of(path)
    assert f"{path}:5: point 'discharge_pressure' (points[0]), field unit:" in msg
    assert "cannot be converted to 'bar'" in msg
    assert "canonical pump point in bar (docs/points.md)" in msg


def test_a_canonical_point_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: dry_run, table: input, address: 0, type: uint16}\n")
    assert "'dry_run' is a canonical pump point of type bool" in error_of(path)


def test_a_power_in_watts_is_reported_in_kilowatts(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: power, table: input, address: 3, type: uint16, unit: W}\n")
    point = only_point(path)
    assert (point.unit, point.scale, point.offset) == ("kW", 0.001, 0.0)
    assert decode_registers(point, [4123]) == 4.123


def test_a_scaled_temperature_in_fahrenheit_is_reported_in_celsius(tmp_path: Path) -> None:
    line = (
        "  - {name: motor_temperature, table: input, address: 6, type: int16, scale: 0.1, "
        "unit: degF, not_available: 0x7FFF}\n"
    )
    point = only_point(modbus(tmp_path, line))
    assert point.unit == "degC"
    value = decode_registers(point, [2120])  # 212.0 degF
    assert isinstance(value, float) and math.isclose(value, 100.0, abs_tol=1e-9)
    assert decode_registers(point, [0x7FFF]) is None  # not available stays not available


def test_a_point_already_in_the_canonical_unit_is_left_as_written(tmp_path: Path) -> None:
    line = "  - {name: power, table: input, address: 3, type: uint16, scale: 0.01, unit: kW}\n"
    point = only_point(modbus(tmp_path, line))
    assert (point.unit, point.scale, point.offset, point.model_fields_set >= {"scale"}) == (
        "kW",
        0.01,
        0.0,
        True,
    )


def test_a_point_that_is_not_canonical_keeps_its_unit(tmp_path: Path) -> None:
    line = "  - {name: frequency, table: input, address: 3, type: uint16, scale: 0.1, unit: Hz}\n"
    point = only_point(modbus(tmp_path, line))
    assert (point.unit, point.scale) == ("Hz", 0.1)


def test_unit_one_may_be_written_as_a_yaml_number(tmp_path: Path) -> None:
    point = only_point(
        modbus(tmp_path, "  - {name: starts, table: input, address: 12, type: uint32, unit: 1}\n")
    )
    assert point.unit == canonical_points("pump")["starts"].unit == "1"


def test_an_mqtt_point_is_converted_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lc-kw",
        """
        name: lc-kw
        kind: lighting
        protocol: mqtt
        points:
          - {name: circuit_1_power, path: c1.kw, type: float, unit: kW}
          - {name: circuit_1_lamps, path: c1.lamps, type: int, unit: count}
        """,
    )
    power, lamps = load_profile(path).points
    assert isinstance(power, MqttPoint) and isinstance(lamps, MqttPoint)
    assert power.unit == "W" and convert(power, 0.4125) == 412.5
    assert lamps.unit == "1" and convert(lamps, 12) == 12
