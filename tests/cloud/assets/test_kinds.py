"""Register-only kinds: kept apart from the telemetry kinds, routed to the team of their trade,
counted in the fire and lighting indicators, and usable as the kind of a PM plan (with no
meter: they have no telemetry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.assets.kinds import ASSET_KINDS, check_asset_kind, routing_kind
from cloud.kpi.figures import FIRE_KINDS, LIGHTING_KINDS
from cloud.pm.loader import load_plans
from plantroom.errors import ConfigError
from plantroom.kinds import KINDS


def test_asset_kinds_are_not_telemetry_kinds() -> None:
    assert not set(ASSET_KINDS) & set(KINDS)
    assert check_asset_kind("generator").trade.value == "electrical"
    with pytest.raises(ValueError, match="'pump' is a telemetry kind"):
        check_asset_kind("pump")
    with pytest.raises(ValueError, match="'tank' is not an asset kind"):
        check_asset_kind("tank")


def test_a_job_on_an_asset_goes_to_the_team_of_its_trade() -> None:
    assert routing_kind("pump") == "pump"
    assert routing_kind("water_tank") == "pump"  # plumbing
    assert routing_kind("generator") == "lighting"  # electrical
    assert routing_kind("extinguisher") == "fire_panel"  # fire
    assert routing_kind("no-such-kind") is None
    assert routing_kind(None) is None


def test_fire_and_lighting_indicators_count_their_assets() -> None:
    assert {"fire_panel", "extinguisher", "hydrant", "fire_door"} <= FIRE_KINDS
    assert {"lighting", "emergency_light"} <= LIGHTING_KINDS
    assert "generator" not in FIRE_KINDS | LIGHTING_KINDS


def test_the_shipped_plans_cover_assets() -> None:
    kinds = {p.plan.kind for p in load_plans()}
    assert {"generator", "extinguisher", "water_tank"} <= kinds


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            "id: generator.bad\n    kind: generator\n    meter: {point: run_hours, every: 5}",
            "'generator' is a register-only kind, with no telemetry",
        ),
        ("id: tank.bad\n    kind: tank\n    every: 1mo", "'tank' is not a kind of equipment"),
    ],
)
def test_a_plan_on_an_asset_kind_is_checked(tmp_path: Path, plan: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(
        f"plans:\n  - {plan}\n    title: Bad\n    checklist: [x]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=message):
        load_plans(tmp_path)
