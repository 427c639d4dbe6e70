"""The simulators' register maps against the device profiles the edge reads.

The profiles are loaded as plain YAML and decoded here with a decoder of the test's own, so
a drift in either the simulator or the profile fails this test.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
import yaml

from plantroom.kinds import Kind
from plantroom.profiles import SHIPPED_DIR
from simulators.docs import fault_tables, gateway_fault_table, register_tables
from simulators.models import MODELS, ModelContext, create_model
from simulators.registers import BIT_TABLES, DataType, RegisterMap, Table, encode_point
from tests.harness import REPO
from tests.simulators.harness import big_endian_32

PROFILES = SHIPPED_DIR
CASES = [
    ("plantroom-sim-elevator", Kind.ELEVATOR),
    ("plantroom-sim-pump", Kind.PUMP),
    ("plantroom-sim-fire-panel", Kind.FIRE_PANEL),
]
TABLES = {
    "holding": Table.HOLDING,
    "input": Table.INPUT,
    "coil": Table.COIL,
    "discrete": Table.DISCRETE,
}
WIDTHS = {
    "int16": 1,
    "uint16": 1,
    "enum": 1,
    "bit": 1,
    "bool": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
}


def load_profile(name: str) -> dict[str, Any]:
    with (PROFILES / f"{name}.yaml").open() as f:
        data = yaml.safe_load(f)
    assert data["name"] == name
    return data


def sim_map(kind: Kind) -> RegisterMap:
    register_map = MODELS[kind].register_map
    assert register_map is not None
    return register_map


def decode(words: list[int], p: dict[str, Any]) -> Any:
    """Decode register words the way the profile describes them (independent of simulators/)."""
    t = p["type"]
    if t == "bit":
        return bool(words[0] >> p["bit"] & 1)
    raw_na = p.get("not_available")
    if raw_na is not None and words[0] == raw_na and WIDTHS[t] == 1:
        return None
    if len(words) == 2:
        data = big_endian_32(words, p.get("order", "ABCD"))
    else:
        data = b"".join(w.to_bytes(2, "big") for w in words)
    fmt = {
        "int16": ">h",
        "uint16": ">H",
        "enum": ">H",
        "int32": ">i",
        "uint32": ">I",
        "float32": ">f",
    }[t]
    raw = struct.unpack(fmt, data)[0]
    if t == "enum":
        return p["enum"][raw]
    return raw * p.get("scale", 1)


@pytest.mark.parametrize(("profile", "kind"), CASES)
def test_every_profile_point_is_in_the_simulator_map(profile: str, kind: Kind) -> None:
    prof = load_profile(profile)
    assert prof["kind"] == kind.value
    register_map = sim_map(kind)
    assert register_map.name == profile
    for p in prof["points"]:
        sim = register_map.by_name.get(p["name"])
        assert sim is not None, f"{profile}: simulator has no point {p['name']!r}"
        where = f"{profile}:{p['name']}"
        assert sim.table is TABLES[p["table"]], where
        assert sim.address == p["address"], where
        assert sim.type.value == p["type"], where
        assert sim.width == WIDTHS[p["type"]], where
        assert sim.scale == pytest.approx(p.get("scale", 1)), where
        assert sim.not_available == p.get("not_available"), where
        assert sim.bit == p.get("bit"), where
        assert sim.unit == p.get("unit"), where
        if sim.width > 1:
            assert sim.order == p.get("order", "ABCD"), where
        if p["type"] == "enum":
            assert dict(sim.enum or {}) == p["enum"], where


@pytest.mark.parametrize(("profile", "kind"), CASES)
def test_simulator_extras_are_writable_and_clear_of_profile_registers(
    profile: str, kind: Kind
) -> None:
    prof = load_profile(profile)
    used = {
        (TABLES[p["table"]], p["address"] + i)
        for p in prof["points"]
        for i in range(WIDTHS[p["type"]])
    }
    named = {p["name"] for p in prof["points"]}
    for sim in sim_map(kind).points:
        if sim.name in named:
            continue
        assert sim.writable, f"{sim.name} is in the simulator only and not a command"
        assert all((sim.table, r) not in used for r in sim.registers), sim.name


def samples(p: dict[str, Any]) -> list[Any]:
    t, scale = p["type"], p.get("scale", 1)
    if t == "enum":
        return list(p["enum"].values())
    if t in ("bit", "bool"):
        return [False, True]
    if t == "int16":
        return [-1234 * scale, 0, 1 * scale, 32000 * scale]
    if t == "uint16":
        return [0, 1 * scale, 4321 * scale, 65534 * scale]
    if t == "uint32":
        return [0, 1 * scale, 70_000 * scale, (2**32 - 1) * scale]
    if t == "int32":
        return [-(2**31) * scale, -5 * scale, 123_456 * scale]
    return [0.0, 1.5, -273.25, 12345.678, 3.0e9]


@pytest.mark.parametrize(("profile", "kind"), CASES)
def test_values_encode_the_way_the_profile_decodes_them(profile: str, kind: Kind) -> None:
    register_map = sim_map(kind)
    for p in load_profile(profile)["points"]:
        sim = register_map.by_name[p["name"]]
        if sim.table in BIT_TABLES:
            continue
        for value in samples(p):
            got = decode(encode_point(sim, value), p)
            if isinstance(value, float) and p["type"] == "float32":
                assert got == pytest.approx(value, rel=1e-6), p["name"]
            elif isinstance(value, float):
                assert got == pytest.approx(value, abs=p.get("scale", 1) / 2), p["name"]
            else:
                assert got == value, p["name"]
        if "not_available" in p:
            assert encode_point(sim, None) == [p["not_available"]]
            assert decode(encode_point(sim, None), p) is None


def read_point(
    image_regs: dict[Table, list[int]], image_bits: dict[Table, list[bool]], p: dict[str, Any]
) -> Any:
    table = TABLES[p["table"]]
    if table in BIT_TABLES:
        return image_bits[table][p["address"]]
    words = image_regs[table][p["address"] : p["address"] + WIDTHS[p["type"]]]
    return decode(words, p)


@pytest.mark.parametrize(
    ("profile", "kind", "tags"),
    [
        *((profile, kind, {}) for profile, kind in CASES),
        ("plantroom-sim-pump", Kind.PUMP, {"system": "sump"}),
    ],
)
def test_a_running_device_image_decodes_to_its_model_values(
    profile: str, kind: Kind, tags: dict[str, str]
) -> None:
    model = create_model(kind, ModelContext("dev-1", seed=7, floors=20, tags=tags))
    model.advance(3 * 3600)
    values = model.values()
    image = sim_map(kind).encode(values)
    for p in load_profile(profile)["points"]:
        got = read_point(image.registers, image.bits, p)
        want = values[p["name"]]
        if want is None or isinstance(want, bool | str):
            assert got == want, p["name"]
        elif p["type"] == "float32":
            assert got == pytest.approx(want, rel=1e-6), p["name"]
        else:
            assert math.isclose(got, want, abs_tol=p.get("scale", 1) / 2 + 1e-9), p["name"]


def test_a_booster_reports_its_missing_level_sensor_as_not_available() -> None:
    model = create_model(Kind.PUMP, ModelContext("booster", tags={"system": "domestic-water"}))
    image = sim_map(Kind.PUMP).encode(model.values())
    assert image.registers[Table.INPUT][8] == 0xFFFF


def test_the_bit_points_share_one_status_word() -> None:
    register_map = sim_map(Kind.FIRE_PANEL)
    bits = [p for p in register_map.points if p.type is DataType.BIT]
    assert {p.address for p in bits} == {11}
    assert sorted(p.bit for p in bits if p.bit is not None) == list(range(6))


def test_the_readme_documents_the_maps_and_faults_as_served() -> None:
    readme = (REPO / "simulators" / "README.md").read_text()
    for name, table in register_tables().items():
        assert f"### `{name}`\n\n{table}\n" in readme, f"README map of {name} is out of date"
    for kind, table in fault_tables().items():
        assert f"### {kind}\n\n{table}\n" in readme, f"README faults of {kind} are out of date"
    gateway = readme.split("### gateway\n", 1)[-1]
    assert f"\n{gateway_fault_table()}\n" in gateway, "README gateway faults are out of date"
