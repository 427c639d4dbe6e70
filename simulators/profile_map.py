"""A kind's behavioural model served through a vendor's register map, read from its profile.

The edge decodes registers with a device profile; the simulator does the inverse with the
same profile: every point is encoded from the model's value of that name (converted from the
model's unit to the profile's with pint), or from a vendor mapping in `simulators.vendors`
for what only that vendor has (an alarm code, a status word, a phase voltage). So one model
per kind plays any vendor's device whose profile Plantroom ships with a mapping. A profile's
derived points (`profile.derived`) are not served: the edge computes them from the points
served here, as it does for the real device.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import pint

from plantroom.errors import ConfigError
from plantroom.profiles import SHIPPED_DIR, ModbusPoint, ModbusProfile, load_profile
from simulators.models.base import DeviceModel
from simulators.registers import DataType, Point, RegisterMap, Table, Value
from simulators.vendors import VENDOR_MAPS, VendorMap

_SIMULATED = frozenset(t.value for t in DataType)


@cache
def _units() -> pint.UnitRegistry[float]:
    return pint.UnitRegistry()


def convert(value: Value, unit: str | None, to: str | None) -> Value:
    """A model's number in `unit` as a number in `to` (unchanged when either is unknown)."""
    if unit is None or to is None or unit == to or not isinstance(value, int | float):
        return value
    if isinstance(value, bool):
        return value
    return float(_units().Quantity(float(value), unit).to(to).magnitude)


def _point(profile: str, p: ModbusPoint) -> Point:
    where = f"profile {profile!r}: point {p.name!r}"
    if p.type not in _SIMULATED:
        raise ConfigError(f"{where}: type {p.type} is not simulated")
    if p.scale <= 0:
        raise ConfigError(f"{where}: a negative scale is not simulated")
    return Point(
        name=p.name,
        table=Table(p.table.value),
        address=p.address,
        type=DataType(p.type),
        unit=p.unit,
        scale=p.scale,
        offset=p.offset,
        order=p.order,
        not_available=p.not_available,
        bit=p.bit,
        enum=p.enum,
        description=p.description or "",
    )


def register_map_of(profile: ModbusProfile) -> RegisterMap:
    """The profile's points as a simulator register map (the same tables, types, orders)."""
    try:
        return RegisterMap(profile.name, (_point(profile.name, p) for p in profile.points))
    except ValueError as exc:
        raise ConfigError(f"profile {profile.name!r}: {exc}") from exc


class ServedProfile:
    """What a model shows through one profile: the register map and the values to encode."""

    def __init__(self, profile: ModbusProfile, model: DeviceModel, vendor: VendorMap) -> None:
        if vendor.kind is not model.kind:
            raise ConfigError(
                f"profile {profile.name!r} is mapped for {vendor.kind.value} models, not "
                f"{model.kind.value}"
            )
        self.profile = profile
        self.vendor = vendor
        self.register_map = register_map_of(profile)
        own = model.register_map
        self._model_units = {p.name: p.unit for p in own.points} if own is not None else {}
        self._model_units.update(vendor.model_units)
        missing = sorted(set(self.register_map.by_name) - set(self.values(model.values())))
        if missing:
            raise ConfigError(
                f"profile {profile.name!r}: no {model.kind.value} model value for "
                f"{', '.join(missing)}: add them to its mapping in simulators/vendors.py"
            )

    def values(self, model_values: Mapping[str, Value]) -> dict[str, Value]:
        """The profile's point values: the vendor's own, else the model's of the same name."""
        vendor = self.vendor.values(model_values)
        out: dict[str, Value] = {}
        for name, point in self.register_map.by_name.items():
            if name in vendor:
                out[name] = vendor[name]
            elif name in model_values:
                out[name] = convert(model_values[name], self._model_units.get(name), point.unit)
        return out


def served_profile(profile_name: str, model: DeviceModel) -> ServedProfile | None:
    """The shipped profile `profile_name` served by `model`, or None when the model serves its
    own register map (the Plantroom simulator profiles) or the profile has no mapping."""
    vendor = VENDOR_MAPS.get(profile_name)
    if vendor is None:
        return None
    profile = load_profile(SHIPPED_DIR / f"{profile_name}.yaml")
    if not isinstance(profile, ModbusProfile):
        raise ConfigError(f"profile {profile_name!r} is not a Modbus profile")
    return ServedProfile(profile, model, vendor)
