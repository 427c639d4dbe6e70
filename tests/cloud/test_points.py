"""Sample points checked against the equipment's device profile (no broker)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from cloud.points import PointCheck, load_point_check
from plantroom.errors import ConfigError
from plantroom.inventory import Inventory, load_inventory
from plantroom.profiles import ProfileLibrary
from plantroom.schema import Quality, Telemetry

INVENTORY = """
site: {id: s1}
buildings:
  - id: b1
    equipment:
      - {id: p1, kind: pump, profile: plantroom-sim-pump,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}
      - {id: l1, kind: lighting, profile: lumen-lc4, connection: {type: mqtt, topic: x/l1}}
      - {id: f1, kind: fire_panel, profile: plantroom-sim-fire-panel,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 21}}
      - {id: c1, kind: pump, profile: acme-custom-pump,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 12}}
      - {id: c2, kind: pump, profile: acme-custom-pump,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 13}}
"""

CUSTOM = """
name: acme-custom-pump
kind: pump
protocol: modbus
points:
  - {name: flow, table: holding, address: 0, type: uint16, scale: 0.1, unit: m3/h}
  - {name: stage, table: holding, address: 1, type: enum, enum: {0: idle, 1: run}}
"""


def sample(points: dict[str, Any], quality: dict[str, Quality] | None = None) -> Telemetry:
    return Telemetry(ts=1_767_225_600_000, seq=1, points=points, quality=quality)


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "site.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    return load_inventory(path)


@pytest.fixture
def check(inventory: Inventory) -> PointCheck:
    return load_point_check(inventory, None)


@pytest.mark.parametrize(
    ("equipment", "points"),
    [
        # numbers: an int where a float is expected, a float for a scaled integer register
        ("p1", {"flow": 12.5, "speed": 1450, "current": 3, "motor_temperature": -4.5}),
        ("p1", {"run_state": "running", "alarm_code": "code_17", "dry_run": False}),
        ("p1", {"flow": None, "dry_run": None, "run_state": None}),  # not available
        ("l1", {"mains_voltage": 230, "circuit_1_on": True, "circuit_1_lamps": 12}),
        ("f1", {"fire_alarm": True, "zone_1": "normal", "battery_voltage": 27.31}),
    ],
)
def test_points_the_profile_accepts_pass_untouched(
    check: PointCheck, equipment: str, points: dict[str, Any]
) -> None:
    telemetry = sample(points)
    assert check.check(equipment, telemetry) is telemetry
    assert check.refused == 0 and check.last_refusal is None


@pytest.mark.parametrize(
    ("points", "bad", "reason"),
    [
        ({"flow": "x", "speed": 1450}, "flow", "point 'flow' must be a number, got str 'x'"),
        ({"flow": True, "speed": 1450}, "flow", "point 'flow' must be a number, got bool True"),
        ({"dry_run": 1, "speed": 1450}, "dry_run", "point 'dry_run' must be a boolean, got int 1"),
        (
            {"run_state": 2, "speed": 1},
            "run_state",
            "point 'run_state' must be a string, got int 2",
        ),
        (
            {"boost": 3.0, "speed": 1450},
            "boost",
            "point 'boost' is not a point of profile 'plantroom-sim-pump'",
        ),
    ],
)
def test_a_bad_point_is_refused_and_the_good_ones_kept(
    check: PointCheck, points: dict[str, Any], bad: str, reason: str
) -> None:
    quality = {bad: Quality.STALE, "speed": Quality.STALE}
    checked = check.check("s1/p1", sample(points, quality))
    assert checked is not None
    assert checked.points == {k: v for k, v in points.items() if k != bad}
    assert checked.quality == {"speed": Quality.STALE}
    assert (checked.ts, checked.seq) == (1_767_225_600_000, 1)
    assert check.refused == 1 and check.refused_alarms == (bad == "dry_run")  # an alarm point
    assert check.last_refusal == f"equipment 'p1' of site 's1': {reason}"


def test_refused_alarm_points_are_counted_apart_and_logged(
    check: PointCheck, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="cloud.points"):
        for _ in range(3):
            checked = check.check("s1/f1", sample({"fire_alarm": "yes", "trouble": False}))
            assert checked is not None and checked.points == {"trouble": False}
    assert (check.refused, check.refused_alarms) == (3, 3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # the first refusal of a point is a warning naming it; the repeats are counted, at DEBUG
    assert len(warnings) == 1
    assert "alarm point" in warnings[0].getMessage()
    assert (
        "equipment 'f1' of site 's1': point 'fire_alarm' must be a boolean"
        in warnings[0].getMessage()
    )


def test_a_sample_with_no_good_point_left_is_dropped(check: PointCheck) -> None:
    assert check.check("s1/p1", sample({"flow": "x", "nonsense": 1})) is None
    assert check.refused == 2


def test_equipment_of_a_profile_the_cloud_lacks_is_accepted_and_named_once(
    inventory: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cloud.points"):
        check = load_point_check(inventory, None)
    assert check.unchecked == {"s1/c1": "acme-custom-pump", "s1/c2": "acme-custom-pump"}
    [warning] = caplog.records
    assert "'acme-custom-pump' of equipment s1/c1, s1/c2" in warning.getMessage()
    telemetry = sample({"anything": "at all"})
    assert check.check("s1/c1", telemetry) is telemetry
    assert check.refused == 0


def test_the_sites_own_profile_folder_is_checked_too(inventory: Inventory, tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "acme-custom-pump.yaml").write_text(CUSTOM, encoding="utf-8")
    check = PointCheck.for_inventory(inventory, ProfileLibrary(folder))
    assert check.unchecked == {}
    checked = check.check("s1/c1", sample({"flow": 4.5, "stage": 1}))
    assert checked is not None and checked.points == {"flow": 4.5}
    assert (
        check.last_refusal
        == "equipment 'c1' of site 's1': point 'stage' must be a string, got int 1"
    )


def test_equipment_outside_the_inventory_passes_to_the_monitor(check: PointCheck) -> None:
    telemetry = sample({"flow": "x"})
    assert check.check("s1/nobody", telemetry) is telemetry


def test_a_bad_profile_folder_or_file_stops_the_start(inventory: Inventory, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PLANTROOM_PROFILES_DIR: profile folder"):
        load_point_check(inventory, tmp_path / "missing")
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "acme-custom-pump.yaml").write_text(
        CUSTOM.replace("type: uint16", "type: uint17"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"acme-custom-pump.yaml:\d+: point 'flow'"):
        load_point_check(inventory, folder)
