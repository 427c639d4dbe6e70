"""Inventory loading: valid files load, bad ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import ModbusTcp, Mqtt, load_inventory
from tests.conftest import REPO

GOOD = """\
site: {id: s1, timezone: Europe/London}
buildings:
  - id: b1
    equipment:
      - id: p1
        kind: pump
        profile: plantroom-sim-pump
        floor: B1
        connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 3}
      - id: l1
        kind: lighting
        profile: lumen-lc4
        connection: {type: mqtt, topic: vendor/l1/state}
  - id: b2
    equipment:
      - id: e1
        kind: elevator
        profile: plantroom-sim-elevator
        connection: {type: modbus_rtu, device: /dev/ttyUSB0, baudrate: 19200, unit: 4}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_demo_inventory_has_two_buildings_and_four_of_each_kind() -> None:
    inv = load_inventory(REPO / "sites" / "demo.yaml")
    assert len(inv.buildings) == 2
    kinds = [e.kind.value for _, e in inv.equipment()]
    for kind in ("elevator", "pump", "lighting", "fire_panel"):
        assert kinds.count(kind) >= 4


def test_good_inventory_loads(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD))
    assert inv.site.timezone == "Europe/London"
    b, p1 = inv.find("p1")
    assert b.id == "b1"
    assert isinstance(p1.connection, ModbusTcp) and p1.connection.unit == 3
    assert isinstance(inv.find("l1")[1].connection, Mqtt)
    assert [e.id for _, e in inv.equipment({"b2"})] == ["e1"]
    assert inv.topic(b, p1).telemetry() == "plantroom/v1/s1/b1/pump/p1/telemetry"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("port: 5020", "port: 70000", ":9: buildings.0.equipment.0.connection"),
        ("kind: pump", "kind: boiler", ":6: buildings.0.equipment.0.kind"),
        ("id: l1", "id: p1", "used twice"),
        ("id: b2", "id: b1", "used twice"),
        ("topic: vendor/l1/state", "topic: vendor/+/state", "wildcards"),
        ("floor: B1", "flor: B1", ":8: buildings.0.equipment.0.flor"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  - id: b2", "  - id: [b2", 1))
    with pytest.raises(ConfigError, match=r"site\.yaml:\d+: invalid YAML"):
        load_inventory(path)


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("floor: B1", "floor: B1\n        floor: B2", 1))
    with pytest.raises(ConfigError, match="duplicate key 'floor'"):
        load_inventory(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_inventory(tmp_path / "nope.yaml")
