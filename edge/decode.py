"""The one decode pipeline for Modbus points.

registers → word/byte order → bytes → struct.unpack → not-available check → scale, offset →
value. Enums become their name (`"code_<n>"` for a code the profile does not list), a bit of
a register becomes a bool, a string becomes stripped ASCII. `None` means "not available".

This is the reference decoder of one point; the poll path uses the compiled decoders of
`edge.decode_blocks`, which give exactly the same values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

from plantroom.profiles import FLOAT_TYPES, ModbusPoint

Value = bool | int | float | str | None

FORMATS: dict[str, str] = {
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


_F32 = struct.Struct(">f")
_MIN_NORMAL_F32 = 2.0**-126
_SPECS = tuple(f".{digits}g" for digits in range(10))


def _first_digits(exponent: int) -> int:
    """Where the search for the shortest decimal of a float32 may start.

    `exponent` is `math.frexp`'s for the value, so the float32 has `precision` significant
    bits there (24 when normal, fewer when subnormal): the value and every decimal that
    rounds to the same float32 lie within 2**(1 - precision) of the value of it, so two such
    decimals are less than 2**(2 - precision) apart. Decimals of at most D digits lie at
    least 10**-D apart, relatively, so when 10**-D > 2**(2 - precision) one of them at most
    rounds to the float32, and it is the nearest to the value: what `%.{D}g` gives, trailing
    zeros dropped. So if no length up to D fits, D does not either, and if one does, D gives
    the same number.
    """
    precision = min(24, exponent + 149)
    return max(1, math.floor((precision - 2) * math.log10(2)))


_SUBNORMAL_FIRST = {exponent: _first_digits(exponent) for exponent in range(-148, -125)}


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32: 1959.2515, not 1959.25146484375.

    A normal float32 carries 6 significant decimal digits, so the search starts at 6 (see
    `_first_digits`); a subnormal starts lower, zero and non-finite values at 1.
    """
    packed = _F32.pack(value)
    magnitude = abs(value)
    if _MIN_NORMAL_F32 <= magnitude < math.inf:
        first = 6
    elif 0 < magnitude < _MIN_NORMAL_F32:
        first = _SUBNORMAL_FIRST.get(math.frexp(magnitude)[1], 1)
    else:
        first = 1
    for spec in _SPECS[first:]:
        candidate = float(format(value, spec))
        try:
            if _F32.pack(candidate) == packed:
                return candidate
        except OverflowError:  # rounded past the largest float32: not this one
            continue
    return value


def scaled(point: ModbusPoint, raw: int | float) -> int | float:
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
    (number,) = struct.unpack(FORMATS[point.type], data)
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
    value = scaled(point, number)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def decode_bit(point: ModbusPoint, bit: bool) -> bool:
    """A coil or discrete input is its own value."""
    if point.type != "bool":
        raise ValueError(f"point {point.name!r} of type {point.type!r} is not a coil/discrete bit")
    return bool(bit)
