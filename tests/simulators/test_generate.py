"""Generated sites: a large inventory that loads, uses the shipped profiles, fits the ports."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from plantroom.inventory import ModbusTcp, Mqtt, load_inventory
from plantroom.profiles import shipped_profiles
from plantroom.settings import SimSettings
from simulators.cli import register
from simulators.generate import generate_site, generated_ports
from simulators.runner import Simulation

PROFILES = set(shipped_profiles())


def test_a_thousand_device_site(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(generate_site(10, 25, 30000, site="big"))
    inv = load_inventory(path)
    assert inv.site.id == "big" and len(inv.buildings) == 10
    devices = [e for _, e in inv.equipment()]
    assert len(devices) == 1000
    assert Counter(e.kind.value for e in devices) == dict.fromkeys(
        ("elevator", "pump", "fire_panel", "lighting"), 250
    )
    assert {e.profile for e in devices} <= PROFILES
    ports: dict[int, set[int]] = {}
    for building, e in inv.equipment():
        if isinstance(e.connection, ModbusTcp):
            units = ports.setdefault(e.connection.port, set())
            assert e.connection.unit not in units and 1 <= e.connection.unit <= 247
            units.add(e.connection.unit)
            assert e.connection.port == 30000 + int(building.id[1:]) - 1  # one gateway each
        else:
            assert isinstance(e.connection, Mqtt)
            assert e.connection.topic.startswith(f"lumen/big-{building.id}-lc")
    assert sorted(ports) == list(range(30000, 30010)) and generated_ports(10, 25) == 10
    tags = Counter(e.tags.get("system") for e in devices if e.kind.value == "pump")
    assert tags == {"domestic-water": 130, "sump": 120}


def test_a_building_too_big_for_one_gateway_spills_onto_the_next_port(tmp_path: Path) -> None:
    path = tmp_path / "dense.yaml"
    path.write_text(generate_site(2, 100, 40000))
    inv = load_inventory(path)
    per_port = Counter(
        e.connection.port for _, e in inv.equipment() if isinstance(e.connection, ModbusTcp)
    )
    assert per_port == {40000: 247, 40001: 53, 40002: 247, 40003: 53}
    assert generated_ports(2, 100) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 5, 20000), "buildings must be at least 1"),
        ((2, 0, 20000), "per_kind must be at least 1"),
        ((300, 100, 65000), r"ports 65000..65599 do not fit"),
    ],
)
def test_bad_arguments_are_named(args: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_site(*args)


def test_a_thousand_devices_simulate_together(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(generate_site(10, 25, 30000))
    sim = Simulation(load_inventory(path), SimSettings(), control=False, start_time=1.8e9)
    assert len(sim.devices) == 1000 and len(sim.services) == 10 and not sim.skipped
    assert sum(len(units) for units in sim.gateways.values()) == 750
    assert len(sim.lighting) == 250
    for _ in range(20):
        sim.advance(0.1)
    assert all(m.now == pytest.approx(1.8e9 + 2.0, abs=1e-3) for m in sim.models.values())


def test_the_generate_site_command(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    out = tmp_path / "cli" / "site.yaml"
    result = CliRunner().invoke(
        app, ["generate-site", "--buildings", "2", "--per-kind", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(list(load_inventory(out).equipment())) == 24
    result = CliRunner().invoke(app, ["generate-site", "-b", "1", "-k", "1", "--site", "s1"])
    assert result.exit_code == 0 and "id: s1" in result.output
    result = CliRunner().invoke(
        app, ["generate-site", "-b", "300", "-k", "100", "--base-port", "65000"]
    )
    assert result.exit_code == 2 and "do not fit in 1..65535" in result.output
