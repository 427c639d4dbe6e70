"""Register maps and their encoding: engineering values → Modbus register words and bits.

A map is a list of points, each with its table, 0-based address, data type, word order,
scale and not-available sentinel — the same vocabulary as the device profiles the edge
reads. A map encodes a device's values into a `RegisterImage`, the snapshot the Modbus
server answers from, and decodes writes to its writable points.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

Value = bool | int | float | str | None


class Table(StrEnum):
    COIL = "coil"
    DISCRETE = "discrete"
    HOLDING = "holding"
    INPUT = "input"


BIT_TABLES = frozenset({Table.COIL, Table.DISCRETE})


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    ENUM = "enum"
    BIT = "bit"
    BOOL = "bool"


WIDTH: Mapping[DataType, int] = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.ENUM: 1,
    DataType.BIT: 1,
    DataType.BOOL: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
}

WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a register map. `scale` multiplies the raw value into engineering units."""

    name: str
    table: Table
    address: int
    type: DataType
    unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    order: str = "ABCD"
    not_available: int | None = None
    bit: int | None = None
    enum: Mapping[int, str] | None = None
    description: str = ""
    writable: bool = False
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        where = f"point {self.name!r}"
        if not 0 <= self.address <= 0xFFFF:
            raise ValueError(f"{where}: address {self.address} outside 0..65535")
        if (self.table in BIT_TABLES) != (self.type is DataType.BOOL):
            raise ValueError(f"{where}: type bool belongs in coil/discrete tables and only there")
        if self.type is DataType.BIT and (self.bit is None or not 0 <= self.bit <= 15):
            raise ValueError(f"{where}: a bit point needs bit 0..15")
        if self.type is DataType.ENUM and not self.enum:
            raise ValueError(f"{where}: an enum point needs its enum")
        if self.order not in WORD_ORDERS:
            raise ValueError(f"{where}: order must be one of {', '.join(WORD_ORDERS)}")
        if self.scale <= 0:
            raise ValueError(f"{where}: scale must be positive")
        if self.writable and (
            self.table not in (Table.HOLDING, Table.COIL)
            or self.width != 1
            or self.type is DataType.BIT
        ):
            raise ValueError(f"{where}: only 16-bit holding registers and coils can be writable")

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def registers(self) -> range:
        return range(self.address, self.address + self.width)


def _clamp(raw: int, low: int, high: int, sentinel: int | None) -> int:
    raw = max(low, min(high, raw))
    if sentinel is not None and raw == sentinel:
        raw += -1 if raw == high else 1
    return raw


def _order_words(data: bytes, order: str) -> list[int]:
    """Split big-endian bytes ABCD into 16-bit words laid out in the point's order."""
    if order == "CDAB":
        data = data[2:4] + data[0:2]
    elif order == "BADC":
        data = bytes((data[1], data[0], data[3], data[2]))
    elif order == "DCBA":
        data = data[::-1]
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def encode_point(point: Point, value: Value) -> list[int]:
    """Encode one register point's engineering value into its register words.

    None encodes as the point's not-available sentinel. Out-of-range values saturate (never
    onto the sentinel); 32-bit unsigned counters wrap, as real counters do.
    """
    if point.table in BIT_TABLES:
        raise ValueError(f"point {point.name!r} is a bit, not a register")
    if value is None:
        if point.not_available is None:
            raise ValueError(f"point {point.name!r} has no not-available value")
        if point.width == 1:
            return [point.not_available & 0xFFFF]
        wide = point.not_available & 0xFFFF_FFFF
        return _order_words(wide.to_bytes(4, "big"), point.order)
    t = point.type
    if t is DataType.BIT:
        return [(1 << (point.bit or 0)) if value else 0]
    if t is DataType.ENUM:
        return [_enum_code(point, value)]
    if isinstance(value, str):
        raise ValueError(f"point {point.name!r} is numeric, got {value!r}")
    number = (float(value) - point.offset) / point.scale
    if t is DataType.FLOAT32:
        return _order_words(struct.pack(">f", number), point.order)
    if not math.isfinite(number):
        raise ValueError(f"point {point.name!r}: {value!r} is not a finite number")
    raw = round(number)
    sentinel = point.not_available
    if t is DataType.INT16:
        return [_clamp(raw, -0x8000, 0x7FFF, _signed16(sentinel)) & 0xFFFF]
    if t is DataType.UINT16:
        return [_clamp(raw, 0, 0xFFFF, sentinel)]
    if t is DataType.INT32:
        raw = _clamp(raw, -0x8000_0000, 0x7FFF_FFFF, None)
        return _order_words(struct.pack(">i", raw), point.order)
    return _order_words(struct.pack(">I", raw % 0x1_0000_0000), point.order)


def _signed16(sentinel: int | None) -> int | None:
    if sentinel is None:
        return None
    return sentinel - 0x10000 if sentinel >= 0x8000 else sentinel


