"""What the dashboards know of the device profiles: point names, field types and enum labels.

The profiles (`plantroom.profiles`, shipped in `plantroom/profiles/shipped/*.yaml`) are the
documented register maps. The dashboards read them with the contract's profile loader so that
a panel can only name a point some profile of that kind defines, and so that state panels
colour exactly the enum labels the edge writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboards.errors import DashboardError
from plantroom.errors import ConfigError
from plantroom.kinds import KINDS
from plantroom.profiles import SHIPPED_DIR, load_profile

DEFAULT_PROFILES_DIR = SHIPPED_DIR

_FLOAT_TYPES = {"float", "float32", "float64"}
_INT_TYPES = {"int", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
_BOOL_TYPES = {"bool", "bit"}


@dataclass(frozen=True)
class PointSpec:
    """One point of one profile as it lands in InfluxDB."""

    name: str
    field_type: str  # "string", "boolean", "integer" or "float"
    role: str
    unit: str
    enum: tuple[str, ...] = ()


def field_type(point: dict[str, Any]) -> str:
    """The InfluxDB field type the gateway writes for a profile point."""
    kind = str(point.get("type", ""))
    if kind in ("enum", "string"):
        return "string"
    if kind in _BOOL_TYPES:
        return "boolean"
    if kind in _FLOAT_TYPES:
        return "float"
    if kind in _INT_TYPES:
        scaled = float(point.get("scale", 1)) != 1.0 or float(point.get("offset", 0)) != 0.0
        return "float" if scaled else "integer"
    raise DashboardError(f"point {point.get('name')!r}: unknown data type {kind!r}")


@dataclass
class FieldSet:
    """The fields of one measurement: for a kind, the union of the points of its profiles."""

    measurement: str
    points: dict[str, PointSpec] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def spec(self, name: str) -> PointSpec:
        try:
            return self.points[name]
        except KeyError:
            known = ", ".join(sorted(self.points)) or "none"
            raise DashboardError(
                f"a dashboard uses field {name!r} of measurement {self.measurement!r}, which "
                f"{', '.join(self.sources) or 'nothing loaded'} does not define; "
                f"known fields: {known}"
            ) from None

    def check(self, name: str, *types: str) -> str:
        """The field's name, checked to exist (and to have one of `types`)."""
        spec = self.spec(name)
        if types and spec.field_type not in types:
            raise DashboardError(
                f"{self.measurement} field {name!r} is a {spec.field_type}; this panel needs "
                f"{' or '.join(types)}"
            )
        return name

    def f(self, name: str, *types: str) -> str:
        """The field's name, checked as by `check`, quoted for InfluxQL."""
        return '"' + self.check(name, *types) + '"'

    def enum(self, name: str) -> tuple[str, ...]:
        spec = self.spec(name)
        if not spec.enum:
            raise DashboardError(f"{self.measurement} field {name!r} is not an enum")
        return spec.enum

    def numbered(self, pattern: str) -> list[int]:
        """The numbers N for which a point named by `pattern` (with `{n}`) exists, ascending."""
        rx = re.compile("^" + re.escape(pattern).replace(r"\{n\}", r"(\d+)") + "$")
        found = sorted(int(m.group(1)) for name in self.points if (m := rx.match(name)))
        if not found:
            raise DashboardError(
                f"measurement {self.measurement!r} has no field named like {pattern!r}"
            )
        return found


def _merge(into: FieldSet, spec: PointSpec, source: str) -> None:
    old = into.points.get(spec.name)
    if old is None:
        into.points[spec.name] = spec
        return
    if old.field_type != spec.field_type:
        raise DashboardError(
            f"{source}: point {spec.name!r} is {spec.field_type} here but {old.field_type} in "
            f"another {into.measurement} profile; one InfluxDB field cannot hold both"
        )
    labels = old.enum + tuple(v for v in spec.enum if v not in old.enum)
    into.points[spec.name] = PointSpec(old.name, old.field_type, old.role, old.unit, labels)


def _points(path: Path, data: Any) -> Iterable[PointSpec]:
    points = data.get("points")
    if not isinstance(points, list) or not points:
        raise DashboardError(f"{path}: 'points' must be a non-empty list")
    for i, point in enumerate(points):
        if not isinstance(point, dict) or not isinstance(point.get("name"), str):
            raise DashboardError(f"{path}: points[{i}] needs a 'name'")
        try:
            ftype = field_type(point)
        except DashboardError as exc:
            raise DashboardError(f"{path}: {exc}") from None
        enum = point.get("enum") or {}
        if not isinstance(enum, dict):
            raise DashboardError(f"{path}: point {point['name']!r}: 'enum' must be a mapping")
        labels = tuple(str(label) for _, label in sorted(enum.items()))
        yield PointSpec(
            name=point["name"],
            field_type=ftype,
            role=str(point.get("role", "measurement")),
            unit=str(point.get("unit", "")),
            enum=labels,
        )


def load_points(profiles_dir: Path = DEFAULT_PROFILES_DIR) -> dict[str, FieldSet]:
    """Read every profile in `profiles_dir` into the points of each kind."""
    files = sorted(profiles_dir.glob("*.yaml"))
    if not files:
        raise DashboardError(f"{profiles_dir}: no device profiles (*.yaml) found")
    kinds = {kind: FieldSet(kind) for kind in KINDS}
    for path in files:
        try:
            profile = load_profile(path)
        except ConfigError as exc:
            raise DashboardError(f"cannot read profile: {exc}") from exc
        data = profile.model_dump(exclude_none=True)
        target = kinds[profile.kind.value]
        target.sources.append(f"profile {path.name}")
        for spec in _points(path, data):
            _merge(target, spec, str(path))
    return kinds
