"""`plantroom check` on a site with the mistakes of issue 16: exit status and JSON, and every
process refusing to start on the same site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloud.main import run as run_cloud
from edge.agent import run as run_edge
from gateway.service import run as run_gateway
from plantroom.errors import ConfigError
from plantroom.ports import free_port
from plantroom.settings import CloudSettings, EdgeSettings, GatewaySettings, SimSettings
from simulators.runner import run as run_sim
from stack.check import run_check
from stack.check.dashboards import DASHBOARD_POINT_MISSING
from stack.cli import app
from tests.harness import DATA, REPO

CHECK = DATA / "check"
SITE = CHECK / "site.yaml"
PROFILES = CHECK / "profiles"
RULES = CHECK / "rules"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", *args])
    return result.exit_code, result.output


def test_errors_exit_2_with_every_finding_in_json() -> None:
    code, out = _cli(
        "-i", str(SITE), "--profiles-dir", str(PROFILES), "--rules-dir", str(RULES), "--json"
    )
    assert code == 2
    doc = json.loads(out)
    assert doc["exit_code"] == 2 and doc["probe"] is None
    codes = {(f["code"], f["severity"]) for f in doc["findings"]}
    assert {
        ("unit-shared", "error"),
        ("register-overlap", "error"),
        ("rule-never-clears", "error"),
        ("rule-never-fires", "warning"),
        ("dashboard-point-missing", "warning"),
    } <= codes
    assert doc["errors"] == sum(f["severity"] == "error" for f in doc["findings"])


def test_warnings_only_exit_0_or_1_when_strict_and_a_clean_site_0(tmp_path: Path) -> None:
    single = tmp_path / "site.yaml"
    single.write_text(
        "\n".join(SITE.read_text().splitlines()[:7]) + "\n", encoding="utf-8"
    )  # pump-x1 alone
    profile = tmp_path / "profiles" / "acme-booster.yaml"
    profile.parent.mkdir()
    lines = (PROFILES / "acme-booster.yaml").read_text().splitlines()
    profile.write_text("\n".join(lines[:10] + lines[11:]) + "\n", encoding="utf-8")  # no speed
    code, out = _cli("-i", str(single), "--profiles-dir", str(profile.parent))
    assert code == 0, out
    assert "0 error(s)" in out and f"{single}:6: warning [rule-never-fires] pump-x1" in out
    code, out = _cli("-i", str(single), "--profiles", str(profile.parent), "--strict")
    assert code == 1, out
    clean = tmp_path / "clean.yaml"
    lines = SITE.read_text().splitlines()
    clean.write_text("\n".join(lines[:5] + lines[7:9]) + "\n", encoding="utf-8")  # pump-x2
    code, out = _cli("-i", str(clean))
    assert (code, out.strip()) == (0, "0 error(s), 0 warning(s)")


def test_the_demo_site_has_no_error_and_no_alarm_that_never_clears() -> None:
    """The demo's annex of real equipment lacks points some rules read (warnings), but a
    rule whose `any` reads a missing point clears on its other parts (issue 16)."""
    code, out = _cli("-i", str(REPO / "sites" / "demo.yaml"), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["errors"] == 0
    assert [f for f in doc["findings"] if f["code"] == "rule-never-clears"] == []


def test_dashboards_reading_points_the_profile_lacks() -> None:
    report = run_check(SITE, profiles_dir=PROFILES)
    found = [f for f in report.findings if f.code == DASHBOARD_POINT_MISSING]
    pumps = next(f for f in found if "plantroom-pumps" in f.message)
    assert pumps.where == f"{SITE}:6" and pumps.equipment == "pump-x1"
    assert "discharge_pressure" not in pumps.message  # the profile provides that one
    assert "dry_run" in pumps.message and "flow" in pumps.message


def test_every_process_refuses_to_start_on_a_site_with_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[unit-shared\]") as edge:
        run_edge(
            EdgeSettings(
                inventory=SITE,
                edge_profiles_dir=PROFILES,
                edge_buffer_path=tmp_path / "edge.sqlite",
            )
        )
    assert "[register-overlap]" in str(edge.value)
    assert not (tmp_path / "edge.sqlite").exists()
    with pytest.raises(ConfigError, match=r"\[unit-shared\]"):
        run_gateway(GatewaySettings(inventory=SITE, gateway_buffer_dir=tmp_path / "gw"))
    with pytest.raises(ConfigError, match=r"\[unit-shared\]"):
        run_sim(SimSettings(inventory=SITE, sim_control_port=free_port()))
    with pytest.raises(ConfigError, match=r"\[rule-never-clears\] pump-x1: rule pump.dry_"):
        run_cloud(
            CloudSettings(
                inventory=SITE,
                profiles_dir=PROFILES,
                rules_dir=RULES,
                database_url=f"sqlite:///{tmp_path}/cloud.sqlite",
                api_port=free_port(),
            )
        )
    assert not (tmp_path / "cloud.sqlite").exists()
