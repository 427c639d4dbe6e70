"""The canonical points: what Plantroom's own rules, PM plans and dashboards read, per kind.

A device profile maps a vendor's register map or JSON onto these names, directly or through
derived points (docs/profiles.md). A numeric point of a profile that carries a canonical name
is reported in the canonical unit: the edge converts it. Each entry names the point, its
type (bool, number, enum, counter, text), its canonical unit (numbers and counters), its
meaning, the enum labels its readers compare against, and who reads it: `rule <id>`
(cloud/rules/*.yaml), `pm <plan id>` (cloud/pm/plans/*.yaml) and `dashboard <uid>`
(dashboards/boards). The KPIs and the operator console read no point by name: the console
shows whatever points a device reports.

docs/points.md is generated from this table (`python -m plantroom.pointsdoc --write`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from plantroom.kinds import Kind

PointType = Literal["bool", "number", "enum", "counter", "text"]
POINT_TYPES: tuple[PointType, ...] = ("bool", "number", "enum", "counter", "text")
DIMENSIONLESS = "1"
"""The unit of a pure number (a count, a floor number); a profile may also write `count`."""


@dataclass(frozen=True, slots=True)
class CanonicalPoint:
    """One point the shipped rules, PM plans or dashboards read from equipment of one kind."""

    name: str
    kind: Kind
    type: PointType
    unit: str | None
    """The canonical unit (pint syntax) of a number or counter; None for bool, enum, text."""
    meaning: str
    readers: tuple[str, ...]
    """Who reads it: `rule <id>`, `pm <plan id>`, `dashboard <uid>`, sorted."""
    labels: tuple[str, ...] = ()
    """For an enum: the labels the readers know (a profile's enum maps codes onto them)."""

    @property
    def numeric(self) -> bool:
        """A number or a counter: it has a unit, and the edge converts it to that unit."""
        return self.type in ("number", "counter")


def _p(
    kind: Kind,
    name: str,
    type_: PointType,
    unit: str | None,
    meaning: str,
    *readers: str,
    labels: tuple[str, ...] = (),
) -> CanonicalPoint:
    return CanonicalPoint(name, kind, type_, unit, meaning, tuple(sorted(readers)), labels)


_E, _PU, _L, _F = Kind.ELEVATOR, Kind.PUMP, Kind.LIGHTING, Kind.FIRE_PANEL
_DOOR_STATES = ("closed", "opening", "open", "closing", "fault")
_LIFT_MODES = ("normal", "out_of_service", "inspection", "fire_service", "stopped")
_LIFT_FAULTS = (
    "none",
    "door_open_fault",
    "door_close_fault",
    "stopped_outside_landing_zone",
    "drive_over_temperature",
    "safety_circuit_open",
    "leveling_error",
)
_RUN_STATES = ("stopped", "running", "fault")
_PUMP_CODES = (
    "none",
    "overload",
    "dry_run",
    "motor_over_temperature",
    "bearing_wear",
    "high_level",
    "low_pressure",
)
_LIFE_SAFETY = ("normal", "pre_alarm", "alarm", "fault", "supervisory", "disabled")
_LIGHTING = "dashboard plantroom-lighting"
_FIRE_PANELS = "dashboard plantroom-fire-panels"
_NIGHT_AND_DAY = ("rule lighting.off_at_night", "rule lighting.on_in_daylight")


def _circuit(
    n: int, on: tuple[str, ...] = (), tripped: tuple[str, ...] = (), *, relamped: bool = True
) -> tuple[CanonicalPoint, ...]:
    """Lighting circuit `n`'s points; `on` and `tripped` name the readers only it has, and
    `relamped` whether the group relamping plan reads its burn hours."""
    relamping = ("pm lighting.group_relamping",) if relamped else ()
    return (
        _p(_L, f"circuit_{n}_on", "bool", None, f"circuit {n} is lit", _LIGHTING,
           "dashboard plantroom-portfolio", *on),
        _p(_L, f"circuit_{n}_power", "number", "W", f"circuit {n} power drawn", _LIGHTING),
        _p(_L, f"circuit_{n}_lamps", "number", "1", f"lamps on circuit {n}", _LIGHTING),
        _p(_L, f"circuit_{n}_failed_lamps", "number", "1", f"failed lamps on circuit {n}",
           _LIGHTING, "dashboard plantroom-portfolio", "rule lighting.lamps_failed"),
        _p(_L, f"circuit_{n}_tripped", "bool", None, f"circuit {n}'s breaker has tripped",
           _LIGHTING, "rule lighting.circuit_tripped", *tripped),
        _p(_L, f"circuit_{n}_burn_hours", "counter", "h",
           f"hours circuit {n}'s lamps have burnt since relamping", _LIGHTING,
           *relamping, "rule lighting.burn_hours"),
    )  # fmt: skip


def _zone(n: int) -> CanonicalPoint:
    """Fire panel zone `n`'s state."""
    return _p(
        _F, f"zone_{n}", "enum", None, f"zone {n} state (BACnet life-safety states)",
        _FIRE_PANELS, "rule fire_panel.fire_alarm", "rule fire_panel.pre_alarm",
        "rule fire_panel.supervisory", "rule fire_panel.trouble", "rule fire_panel.zone_disabled",
        labels=_LIFE_SAFETY,
    )  # fmt: skip


# fmt: off
_TABLE: tuple[CanonicalPoint, ...] = (
    # -- elevator ------------------------------------------------------------
    _p(_E, "floor", "number", "1", "floor the car is at (the controller's floor number)",
       "dashboard plantroom-lifts"),
    _p(_E, "door_state", "enum", None, "car door state", "dashboard plantroom-lifts",
       labels=_DOOR_STATES),
    _p(_E, "mode", "enum", None, "operating mode", "dashboard plantroom-lifts",
       "dashboard plantroom-portfolio", "rule elevator.out_of_service",
       "rule elevator.passenger_trapped", labels=_LIFT_MODES),
    _p(_E, "load", "number", "kg", "load in the car", "dashboard plantroom-lifts",
       "rule elevator.passenger_trapped"),
    _p(_E, "drive_temperature", "number", "degC", "drive (inverter) heatsink temperature",
       "dashboard plantroom-lifts", "rule elevator.drive_over_temperature"),
    _p(_E, "trips", "counter", "1", "trips the car has made, ever", "dashboard plantroom-lifts",
       "rule elevator.door_reopen_repeated"),
    _p(_E, "door_cycles", "counter", "1", "door open/close cycles, ever",
       "dashboard plantroom-lifts", "pm elevator.door_operator_service",
       "rule elevator.door_reopen_repeated"),
    _p(_E, "run_hours", "counter", "h", "hours the lift has run, ever",
       "dashboard plantroom-lifts"),
    _p(_E, "fault_code", "enum", None, "active fault (none when there is none)",
       "dashboard plantroom-lifts", "rule elevator.door_close_fault",
       "rule elevator.door_open_fault", "rule elevator.drive_over_temperature",
       "rule elevator.leveling_error", "rule elevator.out_of_service",
       "rule elevator.passenger_trapped", "rule elevator.safety_circuit_open", labels=_LIFT_FAULTS),
    _p(_E, "at_landing", "bool", None, "the car is level with a landing",
       "rule elevator.passenger_trapped"),
    _p(_E, "safety_circuit_ok", "bool", None, "the safety chain is closed",
       "dashboard plantroom-lifts", "rule elevator.safety_circuit_open"),
    _p(_E, "passenger_trapped", "bool", None, "the controller reports a passenger trapped",
       "dashboard plantroom-lifts", "rule elevator.passenger_trapped"),
    # -- pump ----------------------------------------------------------------
    _p(_PU, "run_state", "enum", None, "run state", "dashboard plantroom-portfolio",
       "dashboard plantroom-pumps", "rule pump.bearing_wear", "rule pump.fault_code",
       "rule pump.over_current", labels=_RUN_STATES),
    _p(_PU, "speed", "number", "rpm", "shaft speed", "dashboard plantroom-pumps"),
    _p(_PU, "current", "number", "A", "motor current", "dashboard plantroom-pumps"),
    _p(_PU, "power", "number", "kW", "electrical power drawn", "dashboard plantroom-pumps"),
    _p(_PU, "discharge_pressure", "number", "bar", "discharge pressure (gauge)",
       "dashboard plantroom-pumps"),
    _p(_PU, "flow", "number", "m3/h", "flow delivered", "dashboard plantroom-pumps"),
    _p(_PU, "motor_temperature", "number", "degC", "motor winding temperature",
       "dashboard plantroom-pumps", "rule pump.motor_over_temperature"),
    _p(_PU, "vibration", "number", "mm/s", "bearing vibration velocity (RMS)",
       "dashboard plantroom-pumps", "rule pump.bearing_wear"),
    _p(_PU, "sump_level", "number", "%", "sump or tank level, of its height",
       "dashboard plantroom-pumps", "rule pump.high_level"),
    _p(_PU, "run_hours", "counter", "h", "hours the pump has run, ever",
       "dashboard plantroom-pumps", "pm pump.monthly_check"),
    _p(_PU, "starts", "counter", "1", "starts of the pump, ever", "dashboard plantroom-pumps",
       "rule pump.short_cycling"),
    _p(_PU, "alarm_code", "enum", None,
       "active alarm (none when there is none; other codes raise pump.fault_code)",
       "dashboard plantroom-pumps", "rule pump.fault_code", "rule pump.motor_over_temperature",
       labels=_PUMP_CODES),
    _p(_PU, "warning_code", "enum", None, "active warning (none when there is none)",
       "dashboard plantroom-pumps", labels=_PUMP_CODES),
    _p(_PU, "dry_run", "bool", None, "dry-run protection tripped: no water at the suction",
       "dashboard plantroom-pumps", "rule pump.dry_run", "rule pump.low_pressure"),
    _p(_PU, "low_pressure", "bool", None, "discharge pressure below its limit while running",
       "dashboard plantroom-pumps", "rule pump.low_pressure"),
    _p(_PU, "over_current", "bool", None, "motor current above its rating",
       "dashboard plantroom-pumps", "rule pump.over_current"),
    _p(_PU, "high_level", "bool", None, "high-level float or switch tripped",
       "dashboard plantroom-pumps", "rule pump.high_level"),
    _p(_PU, "leak", "bool", None, "leak detector under the pump sees water",
       "dashboard plantroom-pumps", "rule pump.seal_leak"),
    # -- lighting ------------------------------------------------------------
    _p(_L, "mains_voltage", "number", "V", "supply voltage", "dashboard plantroom-lighting"),
    *_circuit(1),
    *_circuit(2),
    *_circuit(3, on=_NIGHT_AND_DAY, tripped=("rule lighting.off_at_night",)),
    *_circuit(4, relamped=False),
    # -- fire_panel ----------------------------------------------------------
    _p(_F, "panel_state", "enum", None, "panel state (BACnet life-safety states)",
       "dashboard plantroom-fire-panels", "dashboard plantroom-portfolio",
       "rule fire_panel.fire_alarm", "rule fire_panel.pre_alarm", labels=_LIFE_SAFETY),
    _p(_F, "battery_voltage", "number", "V", "standby battery voltage",
       "dashboard plantroom-fire-panels", "rule fire_panel.low_battery"),
    _p(_F, "active_alarms", "number", "1", "zones or devices in alarm now",
       "dashboard plantroom-fire-panels", "rule fire_panel.fire_alarm"),
    _p(_F, "mains_ok", "bool", None, "mains supply present", "dashboard plantroom-fire-panels",
       "rule fire_panel.mains_failure", "rule fire_panel.trouble"),
    _p(_F, "battery_ok", "bool", None, "standby battery healthy", "dashboard plantroom-fire-panels",
       "rule fire_panel.low_battery", "rule fire_panel.trouble"),
    _p(_F, "fire_alarm", "bool", None, "the panel is in fire alarm",
       "dashboard plantroom-fire-panels", "rule fire_panel.fire_alarm"),
    _p(_F, "trouble", "bool", None, "the panel reports a trouble (fault)",
       "dashboard plantroom-fire-panels", "rule fire_panel.trouble"),
    _p(_F, "supervisory", "bool", None, "a supervised device is off normal",
       "dashboard plantroom-fire-panels", "rule fire_panel.supervisory"),
    _p(_F, "zone_disabled", "bool", None, "one or more zones are disabled (isolated)",
       "dashboard plantroom-fire-panels", "rule fire_panel.zone_disabled"),
    *(_zone(n) for n in range(1, 9)),
)
# fmt: on


def _index(points: tuple[CanonicalPoint, ...]) -> Mapping[str, Mapping[str, CanonicalPoint]]:
    by_kind: dict[str, dict[str, CanonicalPoint]] = {kind.value: {} for kind in Kind}
    for point in points:
        where = f"canonical point {point.kind.value}.{point.name}"
        if point.name in by_kind[point.kind.value]:
            raise ValueError(f"{where} is declared twice")
        if point.numeric != (point.unit is not None):
            raise ValueError(
                f"{where}: a {point.type} point "
                + ("needs a unit" if point.numeric else "has no unit")
            )
        if bool(point.labels) != (point.type == "enum"):
            raise ValueError(f"{where}: labels are for enum points, and every enum has some")
        by_kind[point.kind.value][point.name] = point
    return MappingProxyType({k: MappingProxyType(v) for k, v in by_kind.items()})


CANONICAL: Mapping[str, Mapping[str, CanonicalPoint]] = _index(_TABLE)
"""kind → point name → canonical point, for every kind of `plantroom.kinds`."""


def canonical_points(kind: str) -> Mapping[str, CanonicalPoint]:
    """The canonical points of one kind, by name. KeyError names the known kinds."""
    try:
        return CANONICAL[kind]
    except KeyError:
        raise KeyError(
            f"no equipment kind {kind!r}; the kinds are {', '.join(CANONICAL)}"
        ) from None


def canonical_point(kind: str, name: str) -> CanonicalPoint | None:
    """The canonical point `name` of `kind`, or None when the name is not canonical there."""
    return CANONICAL.get(kind, {}).get(name)
