"""The site check's rules and PM plans: what can never fire, never clear or never fall due
when a profile lacks a point (an absent point: a condition on it is false)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cloud.rules.loader import SHIPPED
from cloud.rules.model import Rule
from cloud.sitecheck import (
    PM_METER_MISSING,
    RULE_NEVER_CLEARS,
    RULE_NEVER_FIRES,
    cloud_findings,
    reach,
    rule_outcome,
)
from plantroom.sitecheck import Finding, load_site
from tests.harness import DATA, REPO

CHECK = DATA / "check"
SITE = CHECK / "site.yaml"
PROFILES = CHECK / "profiles"
RULES = CHECK / "rules"


def _rule(condition: object, **more: object) -> Rule:
    return Rule.model_validate(
        {
            "id": "pump.t",
            "kind": "pump",
            "title": "t",
            "condition": condition,
            "severity": "major",
            "priority": "urgent",
            **more,
        }
    )


def _x1(found: list[Finding], code: str) -> list[Finding]:
    return [f for f in found if f.code == code and f.equipment == "pump-x1"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"point": "a", "is": True}, (True, True)),
        ({"point": "gone", "is": True}, (False, True)),
        ({"point": "gone", "is": False}, (False, True)),
        ({"any": [{"point": "a", "is": True}, {"point": "gone", "is": True}]}, (True, True)),
        ({"any": [{"point": "gone", "is": True}, {"point": "gone", "above": 1}]}, (False, True)),
        ({"all": [{"point": "a", "is": True}, {"point": "gone", "is": True}]}, (False, True)),
        ({"all": [{"stale": "5m"}, {"point": "a", "above": 1}]}, (True, True)),
        (
            {
                "any": [
                    {"all": [{"point": "gone", "is": True}, {"point": "a", "is": True}]},
                    {"point": "a", "below": 1},
                ]
            },
            (True, True),
        ),
    ],
)
def test_reach_of_conditions_on_a_missing_point(
    condition: object, expected: tuple[bool, bool]
) -> None:
    assert reach(_rule(condition).condition, frozenset({"a"})) == expected


def test_a_when_or_clear_when_on_a_missing_point() -> None:
    point = {"point": "a", "is": True}
    gone = {"point": "gone", "is": True}
    provided = frozenset({"a"})
    assert rule_outcome(_rule(point, when=gone), provided) == (False, False)
    assert rule_outcome(_rule(point, clear_when=gone), provided) == (True, False)
    assert rule_outcome(_rule(point, clear_when=point), provided) == (True, True)
    # an `any` with a part on a missing point clears on its other parts
    assert rule_outcome(_rule({"any": [point, gone]}), provided) == (True, True)


def test_rules_that_read_a_point_no_profile_provides_never_fire() -> None:
    found = cloud_findings(load_site(SITE, PROFILES), None, None)
    (f,) = _x1(found, RULE_NEVER_FIRES)
    assert f.severity == "warning" and f.where == f"{SITE}:6"
    assert f.message.startswith("pump-x1: rules pump.dry_run, pump.low_pressure, ")
    assert "can never fire (points dry_run, " in f.message
    assert "not provided by profile acme-booster" in f.message
    assert f"{SHIPPED / 'pump.yaml'}:4" in f.related  # where pump.dry_run is
    # the simulator's pump profile provides every point the shipped pump rules read
    assert [g for g in found if g.equipment == "pump-x2"] == []


def test_a_site_rule_whose_clear_when_reads_a_missing_point_never_clears_and_is_an_error() -> None:
    found = cloud_findings(load_site(SITE, PROFILES), RULES, None)
    by_rule = {f.message.split()[2]: f for f in _x1(found, RULE_NEVER_CLEARS)}
    site_rule = by_rule["pump.dry_running_reset"]
    assert (site_rule.severity, site_rule.where) == ("error", f"{SITE}:6")
    assert site_rule.related == (f"{RULES / 'site.yaml'}:12",)
    assert "point dry_run not provided by profile acme-booster" in site_rule.message
    assert "its clear_when can never be true" in site_rule.message
    # an `any` that reads a missing point clears on its other parts: no finding (issue 16)
    assert set(by_rule) == {"pump.dry_running_reset"}
    never = " ".join(f.message for f in _x1(found, RULE_NEVER_FIRES))
    assert "pump.dry_running_any" not in never


def test_the_demo_fire_panel_gateway_clears_its_fire_alarm() -> None:
    """The annex's Notifier gateway provides fire_alarm and zone_disabled but no zones: the
    shipped fire rules that read both can fire and clear."""
    found = cloud_findings(load_site(REPO / "sites" / "demo.yaml", None), None, None)
    assert [f for f in found if f.code == RULE_NEVER_CLEARS] == []
    (never,) = [f for f in found if f.code == RULE_NEVER_FIRES and f.equipment == "fire-r1"]
    assert "fire_panel.fire_alarm" not in never.message
    assert "fire_panel.zone_disabled" not in never.message
    assert "fire_panel.trouble" in never.message  # its `all` reads mains_ok and battery_ok


def test_a_pm_meter_on_a_missing_point_never_falls_due(tmp_path: Path) -> None:
    doc = yaml.safe_load(SITE.read_text())
    doc["buildings"][0]["equipment"].append(
        {
            "id": "lights-1",
            "kind": "lighting",
            "profile": "lumen-lc4",
            "connection": {"type": "mqtt", "topic": "vendor/lights-1"},
        }
    )
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(doc), encoding="utf-8")
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "pump.yaml").write_text(
        "plans:\n"
        "  - id: pump.seal_check\n"
        "    kind: pump\n"
        "    title: Seal check\n"
        "    meter: {point: starts, every: 10000}\n"
        "    checklist: [Check the seal]\n",
        encoding="utf-8",
    )
    found = cloud_findings(load_site(site, PROFILES), None, plans)
    (f,) = [f for f in found if f.code == PM_METER_MISSING]
    assert f.equipment == "pump-x1" and f.severity == "warning"
    assert "PM plan pump.seal_check: its meter never falls due (point starts" in f.message
    assert f.related == (f"{plans / 'pump.yaml'}:2",)


def test_a_derived_point_feeds_the_rules_that_read_it(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    text = (PROFILES / "acme-booster.yaml").read_text(encoding="utf-8")
    derived = "  - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}\n"
    (profiles / "acme-booster.yaml").write_text(text.rstrip("\n") + "\n" + derived, "utf-8")
    found = cloud_findings(load_site(SITE, profiles), None, None)
    (f,) = _x1(found, RULE_NEVER_FIRES)
    assert "pump.dry_run" not in f.message and "dry_run," not in f.message
    assert "pump.low_pressure" in f.message  # still not provided
