"""The contract part of the site check: overlapping registers, equipment sharing a unit, and
the start-up gate every process runs (`enforce`)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from plantroom.canonical import canonical_points
from plantroom.errors import ConfigError
from plantroom.sitecheck import (
    CANONICAL_COVERAGE as COVERAGE,
)
from plantroom.sitecheck import (
    FRAMING_MIXED,
    INVENTORY_INVALID,
    PROFILE_INVALID,
    REGISTER_OVERLAP,
    SERIAL_SETTINGS_MIXED,
    UNIT_SHARED,
    Finding,
    check_inventory,
    enforce,
)
from tests.harness import DATA

CHECK = DATA / "check"
PROFILES = CHECK / "profiles"


def _site(tmp_path: Path, equipment: list[dict[str, object]]) -> Path:
    path = tmp_path / "site.yaml"
    doc = {"site": {"id": "s1"}, "buildings": [{"id": "b1", "equipment": equipment}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _pump(eq_id: str, connection: dict[str, object], profile: str = "plantroom-sim-pump") -> dict:
    return {"id": eq_id, "kind": "pump", "profile": profile, "connection": connection}


def _profile(tmp_path: Path, points: list[str]) -> Path:
    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    body = "\n".join(f"  - {p}" for p in points)
    (folder / "p1.yaml").write_text(
        f"name: p1\nkind: pump\nprotocol: modbus\npoints:\n{body}\n", encoding="utf-8"
    )
    return folder


def _codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_a_point_on_the_low_word_of_a_counter_overlaps_it() -> None:
    found = check_inventory(CHECK / "site.yaml", PROFILES)
    overlaps = [f for f in found if f.code == REGISTER_OVERLAP]
    assert len(overlaps) == 1
    (f,) = overlaps
    assert f.severity == "error"
    assert f.where == f"{PROFILES / 'acme-booster.yaml'}:11"
    assert f.related == (f"{PROFILES / 'acme-booster.yaml'}:10",)
    assert "'speed' (holding 3) overlaps point 'run_hours' (holding 2..3)" in f.message


def test_bits_of_a_status_word_do_not_overlap_but_the_same_bit_twice_does(
    tmp_path: Path,
) -> None:
    folder = _profile(
        tmp_path,
        [
            "{name: word, table: input, address: 20, type: uint16, role: state}",
            "{name: a, table: input, address: 20, type: bit, bit: 3}",
            "{name: b, table: input, address: 20, type: bit, bit: 4}",
            "{name: c, table: input, address: 20, type: bit, bit: 3}",
            "{name: d, table: discrete, address: 20, type: bool}",
        ],
    )
    site = _site(tmp_path, [_pump("p", {"type": "modbus_tcp", "host": "h"}, "p1")])
    found = [f for f in check_inventory(site, folder) if f.code != COVERAGE]
    assert _codes(found) == [REGISTER_OVERLAP]
    assert found[0].where == f"{folder / 'p1.yaml'}:8"  # point c
    assert found[0].related == (f"{folder / 'p1.yaml'}:6",)  # point a


def test_two_pieces_of_equipment_on_one_host_port_and_unit() -> None:
    found = check_inventory(CHECK / "site.yaml", PROFILES)
    shared = [f for f in found if f.code == UNIT_SHARED]
    assert [(f.where, f.related, f.equipment) for f in shared] == [
        (f"{CHECK / 'site.yaml'}:9", (f"{CHECK / 'site.yaml'}:7",), "pump-x2")
    ]
    assert "'pump-x2' and 'pump-x1' both use unit 7 on 10.0.0.5:502" in shared[0].message


def test_serial_lines_share_units_and_settings(tmp_path: Path) -> None:
    serial = {"type": "modbus_rtu", "device": "/dev/ttyUSB0", "unit": 3}
    site = _site(
        tmp_path,
        [
            _pump("p1", serial),
            _pump("p2", {**serial, "baudrate": 19200}),
            _pump("p3", {**serial, "unit": 4}),
        ],
    )
    found = check_inventory(site, profiles=False)
    assert _codes(found) == [UNIT_SHARED, SERIAL_SETTINGS_MIXED]
    assert "serial port /dev/ttyUSB0" in found[0].message
    assert "9600 8N1" in found[1].message and "19200 8N1" in found[1].message


def test_one_port_speaks_one_framing(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        [
            _pump("p1", {"type": "modbus_tcp", "host": "gw", "port": 4001, "unit": 1}),
            _pump("p2", {"type": "modbus_rtu_over_tcp", "host": "GW", "port": 4001, "unit": 2}),
            _pump("p3", {"type": "modbus_tcp", "host": "gw", "port": 4002, "unit": 1}),
        ],
    )
    found = check_inventory(site, profiles=False)
    assert _codes(found) == [FRAMING_MIXED]
    # each connection's place is the line its mapping starts on, under `connection:`
    text = site.read_text().splitlines()
    lines = [n + 1 for n, line in enumerate(text, 1) if "connection:" in line]
    assert (found[0].where, found[0].related) == (f"{site}:{lines[1]}", (f"{site}:{lines[0]}",))


def test_a_profile_or_inventory_that_does_not_load_is_an_error_finding(tmp_path: Path) -> None:
    site = _site(tmp_path, [_pump("p1", {"type": "modbus_tcp", "host": "h"}, "no-such")])
    (f,) = check_inventory(site)
    assert (f.code, f.severity) == (PROFILE_INVALID, "error")
    line = 1 + next(n for n, t in enumerate(site.read_text().splitlines()) if "profile:" in t)
    assert f.where == f"{site}:{line}" and "no profile 'no-such'" in f.message
    site.write_text("site: {id: s1}\nbuildings: []\n", encoding="utf-8")
    (f,) = check_inventory(site)
    assert f.code == INVENTORY_INVALID and f.where == f"{site}:2"


def test_enforce_logs_warnings_and_stops_on_errors(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.sitecheck")
    warning = Finding("warning", "w", "a.yaml:1", "just so")
    with caplog.at_level(logging.WARNING):
        enforce([warning], log)
    assert caplog.messages == ["site check: a.yaml:1: warning [w] just so"]
    error = Finding("error", "e", "b.yaml:2", "not so", related=("c.yaml:3",))
    with pytest.raises(ConfigError, match=r"1 error\(s\)") as info:
        enforce([warning, error], log)
    assert "b.yaml:2: error [e] not so\n    see c.yaml:3" in str(info.value)


def test_the_shipped_demo_site_passes() -> None:
    from plantroom.inventory import load_inventory
    from tests.harness import REPO

    findings = check_inventory(REPO / "sites" / "demo.yaml")
    assert [f for f in findings if f.severity == "error"] == []
    # only the annex's real equipment lacks canonical points (docs/profile-library.md); the
    # towers' simulator profiles provide every point the rules, plans and dashboards read
    [annex] = [b for b in load_inventory(REPO / "sites" / "demo.yaml").buildings if b.id == "annex"]
    real = {e.id for e in annex.equipment}
    assert findings and {f.equipment for f in findings} <= real


def test_canonical_coverage_per_equipment() -> None:
    found = [f for f in check_inventory(CHECK / "site.yaml", PROFILES) if f.code == COVERAGE]
    (f,) = found  # pump-x2's simulator profile provides every canonical pump point
    assert (f.severity, f.where, f.equipment) == ("warning", f"{CHECK / 'site.yaml'}:6", "pump-x1")
    total = len(canonical_points("pump"))
    assert f.message.startswith(f"pump-x1 (acme-booster) provides 4 of {total} canonical pump")
    assert "missing: current, dry_run, flow, " in f.message
