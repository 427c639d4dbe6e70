"""Profiles as data: the shipped profiles load, and a bad profile says where and what."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import Inventory, load_inventory
from plantroom.profiles import (
    SHIPPED_DIR,
    ModbusProfile,
    MqttProfile,
    Poll,
    ProfileLibrary,
    Role,
    Table,
    load_profile,
    parse_path,
    shipped_profiles,
)
from tests.harness import REPO
from tests.plantroom.harness import error_of, modbus, write


@pytest.mark.parametrize("path", sorted(SHIPPED_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_builtin_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.points


def test_shipped_profiles_are_every_shipped_file_by_name() -> None:
    shipped = shipped_profiles()
    assert set(shipped) == {p.stem for p in SHIPPED_DIR.glob("*.yaml")}
    assert {"plantroom-sim-pump", "lumen-lc4"} <= set(shipped)
    for name, profile in shipped.items():
        assert profile == ProfileLibrary().get(name)[0]


def test_builtin_profiles_typed_as_documented() -> None:
    lib = ProfileLibrary()
    pump, _ = lib.get("plantroom-sim-pump")
    assert isinstance(pump, ModbusProfile)
    by_name = {p.name: p for p in pump.points}
    assert by_name["current"].scale == 0.1
    assert by_name["current"].not_available == 0xFFFF
    assert by_name["run_hours"].count == 2
    assert by_name["run_hours"].poll is Poll.SLOW
    assert by_name["speed"].poll is Poll.NORMAL
    assert by_name["dry_run"].table is Table.DISCRETE
    assert by_name["alarm_code"].enum is not None and by_name["alarm_code"].enum[57] == "dry_run"
    assert by_name["alarm_code"].role is Role.ALARM
    fire, _ = lib.get("plantroom-sim-fire-panel")
    assert isinstance(fire, ModbusProfile)
    assert {p.bit for p in fire.points if p.type == "bit"} == {0, 1, 2, 3, 4, 5}
    lumen, _ = lib.get("lumen-lc4")
    assert isinstance(lumen, MqttProfile)
    assert lumen.mqtt.timestamp_path == "time"
    assert lumen.points[1].steps == ("circuits", 0, "on")


def test_demo_inventory_resolves_to_profiles() -> None:
    inventory = load_inventory(REPO / "sites" / "demo.yaml")
    assignments = ProfileLibrary().assign(inventory, ["tower-a"], REPO / "sites" / "demo.yaml")
    assert {a.equipment.id for a in assignments} == {e.id for e in inventory.buildings[0].equipment}
    assert all(a.profile.kind == a.equipment.kind for a in assignments)


def test_error_names_file_line_point_and_field(tmp_path: Path) -> None:
    path = modbus(
        tmp_path,
        """
          - {name: speed, table: input, address: 1, type: uint16}
          - name: running
            table: holding
            address: 2
            type: bool
        """,
    )
    msg = error_of(path)
    assert f"{path}:10: point 'running' (points[1]), field type:" in msg
    assert "type 'bool' reads a coil or discrete input" in msg


def test_unknown_type_lists_the_valid_ones(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: temp, table: input, address: 3, type: int17}\n")
    msg = error_of(path)
    assert re.search(
        rf"{re.escape(str(path))}:5: point 'temp' \(points\[0\]\), field type: .*'float32'", msg
    )


@pytest.mark.parametrize(
    ("point", "field", "words"),
    [
        ("{name: a, table: coil, address: 0, type: uint16}", "type", "must have type 'bool'"),
        ("{name: a, table: input, address: 0, type: bit}", "bit", "needs `bit: 0..15`"),
        ("{name: a, table: input, address: 0, type: uint16, bit: 3}", "bit", "only to type 'bit'"),
        ("{name: a, table: input, address: 0, type: enum}", "enum", "needs an `enum` map"),
        (
            "{name: a, table: input, address: 0, type: int16, enum: {0: x}}",
            "enum",
            "only to type 'enum'",
        ),
        ("{name: a, table: input, address: 0, type: string}", "length", "needs `length`"),
        (
            "{name: a, table: input, address: 0, type: int16, length: 2}",
            "length",
            "only to type 'string'",
        ),
        (
            "{name: a, table: input, address: 0, type: enum, enum: {0: x}, scale: 2}",
            "scale",
            "only to numeric types",
        ),
        (
            "{name: a, table: discrete, address: 0, type: bool, offset: 1}",
            "offset",
            "only to numeric types",
        ),
        ("{name: a, table: coil, address: 0, type: bool, order: DCBA}", "order", "does not apply"),
        (
            "{name: a, table: input, address: 0, type: bit, bit: 1, not_available: 1}",
            "not_available",
            "does not apply",
        ),
        (
            "{name: a, table: input, address: 0, type: uint16, not_available: 65536}",
            "not_available",
            "does not fit the 16 bits",
        ),
        (
            "{name: a, table: input, address: 0, type: int16, not_available: -32769}",
            "not_available",
            "does not fit",
        ),
        ("{name: a, table: input, address: 0, type: uint16, scale: 0}", "scale", "other than 0"),
        (
            "{name: a, table: input, address: 65534, type: float64}",
            "address",
            "runs past the last address",
        ),
        (
            "{name: a, table: input, address: 0, type: int16, order: XYZW}",
            "order",
            "Input should be 'ABCD'",
        ),
        (
            "{name: a, table: input, address: 70000, type: int16}",
            "address",
            "less than or equal to 65535",
        ),
        (
            "{name: a, table: input, address: 0, type: int16, poll: sometimes}",
            "poll",
            "'fast', 'normal' or 'slow'",
        ),
        ("{name: a, table: input, address: 0, type: int16, role: gossip}", "role", "'measurement'"),
        (
            "{name: a, table: input, address: 0, type: int16, colour: red}",
            "colour",
            "Extra inputs are not permitted",
        ),
        (
            "{name: a, table: input, address: 0, type: string, length: 126}",
            "length",
            "less than or equal to 125",
        ),
    ],
)
def test_point_errors(tmp_path: Path, point: str, field: str, words: str) -> None:
    path = modbus(tmp_path, f"  - {point}\n")
    msg = error_of(path)
    assert f"{path}:5: point 'a' (points[0]), field {field}: " in msg
    assert words in msg


def test_string_longer_than_the_profiles_read_limit(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "small-reads",
        """
        name: small-reads
        kind: pump
        protocol: modbus
        modbus: {max_registers_per_read: 8}
        points:
          - {name: label, table: holding, address: 0, type: string, length: 10}
        """,
    )
    assert "reads at most 8 at a time" in error_of(path)


def test_duplicate_point_names(tmp_path: Path) -> None:
    path = modbus(
        tmp_path,
        """
          - {name: a, table: input, address: 0, type: int16}
          - {name: a, table: input, address: 1, type: int16}
        """,
    )
    assert (
        "point 'a' (points[1]), field name: point name 'a' is already used by points[0]"
        in error_of(path)
    )


def test_profile_name_must_equal_file_stem(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: a, table: input, address: 0, type: int16}\n", name="x")
    path = path.rename(tmp_path / "y.yaml")
    assert f"{path}:1: field name: profile name 'x' must equal the file name 'y'" in error_of(path)


def test_protocol_must_be_known(tmp_path: Path) -> None:
    path = write(tmp_path, "p", "name: p\nkind: pump\nprotocol: bacnet\npoints: []\n")
    assert f"{path}:3: field protocol: must be 'modbus' or 'mqtt', got 'bacnet'" in error_of(path)


def test_points_are_required(tmp_path: Path) -> None:
    path = write(tmp_path, "p", "name: p\nkind: pump\nprotocol: modbus\npoints: []\n")
    assert "field points: List should have at least 1 item" in error_of(path)


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "p", "name: p\nkind: boiler\nprotocol: modbus\npoints: []\n")
    assert f"{path}:2: field kind: Input should be" in error_of(path)


def test_modbus_options_are_bounded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p",
        """
        name: p
        kind: pump
        protocol: modbus
        modbus: {max_registers_per_read: 200}
        points:
          - {name: a, table: input, address: 0, type: int16}
        """,
    )
    assert (
        f"{path}:4: field modbus.max_registers_per_read: Input should be less than or equal to 125"
        in error_of(path)
    )


def test_mqtt_profile_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lamp",
        """
        name: lamp
        kind: lighting
        protocol: mqtt
        mqtt: {timestamp_path: "meta..t"}
        points:
          - {name: lit, path: state.on, type: bool, scale: 2}
          - {name: level, path: "a..b", type: float}
          - {name: load, path: load, type: double}
        """,
    )
    msg = error_of(path)
    assert (
        "point 'load' (points[2]), field type: Input should be 'bool', 'int', 'float' or 'string'"
        in msg
    )
    path.write_text(path.read_text().replace("type: double", "type: float"))
    msg = error_of(path)
    assert "field mqtt.timestamp_path: path 'meta..t' has an empty segment" in msg
    assert (
        "point 'lit' (points[0]), field scale: `scale` applies only to types int and float" in msg
    )
    assert "point 'level' (points[1]), field path: path 'a..b' has an empty segment" in msg


def test_yaml_booleans_in_names_get_a_hint(tmp_path: Path) -> None:
    path = modbus(tmp_path, "  - {name: on, table: coil, address: 0, type: bool}\n")
    assert "field name: Input should be a valid string (YAML reads unquoted" in error_of(path)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "p", "name: p\nkind: pump\npoints: [\n")
    assert str(path) in error_of(path)


def test_parse_path() -> None:
    assert parse_path("circuits.0.on") == ("circuits", 0, "on")
    assert parse_path("a") == ("a",)
    with pytest.raises(ValueError, match="empty segment"):
        parse_path("a.")


def inventory(profile: str, kind: str = "pump", connection: str = "modbus") -> Inventory:
    conn = (
        {"type": "mqtt", "topic": "vendor/x"}
        if connection == "mqtt"
        else {"type": "modbus_tcp", "host": "127.0.0.1", "port": 5020, "unit": 1}
    )
    return Inventory.model_validate(
        {
            "site": {"id": "s"},
            "buildings": [
                {
                    "id": "b",
                    "equipment": [
                        {"id": "e1", "kind": kind, "profile": profile, "connection": conn}
                    ],
                }
            ],
        }
    )


def test_profile_kind_must_match_the_equipment() -> None:
    with pytest.raises(
        ConfigError,
        match=r"equipment 'e1' \(building 'b'\) has kind 'elevator' but profile "
        r"'plantroom-sim-pump' .* is for kind 'pump'",
    ):
        ProfileLibrary().assign(inventory("plantroom-sim-pump", kind="elevator"))


def test_profile_protocol_must_match_the_connection() -> None:
    with pytest.raises(ConfigError, match="has a mqtt connection but profile 'plantroom-sim-pump'"):
        ProfileLibrary().assign(inventory("plantroom-sim-pump", connection="mqtt"))


def test_missing_profile_names_the_folders_searched(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no profile 'acme-9000': expected acme-9000.yaml in .*profiles"
    ):
        ProfileLibrary(tmp_path).assign(inventory("acme-9000"))


def test_unknown_building_is_an_error() -> None:
    with pytest.raises(ConfigError, match="building\\(s\\) 'nope' not in the inventory"):
        ProfileLibrary().assign(inventory("plantroom-sim-pump"), ["nope"])


def test_site_folder_adds_and_overrides_profiles(tmp_path: Path) -> None:
    flow = "  - {name: flow, table: input, address: 0, type: uint16, unit: m3/h}\n"
    modbus(tmp_path, flow, name="acme-9000")
    modbus(
        tmp_path,
        "  - {name: only, table: input, address: 0, type: uint16, unit: 1}\n",
        name="plantroom-sim-pump",
    )
    lib = ProfileLibrary(tmp_path)
    assert [p.name for p in lib.get("acme-9000")[0].points] == ["flow"]
    assert [p.name for p in lib.get("plantroom-sim-pump")[0].points] == ["only"]
    assert "lumen-lc4" in lib.names()
    assert [a.profile.name for a in lib.assign(inventory("acme-9000"))] == ["acme-9000"]


def test_missing_site_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ProfileLibrary(tmp_path / "nope")


def test_decimals_follow_scale_and_offset() -> None:
    pump, _ = ProfileLibrary().get("plantroom-sim-pump")
    by_name = {p.name: p for p in pump.points}
    assert by_name["speed"].decimals == 0
    assert by_name["current"].decimals == 1
    assert by_name["power"].decimals == 2


def test_command_line_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from plantroom.profiles.__main__ import main

    good = SHIPPED_DIR / "plantroom-sim-pump.yaml"
    bad = modbus(tmp_path, "  - {name: a, table: coil, address: 0, type: int16}\n")
    assert main([str(good)]) == 0
    assert "ok (pump, modbus, 18 points)" in capsys.readouterr().out
    assert main([str(good), str(bad)]) == 1
    assert "must have type 'bool'" in capsys.readouterr().err
    assert main([]) == 2


def test_too_many_points(tmp_path: Path) -> None:
    points = "".join(
        f"  - {{name: p{i}, table: holding, address: {i}, type: int16}}\n" for i in range(1001)
    )
    assert "1001 points; a telemetry message carries at most 1000" in error_of(
        modbus(tmp_path, points)
    )
