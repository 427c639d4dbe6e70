"""Semantic checks of a device profile: what pydantic's field types cannot say.

Each issue is the location of the offending value (as in the YAML data) and a message; the
loader turns locations into file:line, point and field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from plantroom.canonical import canonical_point
from plantroom.profiles.derived import derived_issues
from plantroom.profiles.schema import (
    MAX_ADDRESS,
    NUMERIC_TYPES,
    DerivedPoint,
    ModbusOptions,
    ModbusPoint,
    ModbusProfile,
    MqttPoint,
    Profile,
    Role,
    parse_path,
)
from plantroom.profiles.units import check_unit, conversion
from plantroom.schema import MAX_POINTS
from plantroom.yamlload import Loc

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


def _fits(value_type: str, canonical_type: str) -> bool:
    """Whether a point of `value_type` can carry a canonical point of `canonical_type`."""
    if canonical_type == "counter":
        return value_type == "number"
    if value_type == "text":  # a JSON string: a label or a text
        return canonical_type in ("enum", "text")
    return value_type == canonical_type


def unit_issues(
    kind: str, here: Loc, point: ModbusPoint | MqttPoint | DerivedPoint
) -> Iterator[Issue]:
    """A measurement or counter names its unit, pint reads it, and a canonical point's unit
    converts to the canonical unit; a canonical point has the canonical type. (A number of
    role state or alarm, such as a status word or an alarm code, may go without a unit.)"""
    canonical = canonical_point(kind, point.name)
    if canonical is not None and not _fits(point.value_type, canonical.type):
        what = "derived" if isinstance(point, DerivedPoint) else point.type
        yield (
            (*here, "derive" if isinstance(point, DerivedPoint) else "type"),
            f"{point.name!r} is a canonical {kind} point of type {canonical.type} "
            f"(docs/points.md); this {what} point gives a {point.value_type}"
            + (
                f"; use type enum with an `enum` map of its codes onto the labels "
                f"{', '.join(canonical.labels)}"
                if canonical.type == "enum" and point.value_type == "number"
                else ""
            ),
        )
        return
    if point.value_type != "number":
        return
    if point.unit is None and canonical is None and point.role in (Role.STATE, Role.ALARM):
        return
    if point.unit is None:
        suggestion = (
            f"; the canonical unit of {point.name!r} is {canonical.unit}"
            if canonical is not None
            else ""
        )
        yield (
            (*here, "unit"),
            f"a numeric point needs `unit:` (kW, bar, degC, ...; 1 for a pure number){suggestion}",
        )
        return
    if canonical is not None and point.unit == canonical.unit:
        return  # a canonical unit parses (tested): no need to start pint for it
    try:
        check_unit(point.unit)
        if canonical is not None and canonical.unit is not None:
            conversion(point.unit, canonical.unit)
    except ValueError as exc:
        where = (
            f"; {point.name!r} is a canonical {kind} point in {canonical.unit} (docs/points.md)"
            if canonical is not None
            else ""
        )
        yield (*here, "unit"), f"{exc}{where}"


def _same(loc: Loc) -> Loc:
    return loc


def profile_issues(
    profile: Profile, stem: str, in_file: Callable[[Loc], Loc] = _same
) -> Iterator[Issue]:
    """Everything wrong with a validated profile. Locations are of the model (`points` read,
    `derived` apart); `in_file` turns one into its place in the file, for messages that
    name another point."""
    if profile.name != stem:
        yield ("name",), f"profile name {profile.name!r} must equal the file name {stem!r}"
    total = len(profile.points) + len(profile.derived)
    if total > MAX_POINTS:
        yield (
            ("points",),
            f"{total} points; a telemetry message carries at most {MAX_POINTS}",
        )
    seen: dict[str, Loc] = {}
    entries = [(("points", i), p.name) for i, p in enumerate(profile.points)]
    entries += [(("derived", k), d.name) for k, d in enumerate(profile.derived)]
    for here, name in sorted(entries, key=lambda entry: in_file(entry[0])):
        if name in seen:
            section, index = in_file(seen[name])
            yield (*here, "name"), f"point name {name!r} is already used by {section}[{index}]"
        seen.setdefault(name, here)
    kind = profile.kind.value
    for k, derived in enumerate(profile.derived):
        yield from unit_issues(kind, ("derived", k), derived)
    yield from derived_issues(profile)
    if isinstance(profile, ModbusProfile):
        for i, mp in enumerate(profile.points):
            yield from unit_issues(kind, ("points", i), mp)
            yield from _modbus_point_issues(i, mp, profile.modbus)
    else:
        if profile.mqtt.timestamp_path is not None:
            try:
                parse_path(profile.mqtt.timestamp_path)
            except ValueError as exc:
                yield ("mqtt", "timestamp_path"), str(exc)
        for i, qp in enumerate(profile.points):
            yield from unit_issues(kind, ("points", i), qp)
            yield from _mqtt_point_issues(i, qp)
