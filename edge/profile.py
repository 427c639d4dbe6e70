"""Device profiles as data: one YAML file per model of equipment (see docs/profiles.md).

A profile is validated once, at load, into typed models. Every error names the file, the
line, the point and the field, so an integrator can fix a profile without reading code.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from plantroom.errors import ConfigError
from plantroom.inventory import Building, Equipment, Inventory
from plantroom.kinds import Kind
from plantroom.schema import MAX_POINTS, MAX_STRING, PointName
from plantroom.yamlload import Loc, line_of, load_yaml

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"

MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000
MAX_ADDRESS = 0xFFFF

ProfileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class Table(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class Role(StrEnum):
    MEASUREMENT = "measurement"
    STATE = "state"
    ALARM = "alarm"
    COUNTER = "counter"


class Poll(StrEnum):
    FAST = "fast"
    NORMAL = "normal"
    SLOW = "slow"


RegisterType = Literal[
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "bool",
    "bit",
    "enum",
    "string",
]
Order = Literal["ABCD", "DCBA", "BADC", "CDAB"]
JsonType = Literal["bool", "int", "float", "string"]

# registers each fixed-size type occupies (string: its `length`; bool: one coil/discrete bit)
TYPE_REGISTERS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
    "bit": 1,
    "enum": 1,
}
NUMERIC_TYPES = frozenset(
    {"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}
)
FLOAT_TYPES = frozenset({"float32", "float64"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportPolicy(_Strict):
    """Report-by-exception: publish a point only when it moved enough or a heartbeat is due.

    Alarm and state points are always reported at once when they change.
    """

    deadband: float | None = Field(default=None, ge=0, description="absolute change to report")
    deadband_percent: float | None = Field(
        default=None, ge=0, le=100, description="change relative to the last reported value"
    )
    heartbeat_s: float | None = Field(
        default=None, gt=0, description="report at least this often even without change"
    )

    @property
    def filters(self) -> bool:
        return self.deadband is not None or self.deadband_percent is not None


class ModbusOptions(_Strict):
    max_registers_per_read: int = Field(default=MAX_REGISTERS_PER_READ, ge=1, le=125)
    max_bits_per_read: int = Field(default=MAX_BITS_PER_READ, ge=1, le=2000)
    max_gap: int = Field(
        default=0, ge=0, le=124, description="unused registers a read may span to join points"
    )
    one_request_per_point: bool = Field(
        default=False, description="for devices that reject reads spanning several points"
    )


class MqttOptions(_Strict):
    timestamp_path: str | None = Field(
        default=None, min_length=1, description="dotted path to the sample's epoch-ms time"
    )


class _Point(_Strict):
    name: PointName
    description: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    role: Role = Role.MEASUREMENT
    report: ReportPolicy | None = None

    @cached_property
    def decimals(self) -> int:
        """Decimal places that scale and offset carry; scaled integers are rounded to them."""
        places = 0
        for factor in (self.scale, self.offset):
            exponent = Decimal(repr(factor)).normalize().as_tuple().exponent
            if isinstance(exponent, int):
                places = max(places, -exponent)
        return places


class ModbusPoint(_Point):
    table: Table
    address: int = Field(ge=0, le=MAX_ADDRESS)
    type: RegisterType
    order: Order = "ABCD"
    bit: int | None = Field(default=None, ge=0, le=15)
    length: int | None = Field(default=None, ge=1, le=MAX_REGISTERS_PER_READ)
    enum: (
        dict[int, Annotated[str, StringConstraints(min_length=1, max_length=MAX_STRING)]] | None
    ) = None
    not_available: int | None = Field(
        default=None, description="raw value the device sends when it has no reading"
    )
    poll: Poll = Poll.NORMAL

    @property
    def count(self) -> int:
        """Registers (or bits) this point occupies."""
        if self.type == "bool":
            return 1
        if self.type == "string":
            return self.length or 0
        return TYPE_REGISTERS[self.type]

    @property
    def end(self) -> int:
        """One past the last address this point occupies."""
        return self.address + self.count


class MqttPoint(_Point):
    path: str = Field(min_length=1, description="dotted JSON path; list indexes as numbers")
    type: JsonType
    not_available: float | str | None = Field(
        default=None, description="value the device sends when it has no reading"
    )

    @cached_property
    def steps(self) -> tuple[str | int, ...]:
        return parse_path(self.path)


class _Profile(_Strict):
    name: ProfileName
    kind: Kind
    description: str | None = None
    report: ReportPolicy | None = Field(default=None, description="default for every point")

    def report_policy(self, point: _Point) -> ReportPolicy | None:
        return point.report if point.report is not None else self.report


class ModbusProfile(_Profile):
    protocol: Literal["modbus"]
    modbus: ModbusOptions = ModbusOptions()
    points: list[ModbusPoint] = Field(min_length=1)


class MqttProfile(_Profile):
    protocol: Literal["mqtt"]
    mqtt: MqttOptions = MqttOptions()
    points: list[MqttPoint] = Field(min_length=1)


Profile = ModbusProfile | MqttProfile
_MODELS: dict[str, type[ModbusProfile] | type[MqttProfile]] = {
    "modbus": ModbusProfile,
    "mqtt": MqttProfile,
}


def parse_path(path: str) -> tuple[str | int, ...]:
    """`circuits.0.on` → ("circuits", 0, "on"). Raises ValueError on an empty segment."""
    steps: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"path {path!r} has an empty segment")
        steps.append(int(part) if part.isdigit() else part)
    return tuple(steps)


# -- semantic checks: what pydantic's field types cannot say ------------------------------


Issue = tuple[Loc, str]


def _modbus_point_issues(i: int, p: ModbusPoint, options: ModbusOptions) -> Iterator[Issue]:
    here: Loc = ("points", i)
    given = p.model_fields_set
    if p.table.is_bits and p.type != "bool":
        yield (
            (*here, "type"),
            f"table {p.table.value!r} holds single bits; a point on it must have type 'bool', "
            f"not {p.type!r}",
        )
    if p.type == "bool" and not p.table.is_bits:
        yield (
            (*here, "type"),
            f"type 'bool' reads a coil or discrete input; on table {p.table.value!r} use type "
            f"'bit' with `bit: 0..15` for one bit of a register",
        )
    if p.type == "bit" and p.bit is None:
        yield (*here, "bit"), "type 'bit' needs `bit: 0..15` (the bit of the register, 0 = LSB)"
    if p.type != "bit" and p.bit is not None:
        yield (*here, "bit"), f"`bit` applies only to type 'bit', not {p.type!r}"
    if p.type == "enum" and not p.enum:
        yield (*here, "enum"), "type 'enum' needs an `enum` map of code → name"
    if p.type != "enum" and p.enum is not None:
        yield (*here, "enum"), f"`enum` applies only to type 'enum', not {p.type!r}"
    if p.type == "string" and p.length is None:
        yield (*here, "length"), "type 'string' needs `length` (registers, two characters each)"
    if p.type != "string" and p.length is not None:
        yield (*here, "length"), f"`length` applies only to type 'string', not {p.type!r}"
    if p.type not in NUMERIC_TYPES:
        for field in ("scale", "offset"):
            if field in given:
                yield (*here, field), f"`{field}` applies only to numeric types, not {p.type!r}"
    if p.type in ("bool", "string") and "order" in given:
        yield (*here, "order"), f"`order` does not apply to type {p.type!r}"
    if p.type in ("bool", "bit", "string") and p.not_available is not None:
        yield (*here, "not_available"), f"`not_available` does not apply to type {p.type!r}"
    if p.scale == 0 or not math.isfinite(p.scale):
        yield (*here, "scale"), "scale must be a finite number other than 0"
    if not math.isfinite(p.offset):
        yield (*here, "offset"), "offset must be a finite number"
    if p.not_available is not None and p.count:
        bits = 16 * p.count
        if not -(1 << (bits - 1)) <= p.not_available < (1 << bits):
            yield (
                (*here, "not_available"),
                f"{p.not_available} does not fit the {bits} bits of a {p.type} point",
            )
    if p.end - 1 > MAX_ADDRESS:
        yield (
            (*here, "address"),
            f"a {p.type} point at {p.address} needs {p.count} registers and runs past the last "
            f"address {MAX_ADDRESS}",
        )
    limit = options.max_bits_per_read if p.table.is_bits else options.max_registers_per_read
    if p.count > limit:
        yield (
            (*here, "length" if p.type == "string" else "type"),
            f"the point needs {p.count} registers but the profile reads at most {limit} at a time "
            f"(modbus.max_registers_per_read)",
        )


def _mqtt_point_issues(i: int, p: MqttPoint) -> Iterator[Issue]:
    here: Loc = ("points", i)
    try:
        parse_path(p.path)
    except ValueError as exc:
        yield (*here, "path"), str(exc)
    if p.type not in ("int", "float"):
        for field in ("scale", "offset"):
            if field in p.model_fields_set:
                yield (
                    (*here, field),
                    f"`{field}` applies only to types int and float, not {p.type!r}",
                )
    if p.scale == 0 or not math.isfinite(p.scale):
        yield (*here, "scale"), "scale must be a finite number other than 0"
    if not math.isfinite(p.offset):
        yield (*here, "offset"), "offset must be a finite number"


def _profile_issues(profile: Profile, stem: str) -> Iterator[Issue]:
    if profile.name != stem:
        yield ("name",), f"profile name {profile.name!r} must equal the file name {stem!r}"
    if len(profile.points) > MAX_POINTS:
        yield (
            ("points",),
            f"{len(profile.points)} points; a telemetry message carries at most {MAX_POINTS}",
        )
    seen: dict[str, int] = {}
    for i, point in enumerate(profile.points):
        if point.name in seen:
            yield (
                ("points", i, "name"),
                f"point name {point.name!r} is already used by points[{seen[point.name]}]",
            )
        seen.setdefault(point.name, i)
    if isinstance(profile, ModbusProfile):
        for i, mp in enumerate(profile.points):
            yield from _modbus_point_issues(i, mp, profile.modbus)
    else:
        if profile.mqtt.timestamp_path is not None:
            try:
                parse_path(profile.mqtt.timestamp_path)
            except ValueError as exc:
                yield ("mqtt", "timestamp_path"), str(exc)
        for i, qp in enumerate(profile.points):
            yield from _mqtt_point_issues(i, qp)


# -- rendering errors: file:line: point 'x', field y: message -----------------------------


def _where(path: Path, lines: Mapping[Loc, int], data: Any, loc: Loc) -> str:
    line = line_of(dict(lines), loc)
    at = f"{path}:{line}" if line is not None else str(path)
    if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
        name = None
        points = data.get("points") if isinstance(data, dict) else None
        if isinstance(points, list) and loc[1] < len(points) and isinstance(points[loc[1]], dict):
            name = points[loc[1]].get("name")
        who = f"point {name!r} (points[{loc[1]}])" if name else f"points[{loc[1]}]"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{at}: {who}" + (f", field {rest}" if rest else "")
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"{at}: field {field}"


def _render(path: Path, lines: Mapping[Loc, int], data: Any, issues: Iterable[Issue]) -> str:
    return "\n".join(f"{_where(path, lines, data, loc)}: {msg}" for loc, msg in issues)


def _pydantic_issues(exc: ValidationError) -> list[Issue]:
    out: list[Issue] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "string_type" and isinstance(err.get("input"), bool):
            msg += " (YAML reads unquoted yes/no/on/off as true/false: quote the value)"
        out.append((loc, msg))
    return out


def load_profile(path: Path) -> Profile:
    """Load and validate one profile file; ConfigError names file, line, point and field."""
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: a profile must be a mapping with name, kind, protocol, points"
        )
    protocol = data.get("protocol")
    model = _MODELS.get(protocol) if isinstance(protocol, str) else None
    if model is None:
        raise ConfigError(
            _render(
                path,
                lines,
                data,
                [(("protocol",), f"must be 'modbus' or 'mqtt', got {protocol!r}")],
            )
        )
    try:
        profile = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_render(path, lines, data, _pydantic_issues(exc))) from exc
    issues = list(_profile_issues(profile, path.stem))
    if issues:
        raise ConfigError(_render(path, lines, data, issues))
    return profile


@dataclass(frozen=True, slots=True)
class Assignment:
    """One piece of equipment the agent serves, with its validated profile."""

    building: Building
    equipment: Equipment
    profile: Profile
    profile_path: Path


class ProfileLibrary:
    """Finds profiles by name: an optional site folder first, then the built-in folder.

    A profile in the site folder with the name of a built-in one replaces it for that site.
    Each file is loaded and validated once.
    """

    def __init__(self, extra_dir: Path | None = None, builtin_dir: Path = BUILTIN_DIR) -> None:
        self.dirs: tuple[Path, ...] = (
            (Path(extra_dir), builtin_dir) if extra_dir is not None else (builtin_dir,)
        )
        if extra_dir is not None and not Path(extra_dir).is_dir():
            raise ConfigError(f"profile folder {extra_dir} does not exist or is not a folder")
        self._cache: dict[str, tuple[Profile, Path]] = {}

    def path_of(self, name: str) -> Path | None:
        for d in self.dirs:
            candidate = d / f"{name}.yaml"
            if candidate.is_file():
                return candidate
        return None

    def names(self) -> list[str]:
        found: set[str] = set()
        for d in self.dirs:
            found.update(p.stem for p in d.glob("*.yaml"))
        return sorted(found)

    def get(self, name: str) -> tuple[Profile, Path]:
        if name not in self._cache:
            path = self.path_of(name)
            if path is None:
                where = " or ".join(str(d) for d in self.dirs)
                raise ConfigError(f"no profile {name!r}: expected {name}.yaml in {where}")
            self._cache[name] = (load_profile(path), path)
        return self._cache[name]

    def assign(
        self,
        inventory: Inventory,
        buildings: Sequence[str] = (),
        inventory_path: Path | None = None,
    ) -> list[Assignment]:
        """Resolve each served piece of equipment to its profile and check they fit."""
        known = {b.id for b in inventory.buildings}
        unknown = [b for b in buildings if b not in known]
        if unknown:
            raise ConfigError(
                f"building(s) {', '.join(map(repr, unknown))} not in the inventory "
                f"(it has {', '.join(sorted(known))})"
            )
        lines: dict[Loc, int] = {}
        if inventory_path is not None and Path(inventory_path).is_file():
            _, lines = load_yaml(Path(inventory_path))
        where = str(inventory_path) if inventory_path is not None else "inventory"
        index = {
            e.id: (bi, ei)
            for bi, b in enumerate(inventory.buildings)
            for ei, e in enumerate(b.equipment)
        }
        out: list[Assignment] = []
        errors: list[str] = []
        for building, equipment in inventory.equipment(set(buildings) or None):
            bi, ei = index[equipment.id]
            loc: Loc = ("buildings", bi, "equipment", ei)
            line = line_of(lines, (*loc, "profile"))
            at = f"{where}:{line}" if line is not None else where
            who = f"equipment {equipment.id!r} (building {building.id!r})"
            try:
                profile, path = self.get(equipment.profile)
            except ConfigError as exc:
                errors.append(f"{at}: {who}: {exc}")
                continue
            if profile.kind != equipment.kind:
                errors.append(
                    f"{at}: {who} has kind {equipment.kind.value!r} but profile "
                    f"{profile.name!r} ({path}) is for kind {profile.kind.value!r}"
                )
            mqtt_connection = equipment.connection.type == "mqtt"
            if mqtt_connection != (profile.protocol == "mqtt"):
                errors.append(
                    f"{at}: {who} has a {equipment.connection.type} connection but profile "
                    f"{profile.name!r} ({path}) speaks {profile.protocol}"
                )
            out.append(Assignment(building, equipment, profile, path))
        if errors:
            raise ConfigError("\n".join(errors))
        return out


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m edge.profile FILE...`: validate profile files, print what is wrong."""
    import sys

    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m edge.profile PROFILE.yaml [...]", file=sys.stderr)
        return 2
    failed = 0
    for name in paths:
        try:
            profile = load_profile(Path(name))
        except ConfigError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        print(
            f"{name}: ok ({profile.kind.value}, {profile.protocol}, {len(profile.points)} points)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
