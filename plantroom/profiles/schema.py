"""The device-profile schema: the typed models a profile YAML file is validated into.

What pydantic's field types cannot say (a `bool` point on a holding register, a string
without `length`, ...) is checked in `plantroom.profiles.checks`; `plantroom.profiles.loader`
reads a file and names the file, line, point and field of every problem.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from plantroom.kinds import Kind
from plantroom.schema import MAX_STRING, PointName

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
ValueType = Literal["bool", "number", "enum", "text"]
"""What a point's values are, whatever the wire: the types of `plantroom.canonical` (where a
counter is a number that only grows)."""


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
    unit: str | None = Field(
        default=None,
        max_length=32,
        description="the unit the device reports (pint syntax); a numeric point needs one",
    )
    role: Role = Role.MEASUREMENT
    report: ReportPolicy | None = None

    @field_validator("unit", mode="before")
    @classmethod
    def _pure_number(cls, value: object) -> object:
        """`unit: 1` (a YAML number) is the pure number's unit `"1"`."""
        return "1" if type(value) is int and value == 1 else value

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
    def value_type(self) -> ValueType:
        if self.type in ("bool", "bit"):
            return "bool"
        if self.type in ("enum", "string"):
            return "enum" if self.type == "enum" else "text"
        return "number"

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

    @property
    def value_type(self) -> ValueType:
        """A JSON string may be a label (an enum) or a text: `text` here, and either fits."""
        if self.type == "bool":
            return "bool"
        return "text" if self.type == "string" else "number"

    @cached_property
    def steps(self) -> tuple[str | int, ...]:
        return parse_path(self.path)


MAX_CODES = 64
"""Most codes one `in:` derived point lists."""
MAX_DERIVED_BIT = 63


DeriveForm = Literal["in", "bit", "bits", "expr"]


class Derive(_Strict):
    """How a derived point is computed from other points of the same poll: exactly one of
    `in` (with `from`), `bit` (with `from`), `bits` (with `from`) or `expr`."""

    model_config = ConfigDict(populate_by_name=True)

    from_: PointName | None = Field(default=None, alias="from", description="the source point")
    in_: list[int | str] | None = Field(
        default=None,
        alias="in",
        min_length=1,
        max_length=MAX_CODES,
        description="true when the source's raw code (or enum label) is one of these",
    )
    bit: int | None = Field(default=None, ge=0, le=MAX_DERIVED_BIT, description="0 = LSB")
    bits: tuple[int, int] | None = Field(
        default=None, description="[lo, hi], inclusive: an unsigned bit field"
    )
    expr: str | None = Field(
        default=None, min_length=1, description="a comparison or arithmetic expression"
    )

    @property
    def given(self) -> list[DeriveForm]:
        """The forms given, in the order in, bit, bits, expr (one, in a valid profile)."""
        forms: tuple[tuple[DeriveForm, object], ...] = (
            ("in", self.in_),
            ("bit", self.bit),
            ("bits", self.bits),
            ("expr", self.expr),
        )
        return [form for form, value in forms if value is not None]

    @property
    def form(self) -> DeriveForm | None:
        """The one form given, or None when none or several are."""
        given = self.given
        return given[0] if len(given) == 1 else None


class DerivedPoint(_Point):
    """A point computed at the edge from other points of the same poll of the device."""

    derive: Derive

    @cached_property
    def value_type(self) -> ValueType:
        form = self.derive.form
        if form == "bits":
            return "number"
        if form == "expr" and self.derive.expr is not None:
            from plantroom.profiles.expressions import result_type

            return result_type(self.derive.expr)
        return "bool"


class _Profile(_Strict):
    name: ProfileName
    kind: Kind
    description: str | None = None
    report: ReportPolicy | None = Field(default=None, description="default for every point")
    derived: list[DerivedPoint] = Field(
        default_factory=list,
        description="the points of `points:` with a `derive:` key, in the order written",
    )

    @model_validator(mode="before")
    @classmethod
    def _split_derived(cls, data: object) -> object:
        """A profile file lists derived points among the others; the model keeps them apart
        (`points` are read from the device, `derived` computed from them)."""
        if isinstance(data, dict) and isinstance(data.get("points"), list):
            points = data["points"]
            derived = [p for p in points if is_derived_entry(p)]
            if derived:
                data = {
                    **data,
                    "points": [p for p in points if not is_derived_entry(p)],
                    "derived": [*data.get("derived", []), *derived],
                }
        return data

    def all_points(self) -> list[ModbusPoint | MqttPoint | DerivedPoint]:
        """Every point the equipment reports: those read, then those derived."""
        points: list[ModbusPoint | MqttPoint | DerivedPoint] = list(getattr(self, "points", []))
        return [*points, *self.derived]

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
PROFILE_MODELS: dict[str, type[ModbusProfile] | type[MqttProfile]] = {
    "modbus": ModbusProfile,
    "mqtt": MqttProfile,
}


def is_derived_entry(entry: object) -> bool:
    """A `points:` entry of a profile file that is a derived point."""
    return isinstance(entry, dict) and "derive" in entry


def parse_path(path: str) -> tuple[str | int, ...]:
    """`circuits.0.on` → ("circuits", 0, "on"). Raises ValueError on an empty segment."""
    steps: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"path {path!r} has an empty segment")
        steps.append(int(part) if part.isdigit() else part)
    return tuple(steps)
