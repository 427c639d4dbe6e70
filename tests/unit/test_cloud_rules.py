"""Rule files: the shipped rules, overrides, and errors that name file, line, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.enums import Priority
from cloud.rules.engine import Change, RuleEngine
from cloud.rules.loader import load_rules
from cloud.sla import load_sla
from plantroom.errors import ConfigError
from plantroom.kinds import Kind


def test_shipped_rules_cover_every_kind() -> None:
    rules = {r.id: r for r in load_rules()}
    expected = {
        "pump.dry_run": Priority.URGENT,
        "elevator.passenger_trapped": Priority.EMERGENCY,
        "fire_panel.fire_alarm": Priority.EMERGENCY,
        "lighting.circuit_tripped": Priority.NORMAL,
    }
    for rule_id, priority in expected.items():
        assert rules[rule_id].priority is priority
    assert {r.kind for r in rules.values()} == set(Kind)


@pytest.mark.parametrize(
    ("kind", "values"),
    [
        ("pump", {"dry_run": True}),
        ("elevator", {"passenger_trapped": True}),
        ("fire_panel", {"fire_alarm": True}),
        ("lighting", {"circuit_4_tripped": True}),
    ],
)
def test_each_shipped_rule_fires_on_its_fault(kind: str, values: dict[str, bool]) -> None:
    engine = RuleEngine(load_rules(), clock=lambda: 0.0)
    engine.track("x", kind)
    out = engine.observe("x", values)
    assert [t.change for t in out] == [Change.RAISED]
    assert out[0].rule.kind.value == kind


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_folder_overrides_disables_and_adds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "site.yaml",
        """
rules:
  - id: pump.dry_run
    kind: pump
    title: Dry run (site)
    condition: {point: dry_run, is: true}
    for: 10s
    severity: critical
    priority: emergency
  - id: lighting.circuit_tripped
    kind: lighting
    title: Switched off
    condition: {point: circuit_1_tripped, is: true}
    severity: minor
    priority: low
    enabled: false
  - id: pump.high_pressure
    kind: pump
    title: Discharge pressure high
    condition: {point: discharge_pressure, above: 6.5, clear_below: 6.0}
    for: 1m
    severity: major
    priority: urgent
""",
    )
    rules = {r.id: r for r in load_rules(tmp_path)}
    assert rules["pump.dry_run"].for_ == 10.0
    assert rules["pump.dry_run"].priority is Priority.EMERGENCY
    assert "lighting.circuit_tripped" not in rules
    assert rules["pump.high_pressure"].for_ == 60.0
    assert "elevator.passenger_trapped" in rules


def test_errors_name_file_line_rule_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """rules:
  - id: pump.ok
    kind: pump
    title: fine
    condition: {point: dry_run, is: true}
    severity: major
    priority: urgent
  - id: pump.bad
    kind: pump
    title: bad
    condition: {point: dry_run, is: true}
    for: soon
    severity: major
    priority: whenever
""",
    )
    with pytest.raises(ConfigError) as err:
        load_rules(tmp_path)
    text = str(err.value)
    assert f"{path}:12: rule 'pump.bad': rules.1.for:" in text
    assert "not a duration" in text
    assert f"{path}:14: rule 'pump.bad': rules.1.priority:" in text


def test_rule_id_must_name_its_kind(tmp_path: Path) -> None:
    write(
        tmp_path,
        "r.yaml",
        """rules:
  - id: elevator.dry_run
    kind: pump
    title: wrong
    condition: {point: dry_run, is: true}
    severity: major
    priority: urgent
""",
    )
    with pytest.raises(ConfigError, match=r"must start with its kind: pump\.<name>"):
        load_rules(tmp_path)


def test_duplicate_ids_in_one_folder_are_refused(tmp_path: Path) -> None:
    rule = """rules:
  - id: pump.twice
    kind: pump
    title: twice
    condition: {point: dry_run, is: true}
    severity: major
    priority: urgent
"""
    write(tmp_path, "a.yaml", rule)
    second = write(tmp_path, "b.yaml", rule)
    with pytest.raises(ConfigError, match=rf"{second}:2: rule 'pump.twice' is already defined"):
        load_rules(tmp_path)


def test_missing_folder_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rules(tmp_path / "nope")
    write(tmp_path, "broken.yaml", "rules: [\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_rules(tmp_path)


def test_sla_targets_cover_every_priority(tmp_path: Path) -> None:
    sla = load_sla()
    assert set(sla.priorities) == set(Priority)
    emergency = sla.priorities[Priority.EMERGENCY]
    low = sla.priorities[Priority.LOW]
    assert emergency.respond < low.respond
    assert low.resolve <= 7 * 86400  # never more than a week
    bad = write(tmp_path, "sla.yaml", "priorities:\n  emergency: {respond: 10m, resolve: 4h}\n")
    with pytest.raises(ConfigError, match="no target for priority urgent, normal, low"):
        load_sla(bad)


def test_the_documented_examples_load(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith("rules:")]
    assert len(examples) == 2
    for i, block in enumerate(examples):
        write(tmp_path / str(i), "doc.yaml", block)
        assert load_rules(tmp_path / str(i))
