"""Telemetry points checked against the device profile of their equipment.

The message schema (`plantroom.schema`) admits any well-formed point name and any JSON value;
what a piece of equipment may report is its profile's business. Built once at start from the
inventory and the profile library (the shipped profiles and the site's own folder), a
`PointCheck` holds, per piece of equipment, a table point → accepted Python types:

    bool, bit                      → bool           ("a boolean")
    enum, string                   → str            ("a string")
    every integer and float type   → int or float   ("a number"; an int where a float is
                                                     expected is fine, and a scaled integer
                                                     register arrives as a float)

`null` (not available) is accepted for every point. A point the profile does not define, or a
value of another type, is refused: dropped from the sample, counted (`refused`, and
`refused_alarms` for points of role `alarm`) and logged with the equipment, the point and the
expected type; the sample's good points are kept (see docs/decisions.md). Equipment whose
profile the cloud cannot find is accepted unchecked, counted and named in one warning at
start, so a site's custom profile the cloud was not given does not stop its telemetry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloud.equipment import key, split
from plantroom.errors import ConfigError
from plantroom.inventory import Inventory
from plantroom.profiles import (
    DerivedPoint,
    ModbusPoint,
    MqttPoint,
    Profile,
    ProfileLibrary,
    Role,
)
from plantroom.schema import PointValue, Quality, Telemetry

log = logging.getLogger(__name__)

MAX_WARNED = 1000  # (equipment, point) pairs whose first refusal is logged at WARNING


@dataclass(frozen=True, slots=True)
class Accepts:
    """What one profile point accepts."""

    types: frozenset[type]
    expected: str  # "a boolean", "a string", "a number"
    alarm: bool


_NONE = type(None)
_BOOLEAN = Accepts(frozenset({bool, _NONE}), "a boolean", False)
_STRING = Accepts(frozenset({str, _NONE}), "a string", False)
_NUMBER = Accepts(frozenset({int, float, _NONE}), "a number", False)


def accepts(point: ModbusPoint | MqttPoint | DerivedPoint) -> Accepts:
    """The JSON type a profile point's values have on the wire."""
    if point.value_type == "bool":
        base = _BOOLEAN
    elif point.value_type in ("enum", "text"):
        base = _STRING
    else:  # int16 … float64 of a register, int or float of an MQTT device, a derived number
        base = _NUMBER
    if point.role is Role.ALARM:
        return Accepts(base.types, base.expected, True)
    return base


def point_table(profile: Profile) -> dict[str, Accepts]:
    return {point.name: accepts(point) for point in profile.all_points()}


@dataclass(frozen=True, slots=True)
class Refusal:
    equipment: str  # its key (`cloud.equipment.key`)
    point: str
    expected: str  # "a number", …, or "" when the profile has no such point
    profile: str
    value: PointValue
    alarm: bool

    @property
    def reason(self) -> str:
        site, equipment = split(self.equipment)
        where = f"equipment {equipment!r} of site {site!r}: point {self.point!r}"
        if not self.expected:
            return f"{where} is not a point of profile {self.profile!r}"
        return (
            f"{where} must be {self.expected}, got {type(self.value).__name__} {self.value!r:.64}"
        )


