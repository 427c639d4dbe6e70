"""The canonical points table is exactly what the shipped rules, PM plans and dashboards read,
docs/points.md is generated from it, and the simulator profiles provide every canonical point."""

from __future__ import annotations

from collections import defaultdict

import pytest

from cloud.pm.loader import load_plans
from cloud.rules.conditions import AllOf, AnyOf, State
from cloud.rules.loader import load_rules
from dashboards.boards import fire_panels, lifts, lighting, portfolio, pumps
from dashboards.profiles import FieldSet, PointSpec, load_points
from plantroom import pointsdoc
from plantroom.canonical import CANONICAL, canonical_point, canonical_points
from plantroom.kinds import KINDS
from plantroom.profiles import SHIPPED_DIR, ModbusPoint, load_profile
from plantroom.profiles.units import check_unit, conversion
from tests.harness import REPO

# The profiles the simulators serve: together they are the reference devices of each kind.
SIMULATOR_PROFILES = {
    "elevator": "plantroom-sim-elevator",
    "pump": "plantroom-sim-pump",
    "fire_panel": "plantroom-sim-fire-panel",
    "lighting": "lumen-lc4",
}
# each board's uid and how it is built from the kinds' fields
BOARDS = (
    (portfolio.UID, portfolio.build),
    *((m.SPEC.uid, m.SPEC.build) for m in (lifts, pumps, fire_panels, lighting)),
)


class _Recording(FieldSet):
    """A dashboard field set that notes every field a board asks for."""

    def __init__(self, inner: FieldSet, board: str, seen: dict[tuple[str, str], set[str]]):
        super().__init__(inner.measurement, inner.points, inner.sources)
        self.board = board
        self.seen = seen

    def spec(self, name: str) -> PointSpec:
        self.seen[(self.measurement, name)].add(f"dashboard {self.board}")
        return super().spec(name)

    def numbered(self, pattern: str) -> list[int]:
        found = super().numbered(pattern)
        for n in found:
            self.spec(pattern.replace("{n}", str(n)))
        return found


def _readers() -> dict[tuple[str, str], set[str]]:
    """(kind, point) → who reads it, found by loading the shipped rules, plans and boards."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rule in load_rules():
        for condition in rule.conditions():
            for point in condition.points():
                seen[(rule.kind.value, point)].add(f"rule {rule.id}")
    for plan in load_plans():
        if plan.plan.meter is not None:
            for point in plan.plan.meter.points:
                seen[(plan.plan.kind, point)].add(f"pm {plan.id}")
    fields = load_points()
    for uid, build in BOARDS:
        build({k: _Recording(v, uid, seen) for k, v in fields.items()})
    return {key: readers for key, readers in seen.items() if key[0] in KINDS}


def test_docs_points_page_is_current() -> None:
    page = REPO / pointsdoc.DOC_PATH
    assert page.is_file(), f"{pointsdoc.DOC_PATH} is missing: run `{pointsdoc.COMMAND}`"
    if page.read_text(encoding="utf-8") != pointsdoc.render():
        pytest.fail(
            f"{pointsdoc.DOC_PATH} is out of date with plantroom/canonical.py: "
            f"run `{pointsdoc.COMMAND}` from the repository root and commit the result"
        )


def test_every_point_read_is_canonical_with_its_readers() -> None:
    readers = _readers()
    table = {
        (kind, name): set(point.readers)
        for kind, points in CANONICAL.items()
        for name, point in points.items()
    }
    missing = sorted(
        f"{k}.{n} (read by {', '.join(sorted(r))})"
        for (k, n), r in readers.items()
        if (k, n) not in table
    )
    assert not missing, f"read but not in plantroom/canonical.py: {missing}"
    unread = sorted(f"{k}.{n}" for k, n in table.keys() - readers.keys())
    assert not unread, f"canonical but read by nothing: {unread}"
    wrong = {
        f"{k}.{n}": (sorted(table[(k, n)]), sorted(r))
        for (k, n), r in readers.items()
        if table[(k, n)] != r
    }
    assert not wrong, f"readers differ (table, found): {wrong}"


def test_enum_labels_cover_what_the_rules_compare() -> None:
    for rule in load_rules():
        stack = list(rule.conditions())
        while stack:
            condition = stack.pop()
            if isinstance(condition, AnyOf):
                stack.extend(condition.any)
            elif isinstance(condition, AllOf):
                stack.extend(condition.all)
            if isinstance(condition, State):
                point = canonical_point(rule.kind.value, condition.point)
                assert point is not None and point.type == "enum", (rule.id, condition.point)
                compared = {
                    str(v)
                    for v in ([condition.equals] if condition.equals is not None else [])
                    + (condition.in_ or [])
                    + (condition.not_in or [])
                }
                assert compared <= set(point.labels), (
                    rule.id,
                    sorted(compared - set(point.labels)),
                )


@pytest.mark.parametrize("kind", sorted(SIMULATOR_PROFILES))
def test_simulator_profiles_provide_every_canonical_point(kind: str) -> None:
    profile = load_profile(SHIPPED_DIR / f"{SIMULATOR_PROFILES[kind]}.yaml")
    provided = {point.name: point for point in profile.points}
    missing = sorted(set(canonical_points(kind)) - set(provided))
    assert not missing, f"{profile.name} lacks canonical points {missing}"
    for name, canonical in canonical_points(kind).items():
        point = provided[name]
        assert point.value_type == canonical.type or (
            canonical.type == "counter" and point.value_type == "number"
        ), (name, point.value_type, canonical.type)
        if canonical.numeric:  # the simulators speak the canonical units: nothing to convert
            assert point.unit == canonical.unit, (name, point.unit, canonical.unit)
        if canonical.type == "enum":
            labels = (
                set(point.enum.values()) if isinstance(point, ModbusPoint) and point.enum else set()
            )
            assert labels <= set(canonical.labels), (name, sorted(labels - set(canonical.labels)))


def test_canonical_points_of_an_unknown_kind_name_the_kinds() -> None:
    with pytest.raises(KeyError, match="the kinds are elevator, pump"):
        canonical_points("boiler")
    assert canonical_point("pump", "dry_run") is not None
    assert canonical_point("pump", "no_such_point") is None
    assert set(CANONICAL) == set(KINDS)


def test_every_canonical_unit_is_one_pint_reads() -> None:
    for points in CANONICAL.values():
        for point in points.values():
            if point.unit is not None:
                check_unit(point.unit)
                assert conversion(point.unit, point.unit).identity
