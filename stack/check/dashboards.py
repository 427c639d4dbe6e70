"""Check 3 for the dashboards: the points each Grafana board reads, per kind, against what
each piece of equipment's profile provides.

The boards are built as `plantroom dashboards build` builds them (from the shipped profiles)
with field sets that note every field a panel names; a field the boards find by number
(`zone_{n}`, `circuit_{n}_on`), and every field of those numbers (`circuit_{n}_power`), counts
as provided when the profile has any point so named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from dashboards.boards import fire_panels, lifts, lighting, portfolio, pumps
from dashboards.dashboard import Dashboard
from dashboards.profiles import FieldSet, PointSpec, load_points
from plantroom.sitecheck import Finding, Site

DASHBOARD_POINT_MISSING = "dashboard-point-missing"

_BOARDS: tuple[Callable[[dict[str, FieldSet]], Dashboard], ...] = (
    portfolio.build,
    lifts.SPEC.build,
    pumps.SPEC.build,
    fire_panels.SPEC.build,
    lighting.SPEC.build,
)


@dataclass
class _Noting(FieldSet):
    """A field set that notes the fields (and numbered patterns) the boards ask it for."""

    read: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)

    def spec(self, name: str) -> PointSpec:
        self.read.add(name)
        return super().spec(name)

    def numbered(self, pattern: str) -> list[int]:
        self.patterns.add(pattern)
        return super().numbered(pattern)


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\{n\}", r"\d+") + "$")


def _numbered(prefix: str, name: str) -> str | None:
    """`circuit_3_power` → `circuit_{n}_power` for the prefix `circuit_` of a numbered
    field; None when `name` is not numbered so."""
    match = re.match(re.escape(prefix) + r"\d+(.*)\Z", name)
    return prefix + "{n}" + match.group(1) if match else None


@cache
def board_reads() -> dict[str, dict[str, tuple[str, ...]]]:
    """kind → point (or numbered pattern such as `zone_{n}`) → the uids of the boards that
    read it."""
    out: dict[str, dict[str, list[str]]] = {}
    for build in _BOARDS:
        kinds = {
            kind: _Noting(fs.measurement, dict(fs.points), list(fs.sources))
            for kind, fs in load_points().items()
        }
        uid = build(dict(kinds)).uid
        for kind, noted in kinds.items():
            into = out.setdefault(kind, {})
            prefixes = sorted({p.split("{n}", 1)[0] for p in noted.patterns})
            for name in noted.read:
                key = next(filter(None, (_numbered(prefix, name) for prefix in prefixes)), name)
                boards = into.setdefault(key, [])
                if uid not in boards:
                    boards.append(uid)
    return {kind: {k: tuple(v) for k, v in reads.items()} for kind, reads in out.items()}


def _provides(provided: frozenset[str], point: str) -> bool:
    if "{n}" not in point:
        return point in provided
    rx = _regex(point)
    return any(rx.match(name) for name in provided)


def dashboard_findings(site: Site) -> list[Finding]:
    """Per equipment and board: the points the board reads that its profile lacks."""
    reads = board_reads()
    out: list[Finding] = []
    for entry in site.equipment:
        if entry.profile is None:
            continue
        provided = entry.provided()
        by_board: dict[str, list[str]] = {}
        for point, boards in reads.get(entry.equipment.kind.value, {}).items():
            if not _provides(provided, point):
                for uid in boards:
                    by_board.setdefault(uid, []).append(point)
        for uid, points in sorted(by_board.items()):
            names = ", ".join(sorted(points))
            out.append(
                Finding(
                    "warning",
                    DASHBOARD_POINT_MISSING,
                    entry.where,
                    f"{entry.id}: dashboard {uid} shows no data for "
                    f"{'point' if len(points) == 1 else 'points'} {names} (not provided by "
                    f"profile {entry.profile.name})",
                    entry.id,
                )
            )
    return out
