"""The site check's contract part: what an inventory and its profiles say on their own.

Every process that takes an inventory runs these checks at its start (`enforce`): an error
stops it, a warning is logged once. `plantroom check` runs them too, with the checks of the
rules, PM plans and dashboards on top (`cloud.sitecheck`, `stack.check`).

A `Finding` has a severity, a stable code, the file:line it is about (the inventory entry or
the profile point) and a message; `related` holds the other places involved (the second
point of an overlap, the second inventory entry of a shared unit, the rule's file:line).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from plantroom.canonical import canonical_points
from plantroom.errors import ConfigError
from plantroom.inventory import (
    Building,
    Equipment,
    Inventory,
    ModbusRtu,
    ModbusRtuOverTcp,
    ModbusTcp,
    load_inventory,
)
from plantroom.profiles import ModbusPoint, ModbusProfile, Profile, ProfileLibrary, Table
from plantroom.yamlload import Loc, line_of, load_yaml

Severity = Literal["error", "warning"]

# Codes of the contract checks (docs/check.md lists every code of the site check)
INVENTORY_INVALID = "inventory-invalid"
PROFILE_INVALID = "profile-invalid"
REGISTER_OVERLAP = "register-overlap"
UNIT_SHARED = "unit-shared"
FRAMING_MIXED = "framing-mixed"
SERIAL_SETTINGS_MIXED = "serial-settings-mixed"
CANONICAL_COVERAGE = "canonical-coverage"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    code: str
    where: str  # file:line of the inventory entry or the profile point
    message: str
    equipment: str | None = None
    related: tuple[str, ...] = ()

    def render(self) -> str:
        text = f"{self.where}: {self.severity} [{self.code}] {self.message}"
        return text + "".join(f"\n    see {r}" for r in self.related)

    def as_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "where": self.where,
            "message": self.message,
            "equipment": self.equipment,
            "related": list(self.related),
        }


def _at(path: Path | str, lines: dict[Loc, int], loc: Loc) -> str:
    line = line_of(lines, loc)
    return f"{path}:{line}" if line is not None else str(path)


@dataclass(frozen=True, slots=True)
class SiteEquipment:
    """One inventory entry with where it is and, when it loaded, its profile."""

    building: Building
    equipment: Equipment
    where: str  # file:line of the entry
    connection_at: str  # file:line of its connection
    profile: Profile | None = None
    profile_path: Path | None = None

    @property
    def id(self) -> str:
        return self.equipment.id

    def provided(self) -> frozenset[str]:
        """The points its profile provides (read or derived); empty without a profile."""
        if self.profile is None:
            return frozenset()
        return frozenset(p.name for p in self.profile.all_points())


@dataclass(slots=True)
class Site:
    """An inventory loaded for checking: each entry with its file:line and its profile."""

    path: Path
    inventory: Inventory | None
    equipment: list[SiteEquipment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # from loading
    profile_lines: dict[Path, dict[Loc, int]] = field(default_factory=dict)

    def point_at(self, profile_path: Path, index: int) -> str:
        """file:line of point `index` of the profile at `profile_path`."""
        if profile_path not in self.profile_lines:
            self.profile_lines[profile_path] = load_yaml(profile_path)[1]
        return _at(profile_path, self.profile_lines[profile_path], ("points", index))


def _split(message: str) -> tuple[str, str]:
    """`file:line: text` → (file:line, text) for a ConfigError line that starts with a place."""
    head, sep, rest = message.partition(": ")
    if sep and ":" in head and head.rsplit(":", 1)[1].isdigit():
        return head, rest
    return "", message


def config_findings(code: str, exc: ConfigError, where: Path | str) -> list[Finding]:
    """One error finding per line of a ConfigError, at the place the line names (or `where`)."""
    out = []
    for line in str(exc).splitlines():
        at, text = _split(line)
        out.append(Finding("error", code, at or str(where), text))
    return out


def load_site(
    inventory_path: Path,
    profiles_dir: Path | None = None,
    buildings: Sequence[str] = (),
    *,
    profiles: bool = True,
) -> Site:
    """Load the inventory (and, with `profiles`, each entry's profile) for checking. What
    does not load becomes an error finding instead of an exception, so that every check
    that can still run does."""
    path = Path(inventory_path)
    site = Site(path, None)
    try:
        inventory = load_inventory(path)
    except ConfigError as exc:
        site.findings += config_findings(INVENTORY_INVALID, exc, path)
        return site
    site.inventory = inventory
    _, lines = load_yaml(path)
    library: ProfileLibrary | None = None
    if profiles:
        try:
            library = ProfileLibrary(profiles_dir)
            library.assign(inventory, buildings, path)
        except ConfigError as exc:
            site.findings += config_findings(PROFILE_INVALID, exc, path)
    for bi, building in enumerate(inventory.buildings):
        if buildings and building.id not in buildings:
            continue
        for ei, item in enumerate(building.equipment):
            loc: Loc = ("buildings", bi, "equipment", ei)
            entry = SiteEquipment(
                building, item, _at(path, lines, loc), _at(path, lines, (*loc, "connection"))
            )
            if library is not None:
                try:
                    profile, profile_path = library.get(item.profile)
                except ConfigError:
                    profile = None  # reported above, by `assign`
                mqtt = item.connection.type == "mqtt"
                fits = profile is not None and profile.kind == item.kind
                if fits and profile is not None and mqtt == (profile.protocol == "mqtt"):
                    entry = SiteEquipment(
                        building, item, entry.where, entry.connection_at, profile, profile_path
                    )
            site.equipment.append(entry)
    return site


# -- check 1: overlapping registers within a profile ---------------------------------------


def _register_points(profile: ModbusProfile) -> Iterable[tuple[int, ModbusPoint]]:
    """The points that read registers or bits, with their index. Derived points
    (`profile.derived`) read none: they are computed from other points of the same poll."""
    yield from enumerate(profile.points)


def _overlap_allowed(a: ModbusPoint, b: ModbusPoint) -> bool:
    """Bits of a register another point reads are fine; the same bit twice is not."""
    if a.bit is not None and b.bit is not None:
        return a.bit != b.bit or a.address != b.address
    return a.bit is not None or b.bit is not None


def register_overlaps(site: Site, profile: ModbusProfile, path: Path) -> list[Finding]:
    """Points of one table whose address ranges intersect: each pair once, as an error at
    the later point, the earlier one as related."""
    out: list[Finding] = []
    by_table: dict[Table, list[tuple[int, ModbusPoint]]] = {}
    for i, point in _register_points(profile):
        by_table.setdefault(point.table, []).append((i, point))
    for table, members in by_table.items():
        members.sort(key=lambda m: (m[1].address, m[1].end))
        open_: list[tuple[int, ModbusPoint]] = []
        for i, point in members:
            open_ = [(j, q) for j, q in open_ if q.end > point.address]
            for j, other in open_:
                if _overlap_allowed(point, other):
                    continue
                what = (
                    f"bit {point.bit} of {table.value} register {point.address}"
                    if point.bit is not None
                    else f"{table.value} {_span(point)}"
                )
                out.append(
                    Finding(
                        "error",
                        REGISTER_OVERLAP,
                        site.point_at(path, i),
                        f"profile {profile.name!r}: point {point.name!r} ({what}) overlaps "
                        f"point {other.name!r} ({table.value} {_span(other)}); a point that "
                        f"reads bits of another's register says so with type 'bit' and `bit:`, "
                        f"or is a derived point",
                        related=(site.point_at(path, j),),
                    )
                )
            open_.append((i, point))
    return out


def _span(p: ModbusPoint) -> str:
    return f"{p.address}" if p.count == 1 else f"{p.address}..{p.end - 1}"


# -- check 2: two pieces of equipment on one link and unit ---------------------------------


def _link(conn: ModbusTcp | ModbusRtuOverTcp | ModbusRtu) -> str:
    if isinstance(conn, ModbusRtu):
        return f"serial port {conn.device}"
    return f"{conn.host.lower()}:{conn.port}"


def shared_units(site: Site) -> list[Finding]:
    """Two entries on one host:port and unit (or serial port and unit); one port spoken to
    with two framings; one serial line given two sets of line settings."""
    out: list[Finding] = []
    units: dict[tuple[str, int], SiteEquipment] = {}
    framing: dict[str, tuple[str, SiteEquipment]] = {}
    lines: dict[str, tuple[tuple[int, str, int, int], SiteEquipment]] = {}
    for entry in site.equipment:
        conn = entry.equipment.connection
        if not isinstance(conn, ModbusTcp | ModbusRtuOverTcp | ModbusRtu):
            continue
        link = _link(conn)
        first = units.setdefault((link, conn.unit), entry)
        if first is not entry:
            out.append(
                Finding(
                    "error",
                    UNIT_SHARED,
                    entry.connection_at,
                    f"equipment {entry.id!r} and {first.id!r} both use unit {conn.unit} on "
                    f"{link}: one would read the other's registers",
                    entry.id,
                    (first.connection_at,),
                )
            )
        if isinstance(conn, ModbusRtu):
            settings = (conn.baudrate, conn.parity, conn.stopbits, conn.bytesize)
            known, owner = lines.setdefault(conn.device, (settings, entry))
            if known != settings:
                out.append(
                    Finding(
                        "error",
                        SERIAL_SETTINGS_MIXED,
                        entry.connection_at,
                        f"equipment {entry.id!r} sets {link} to {_line(settings)} but "
                        f"{owner.id!r} on the same line uses {_line(known)}",
                        entry.id,
                        (owner.connection_at,),
                    )
                )
            continue
        known_type, owner = framing.setdefault(link, (conn.type, entry))
        if known_type != conn.type:
            out.append(
                Finding(
                    "error",
                    FRAMING_MIXED,
                    entry.connection_at,
                    f"equipment {entry.id!r} uses {conn.type} on {link} but {owner.id!r} uses "
                    f"{known_type} there: one port speaks one framing",
                    entry.id,
                    (owner.connection_at,),
                )
            )
    return out


def _line(settings: tuple[int, str, int, int]) -> str:
    baud, parity, stop, size = settings
    return f"{baud} {size}{parity}{stop}"


# -- check 5: canonical coverage per kind ------------------------------------------------


def canonical_coverage(site: Site) -> list[Finding]:
    """Per equipment whose profile lacks canonical points of its kind: how many it provides
    and which are missing (the rules, PM plans and dashboards that read them see nothing)."""
    out: list[Finding] = []
    for entry in site.equipment:
        if entry.profile is None:
            continue
        kind = entry.equipment.kind.value
        canonical = canonical_points(kind)
        missing = sorted(set(canonical) - entry.provided())
        if missing:
            out.append(
                Finding(
                    "warning",
                    CANONICAL_COVERAGE,
                    entry.where,
                    f"{entry.id} ({entry.profile.name}) provides "
                    f"{len(canonical) - len(missing)} of {len(canonical)} canonical {kind} "
                    f"points; missing: {', '.join(missing)} (docs/points.md)",
                    entry.id,
                )
            )
    return out


# -- running the contract checks -----------------------------------------------------------


def profile_findings(site: Site) -> list[Finding]:
    """Check 1 on every profile the site uses, once per profile."""
    out: list[Finding] = []
    seen: set[Path] = set()
    for entry in site.equipment:
        path = entry.profile_path
        if path is None or path in seen or not isinstance(entry.profile, ModbusProfile):
            continue
        seen.add(path)
        out.extend(register_overlaps(site, entry.profile, path))
    return out


def contract_findings(site: Site) -> list[Finding]:
    """Everything the contract alone can say about a loaded site."""
    return [*site.findings, *shared_units(site), *profile_findings(site), *canonical_coverage(site)]


def check_inventory(
    inventory_path: Path,
    profiles_dir: Path | None = None,
    buildings: Sequence[str] = (),
    *,
    profiles: bool = True,
) -> list[Finding]:
    """The contract checks of an inventory file (and, with `profiles`, of its profiles)."""
    return contract_findings(load_site(inventory_path, profiles_dir, buildings, profiles=profiles))


def enforce(findings: Sequence[Finding], log: logging.Logger) -> None:
    """At a process's start: log each warning once; raise ConfigError listing the errors."""
    for f in findings:
        if f.severity == "warning":
            log.warning("site check: %s", f.render())
    errors = [f.render() for f in findings if f.severity == "error"]
    if errors:
        raise ConfigError(
            f"the site check found {len(errors)} error(s) (`plantroom check` lists them all):\n"
            + "\n".join(errors)
        )