def _enum_code(point: Point, value: Value) -> int:
    assert point.enum is not None
    if isinstance(value, str):
        for code, name in point.enum.items():
            if name == value:
                return code
        names = sorted(point.enum.values())
        raise ValueError(f"point {point.name!r}: {value!r} is not one of {names}")
    if isinstance(value, int) and value in point.enum:
        return value
    raise ValueError(f"point {point.name!r}: {value!r} is not one of {sorted(point.enum)}")


@dataclass(slots=True)
class RegisterImage:
    """A snapshot of a device's tables: what a Modbus read answers with."""

    registers: dict[Table, list[int]] = field(default_factory=dict)
    bits: dict[Table, list[bool]] = field(default_factory=dict)


class RegisterMap:
    """The points of one kind of device, validated for overlaps at construction."""

    def __init__(self, name: str, points: Iterable[Point]) -> None:
        self.name = name
        self.points: tuple[Point, ...] = tuple(points)
        self.by_name: dict[str, Point] = {}
        self.sizes: dict[Table, int] = dict.fromkeys(Table, 0)
        owners: dict[tuple[Table, int], Point] = {}
        bits_used: dict[tuple[Table, int], set[int]] = {}
        for p in self.points:
            if p.name in self.by_name:
                raise ValueError(f"map {name!r}: point {p.name!r} defined twice")
            self.by_name[p.name] = p
            for reg in p.registers:
                key = (p.table, reg)
                other = owners.get(key)
                if other is not None and not (
                    other.type is DataType.BIT
                    and p.type is DataType.BIT
                    and p.bit not in bits_used[key]
                ):
                    raise ValueError(
                        f"map {name!r}: {p.name!r} overlaps {other.name!r} at {p.table} {reg}"
                    )
                owners[key] = p
                if p.type is DataType.BIT and p.bit is not None:
                    bits_used.setdefault(key, set()).add(p.bit)
            self.sizes[p.table] = max(self.sizes[p.table], p.address + p.width)
        self._writable: dict[tuple[Table, int], Point] = {
            (p.table, p.address): p for p in self.points if p.writable
        }

    def points_in(self, table: Table) -> list[Point]:
        points = [p for p in self.points if p.table is table]
        return sorted(points, key=lambda p: (p.address, p.bit or 0))

    def encode(self, values: Mapping[str, Value]) -> RegisterImage:
        """Encode every point of the map. Addresses no point uses read as 0."""
        image = RegisterImage()
        for table in (Table.HOLDING, Table.INPUT):
            image.registers[table] = [0] * self.sizes[table]
        for table in BIT_TABLES:
            image.bits[table] = [False] * self.sizes[table]
        for p in self.points:
            if p.name not in values:
                raise ValueError(f"map {self.name!r}: no value for point {p.name!r}")
            value = values[p.name]
            if p.table in BIT_TABLES:
                image.bits[p.table][p.address] = bool(value)
                continue
            words = encode_point(p, value)
            regs = image.registers[p.table]
            if p.type is DataType.BIT:
                regs[p.address] |= words[0]
            else:
                regs[p.address : p.address + p.width] = words
        return image

    def writable_point(self, table: Table, address: int) -> Point | None:
        return self._writable.get((table, address))

    @staticmethod
    def decode_write(point: Point, raw: int | bool) -> Value:
        """Turn a written register word or coil into the point's engineering value.

        Raises ValueError when the value is outside the point's range or enum.
        """
        if point.type is DataType.BOOL:
            return bool(raw)
        word = int(raw) & 0xFFFF
        if point.type is DataType.ENUM:
            assert point.enum is not None
            if word not in point.enum:
                raise ValueError(f"{point.name}: {word} is not one of {sorted(point.enum)}")
            return point.enum[word]
        number = word - 0x10000 if point.type is DataType.INT16 and word >= 0x8000 else word
        value = number * point.scale
        if (point.minimum is not None and value < point.minimum) or (
            point.maximum is not None and value > point.maximum
        ):
            raise ValueError(f"{point.name}: {value:g} outside {point.minimum}..{point.maximum}")
        return round(value, 6) if point.scale != 1 else number


def markdown_table(register_map: RegisterMap) -> str:
    """The map as a Markdown table, as printed in simulators/README.md."""
    rows = [
        "| table | address | type | order | scale | unit | n/a | point | meaning |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for table in (Table.HOLDING, Table.INPUT, Table.DISCRETE, Table.COIL):
        for p in register_map.points_in(table):
            addr = f"{p.address}.{p.bit}" if p.type is DataType.BIT else str(p.address)
            if p.width > 1:
                addr = f"{p.address}-{p.address + p.width - 1}"
            order = p.order if p.width > 1 else ""
            scale = f"{p.scale:g}" if p.scale != 1 else ""
            na = f"0x{p.not_available:04X}" if p.not_available is not None else ""
            meaning = p.description
            if p.enum:
                meaning += " (" + ", ".join(f"{k} {v}" for k, v in sorted(p.enum.items())) + ")"
            if p.writable:
                meaning += " — writable"
            rows.append(
                f"| {p.table} | {addr} | {p.type} | {order} | {scale} | {p.unit or ''} | {na} "
                f"| `{p.name}` | {meaning.strip()} |"
            )
    return "\n".join(rows)
