"""Rule files: the shipped rules, overrides, and errors that name file, line, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.enums import Priority
from cloud.rules.engine import Change, RuleEngine
from cloud.rules.loader import RuleLibrary, load_rule_set, load_rules
from cloud.rules.model import OutagePolicy
from cloud.sla import load_sla
from plantroom.errors import ConfigError
from plantroom.kinds import Kind
from tests.harness import REPO


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
    bad = write(
        tmp_path,
        "sla.yaml",
        "priorities:\n  emergency: {respond: 10m, resolve: 4h, escalate_every: 5m}\n",
    )
    with pytest.raises(ConfigError, match="no target for priority urgent, normal, low"):
        load_sla(bad)


def test_the_documented_examples_load(tmp_path: Path) -> None:
    doc = (REPO / "docs" / "rules.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith("rules:")]
    assert len(examples) == 3  # the format, and two sets of site rules
    for i, block in enumerate(examples):
        write(tmp_path / str(i), "doc.yaml", block)
        assert load_rules(tmp_path / str(i))


def test_every_rule_has_its_delay_priority_and_severity() -> None:
    rules = load_rule_set().rules
    assert len(rules) >= 30
    for kind in Kind:
        ids = {r.id for r in rules if r.kind is kind}
        assert f"{kind.value}.lost_communication" in ids
    for rule in rules:
        assert rule.description, rule.id
    comm = [r for r in rules if r.outage == "comm_loss"]
    assert {r.kind for r in comm} == set(Kind)
    assert [r.id for r in rules if r.outage == "power_loss"] == ["fire_panel.mains_failure"]


def test_the_outage_policy_is_shipped_and_overridable(tmp_path: Path) -> None:
    assert load_rule_set().outage == OutagePolicy(enabled=True, min_devices=4, window=300)
    write(tmp_path, "outage.yaml", "outage: {min_devices: 10, window: 2m}\n")
    assert load_rule_set(tmp_path).outage == OutagePolicy(min_devices=10, window=120)
    write(tmp_path, "more.yaml", "outage: {enabled: false}\n")
    with pytest.raises(ConfigError, match=r"outage.yaml:1: outage: already given at .*more.yaml:1"):
        load_rule_set(tmp_path)


def test_errors_in_new_parts_name_file_rule_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """rules:
  - id: pump.odd
    kind: pump
    title: odd
    when: {point: run_state, equal: running}
    condition: {point: vibration, trend_above: 1, window: 1d}
    outage: sometimes
    severity: minor
    priority: low
""",
    )
    with pytest.raises(ConfigError) as err:
        load_rules(tmp_path)
    text = str(err.value)
    assert f"{path}:5: rule 'pump.odd': rules.0.when" in text
    assert f"{path}:7: rule 'pump.odd': rules.0.outage:" in text


def test_the_library_sees_files_change(tmp_path: Path) -> None:
    library = RuleLibrary(tmp_path)
    assert library.changed()
    library.load()
    assert not library.changed()
    path = write(
        tmp_path,
        "site.yaml",
        """rules:
  - id: pump.hot
    kind: pump
    title: Hot
    condition: {point: motor_temperature, above: 90}
    severity: major
    priority: urgent
""",
    )
    assert library.changed()
    assert "pump.hot" in library.load().by_id()
    path.write_text("rules: [\n", encoding="utf-8")  # broken: seen once, not again
    assert library.changed()
    with pytest.raises(ConfigError):
        library.load()
    library.mark_seen()
    assert not library.changed()
    path.unlink()
    assert library.changed()


def test_every_shipped_rule_is_documented_with_its_priority() -> None:
    doc = (REPO / "docs" / "rules.md").read_text()
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in doc.splitlines()
        if line.startswith("| `")
    }
    for rule in load_rule_set().rules:
        assert rule.id in rows, rule.id
        cells = [c.strip() for c in rows[rule.id].split("|")]
        assert rule.priority.value in cells and rule.severity.value in cells, rule.id
