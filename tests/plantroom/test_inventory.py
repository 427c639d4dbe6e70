"""Inventory loading: valid files load, bad ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import ModbusTcp, Mqtt, load_inventory
from tests.harness import REPO

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


def test_demo_inventory_has_three_buildings_and_four_of_each_kind() -> None:
    inv = load_inventory(REPO / "sites" / "demo.yaml")
    assert [b.id for b in inv.buildings] == ["tower-a", "tower-b", "annex"]
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


def test_every_duplicate_id_points_at_its_own_line(tmp_path: Path) -> None:
    text = GOOD.replace("id: l1", "id: p1").replace("id: e1", "id: p1")
    with pytest.raises(ConfigError) as err:
        load_inventory(write(tmp_path, text))
    lines = str(err.value).splitlines()
    path = tmp_path / "site.yaml"
    assert lines == [
        f"{path}:10: buildings.0.equipment.1.id: equipment id 'p1' is used twice (first at line 5)",
        f"{path}:16: buildings.1.equipment.0.id: equipment id 'p1' is used twice (first at line 5)",
    ]


def test_an_alias_bomb_fails_at_once_naming_the_file(tmp_path: Path) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for n in range(ord("b"), ord("j")):
        prev = chr(n - 1)
        bomb += f"{chr(n)}: &{chr(n)} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    assert len(bomb.splitlines()) == 9
    path = write(tmp_path, bomb)
    with pytest.raises(ConfigError, match=rf"^{path}: more than 200000 values once aliases"):
        load_inventory(path)


def test_a_file_that_is_not_utf8_names_the_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(b"site: {id: s1}\nbuildings:\n  - id: caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: not UTF-8: byte 0xe9 at offset 37$"):
        load_inventory(path)