class PointCheck:
    """Per piece of equipment, its profile's point table; `check` filters one sample."""

    def __init__(
        self, tables: Mapping[str, tuple[str, Mapping[str, Accepts]]], unchecked: Mapping[str, str]
    ) -> None:
        # by equipment key (`cloud.equipment.key`): (profile name, point → Accepts)
        self._tables = dict(tables)
        self.unchecked: dict[str, str] = dict(unchecked)  # equipment key → unknown profile
        self.refused = 0
        self.refused_alarms = 0
        self.last_refusal: str | None = None
        self._warned: set[tuple[str, str]] = set()

    def provided(self) -> dict[str, frozenset[str]]:
        """Per checked piece of equipment, the points its profile provides (read or derived);
        unchecked equipment is not in it."""
        return {equipment: frozenset(table) for equipment, (_, table) in self._tables.items()}

    @classmethod
    def for_inventory(
        cls, inventory: Inventory | Sequence[Inventory], library: ProfileLibrary
    ) -> PointCheck:
        """Load each profile the inventory names once. A profile the library does not have
        leaves its equipment unchecked (one warning naming them); a profile file that exists
        but is invalid raises ConfigError naming its file, line and field."""
        by_profile: dict[str, dict[str, Accepts] | None] = {}
        tables: dict[str, tuple[str, Mapping[str, Accepts]]] = {}
        unchecked: dict[str, str] = {}
        inventories = [inventory] if isinstance(inventory, Inventory) else inventory
        for site, item in (
            (inv.site.id, item) for inv in inventories for _, item in inv.equipment()
        ):
            name = item.profile
            if name not in by_profile:
                if library.path_of(name) is None:
                    by_profile[name] = None
                else:
                    by_profile[name] = point_table(library.get(name)[0])
            table = by_profile[name]
            if table is None:
                unchecked[key(site, item.id)] = name
            else:
                tables[key(site, item.id)] = (name, table)
        missing: dict[str, list[str]] = {}
        for equipment, name in unchecked.items():
            missing.setdefault(name, []).append(equipment)
        for name, equipment_ids in sorted(missing.items()):
            log.warning(
                "profile %r of equipment %s is not in the cloud's profile library (%s): their "
                "telemetry is accepted without checking point names and types",
                name,
                ", ".join(equipment_ids),
                " and ".join(str(d) for d in library.dirs),
            )
        return cls(tables, unchecked)

    def check(self, equipment: str, telemetry: Telemetry) -> Telemetry | None:
        """The sample with its refused points taken out (the same object when every point is
        fine); None when none is left. Equipment not in the table passes as it is."""
        entry = self._tables.get(equipment)
        if entry is None:
            return telemetry
        profile, table = entry
        refused: list[Refusal] | None = None
        for name, value in telemetry.points.items():
            spec = table.get(name)
            if spec is not None and type(value) in spec.types:
                continue
            if refused is None:
                refused = []
            if spec is None:
                refused.append(Refusal(equipment, name, "", profile, value, alarm=False))
            else:
                refused.append(Refusal(equipment, name, spec.expected, profile, value, spec.alarm))
        if refused is None:
            return telemetry
        for refusal in refused:
            self._count(refusal)
        bad = {r.point for r in refused}
        points = {k: v for k, v in telemetry.points.items() if k not in bad}
        if not points:
            return None
        quality: dict[str, Quality] | None = None
        if telemetry.quality is not None:
            quality = {k: q for k, q in telemetry.quality.items() if k not in bad} or None
        return telemetry.model_copy(update={"points": points, "quality": quality})

    def _count(self, refusal: Refusal) -> None:
        self.refused += 1
        if refusal.alarm:
            self.refused_alarms += 1
        reason = refusal.reason
        self.last_refusal = reason
        key = (refusal.equipment, refusal.point)
        if key in self._warned or len(self._warned) >= MAX_WARNED:
            log.debug("refused %s", reason)
            return
        self._warned.add(key)
        log.warning(
            "refused %s%s (%d points refused so far; further refusals of this point are "
            "logged at DEBUG)",
            "an alarm point: " if refusal.alarm else "",
            reason,
            self.refused,
        )


def load_point_check(
    inventory: Inventory | Sequence[Inventory], profiles_dir: Path | None
) -> PointCheck:
    """The check for a site (or several): the shipped profiles and the site's own folder."""
    try:
        library = ProfileLibrary(profiles_dir)
    except ConfigError as exc:
        raise ConfigError(f"PLANTROOM_PROFILES_DIR: {exc}") from exc
    return PointCheck.for_inventory(inventory, library)
