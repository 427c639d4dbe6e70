"""The one decode pipeline for Modbus points.

registers → word/byte order → bytes → struct.unpack → not-available check → scale, offset →
value. Enums become their name (`"code_<n>"` for a code the profile does not list), a bit of
a register becomes a bool, a string becomes stripped ASCII. `None` means "not available".
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

from edge.profile import FLOAT_TYPES, ModbusPoint

Value = bool | int | float | str | None

_FORMATS: dict[str, str] = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "int64": ">q",
    "uint64": ">Q",
    "float32": ">f",
    "float64": ">d",
    "enum": ">H",
    "bit": ">H",
}


def order_bytes(words: Sequence[int], order: str) -> bytes:
    """Put register words into big-endian byte order (ABCD) for `struct`.

    The letters name the bytes of a 32-bit value as they arrive, A the most significant:
    ABCD is big-endian words of big-endian bytes, CDAB swaps the words, BADC swaps the bytes
    within each word, DCBA does both. Longer values extend the same rule (ABCDEFGH…); a
    single register is only affected by the byte swap.
    """
    for w in words:
        if not 0 <= w <= 0xFFFF:
            raise ValueError(f"register value {w} is outside 0..65535")
    seq = list(words)
    if order in ("CDAB", "DCBA"):
        seq.reverse()
    byteorder: Literal["little", "big"] = "little" if order in ("BADC", "DCBA") else "big"
    return b"".join(w.to_bytes(2, byteorder) for w in seq)


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32: 1959.2515, not 1959.25146484375."""
    packed = struct.pack(">f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value


def _scaled(point: ModbusPoint, raw: int | float) -> int | float:
    if point.scale == 1 and point.offset == 0:
        return raw
    value = raw * point.scale + point.offset
    if point.type in FLOAT_TYPES:
        return value
    if point.decimals == 0:
        return round(value)
    return round(value, point.decimals)


def decode_registers(point: ModbusPoint, words: Sequence[int]) -> Value:
    """Decode one register point from exactly the words it occupies."""
    if len(words) != point.count:
        raise ValueError(
            f"point {point.name!r} ({point.type}) needs {point.count} registers, got {len(words)}"
        )
    data = order_bytes(words, point.order)
    if point.type == "string":
        text = data.split(b"\x00", 1)[0].decode("ascii", errors="replace")
        return text.strip()
    raw_bits = int.from_bytes(data, "big")
    if point.not_available is not None:
        mask = (1 << (8 * len(data))) - 1
        if point.not_available & mask == raw_bits:
            return None
    (number,) = struct.unpack(_FORMATS[point.type], data)
    if point.type == "bit":
        assert point.bit is not None  # checked when the profile loaded
        return bool((raw_bits >> point.bit) & 1)
    if point.type == "enum":
        names = point.enum or {}
        return names.get(raw_bits, f"code_{raw_bits}")
    if isinstance(number, float):
        if not math.isfinite(number):
            return None
        if point.type == "float32":
            number = shortest_float32(number)
    value = _scaled(point, number)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def decode_bit(point: ModbusPoint, bit: bool) -> bool:
    """A coil or discrete input is its own value."""
    if point.type != "bool":
        raise ValueError(f"point {point.name!r} of type {point.type!r} is not a coil/discrete bit")
    return bool(bit)
