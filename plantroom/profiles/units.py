"""Units of profile points: parsed and converted with pint, once, when a profile loads.

A profile names the unit its device reports (`unit: W`); a point with a canonical name
(`plantroom.canonical`) is reported in the canonical unit of its kind (`kW`). The conversion
is worked out here as a factor and an offset (`value_canonical = value * factor + offset`),
which the loader folds into the point's scale and offset: the decode pipeline applies it
with the scale it applies anyway, and no sample ever meets pint.

Units are written as pint reads them, with one addition: a power of a unit may be written
without `**` (`m3/h` is `m**3/h`); `1` and `count` are pure numbers; a revolution is one
turn, so 1 Hz of shaft speed is 60 rpm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from plantroom.canonical import canonical_point
from plantroom.profiles.schema import DerivedPoint, ModbusPoint, MqttPoint, Profile

if TYPE_CHECKING:
    import pint

_P = TypeVar("_P", ModbusPoint, MqttPoint, DerivedPoint)

MAX_UNIT = 32
"""Longest unit text a profile may give."""

_POWER = re.compile(r"(?<=[A-Za-z])([23])(?![\w.])")
_SPAN = 1e6  # the factor of an offset unit is measured over a span: 1 - 0 loses digits
_SIGNIFICANT = 15  # digits a composed factor keeps: 0.1 * 0.01 is 0.001, not 0.0010000000000000002


@dataclass(frozen=True, slots=True)
class UnitConversion:
    """`to = from * factor + offset`, from one unit to another."""

    factor: float
    offset: float

    @property
    def identity(self) -> bool:
        return self.factor == 1.0 and self.offset == 0.0

    def fold(self, scale: float, offset: float) -> tuple[float, float]:
        """The scale and offset that give the converted value from the same raw value."""
        return tidy(scale * self.factor), tidy(offset * self.factor + self.offset)


def tidy(number: float) -> float:
    """`number` to 15 significant digits: the float arithmetic of composing scales drops out."""
    return float(f"{number:.{_SIGNIFICANT}g}")


@cache
def _registry() -> pint.UnitRegistry[Any]:
    import pint  # a registry takes a tenth of a second to build: only when a unit is read

    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(
        preprocessors=[lambda text: _POWER.sub(r"**\1", text)],
        autoconvert_offset_to_baseunit=True,
        on_redefinition="ignore",
    )
    # a turn of a shaft, not 2π radians: 1 Hz (one turn a second) is 60 rpm
    registry.define("revolution = 1 = rev = turn")
    return registry


@cache
def _parse(text: str) -> pint.Unit:
    import pint

    if not text.strip() or len(text) > MAX_UNIT:
        raise ValueError(f"unit {text!r} must be 1 to {MAX_UNIT} characters")
    try:
        unit = _registry().Unit(text)
    except Exception as exc:  # pint's parser raises whatever its tokenizer trips on
        detail = f": {exc}" if str(exc) else ""
        raise ValueError(
            f"unit {text!r} is not a unit Plantroom knows (write it as pint does: kW, W, A, V, "
            f"bar, kPa, degC, m3/h, l/s, %, mm/s, rpm, h, kWh, Hz, 1 for a pure number){detail}"
        ) from None
    if not isinstance(unit, pint.Unit):
        raise ValueError(f"unit {text!r} is not a unit")
    return unit


def check_unit(text: str) -> None:
    """Raise ValueError naming the unit when pint cannot read it."""
    _parse(text)


@cache
def conversion(source: str, target: str) -> UnitConversion:
    """The factor and offset from `source` to `target`; ValueError when they do not convert
    (a power is not a pressure) or one does not parse."""
    import pint

    a, b = _parse(source), _parse(target)
    if a == b:
        return UnitConversion(1.0, 0.0)
    quantity = _registry().Quantity
    try:
        zero = float(quantity(0.0, a).to(b).magnitude)
        far = float(quantity(_SPAN, a).to(b).magnitude)
    except pint.errors.DimensionalityError:
        raise ValueError(
            f"{source!r} ({a.dimensionality}) cannot be converted to {target!r} "
            f"({b.dimensionality})"
        ) from None
    return UnitConversion(tidy((far - zero) / _SPAN), tidy(zero))


def _converted(kind: str, point: _P) -> _P | None:
    """The point in its canonical unit, or None when it already is (or is not canonical)."""
    canonical = canonical_point(kind, point.name)
    if (
        canonical is None
        or canonical.unit is None
        or point.unit is None
        or point.unit == canonical.unit
    ):
        return None
    convert = conversion(point.unit, canonical.unit)
    update: dict[str, object] = {"unit": canonical.unit}
    if not convert.identity:
        update["scale"], update["offset"] = convert.fold(point.scale, point.offset)
    return type(point).model_validate(
        {**point.model_dump(exclude_unset=True, by_alias=True), **update}
    )


def in_canonical_units(profile: Profile) -> Profile:
    """The profile with every canonical numeric point converted to its canonical unit: the
    conversion folded into the point's scale and offset (for a derived point, applied to
    what it computes), the unit the canonical one.

    The profile must have passed the unit checks (`checks.unit_issues`).
    """
    kind = profile.kind.value
    update: dict[str, object] = {}
    for field in ("points", "derived"):
        points = getattr(profile, field)
        converted = [_converted(kind, point) for point in points]
        if any(c is not None for c in converted):
            update[field] = [c or p for c, p in zip(converted, points, strict=True)]
    return profile.model_copy(update=update) if update else profile
