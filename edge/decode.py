"""The one decode pipeline for Modbus points.

registers → word/byte order → bytes → struct.unpack → not-available check → scale, offset →
value. Enums become their name (`"code_<n>"` for a code the profile does not list), a bit of
a register becomes a bool, a string becomes stripped ASCII. `None` means "not available".
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
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
        try:
            if struct.pack(">f", candidate) == packed:
                return candidate
        except OverflowError:  # rounded past the largest float32: not this one
            continue
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


# -- one read block at a time ------------------------------------------------------------------

_Decoder = Callable[[Sequence[int]], Value]


def _one_word(point: ModbusPoint, index: int) -> _Decoder | None:
    """A decoder for a one-register number, enum or bit at `index` of a block's words.

    Returns None for anything else. For a single register only the byte swap (BADC, DCBA)
    changes the value, so ABCD and CDAB read the word as it is.
    """
    if point.count != 1 or point.order not in ("ABCD", "CDAB"):
        return None
    kind = point.type
    if kind not in ("int16", "uint16", "enum", "bit"):
        return None
    na = None if point.not_available is None else point.not_available & 0xFFFF
    signed = kind == "int16"
    plain = point.scale == 1 and point.offset == 0

    if kind == "bit":
        assert point.bit is not None  # checked when the profile loaded
        shift = point.bit

        def bit(words: Sequence[int]) -> Value:
            w = words[index]
            if w == na:
                return None
            return bool((w >> shift) & 1)

        return bit

    if kind == "enum":
        names = point.enum or {}

        def enum(words: Sequence[int]) -> Value:
            w = words[index]
            if w == na:
                return None
            name = names.get(w)
            return name if name is not None else f"code_{w}"

        return enum

    def number(words: Sequence[int]) -> Value:
        w = words[index]
        if w == na:
            return None
        raw = w - 0x10000 if signed and w & 0x8000 else w
        if plain:
            return raw
        value = _scaled(point, raw)
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return number


class BlockDecoder:
    """Decodes every point of one read from the words (or bits) the read returned.

    Gives exactly what `decode_registers` / `decode_bit` give point by point; the common
    one-register points are decoded straight from their word, without the byte round trip,
    and everything else goes through the pipeline above.
    """

    __slots__ = ("_bits", "_decoders", "_names", "_points", "_slices")

    def __init__(self, points: Sequence[ModbusPoint], address: int, bits: bool) -> None:
        self._points = tuple(points)
        self._names = tuple(p.name for p in points)
        self._bits = bits
        self._slices = tuple((p.address - address, p.address - address + p.count) for p in points)
        decoders: list[_Decoder | None] = []
        for p, (start, _) in zip(points, self._slices, strict=True):
            if bits:
                decoders.append(_bit_at(start) if p.type == "bool" else None)
            else:
                decoders.append(_one_word(p, start))
        self._decoders = tuple(decoders)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def decode(self, data: Sequence[int]) -> list[Value]:
        """The value of each point, in the order the block lists them."""
        if not self._bits and data and (max(data) > 0xFFFF or min(data) < 0):
            return self._slow(data)  # the pipeline raises for the bad word of its point
        out: list[Value] = []
        for p, decoder, (start, end) in zip(
            self._points, self._decoders, self._slices, strict=True
        ):
            if decoder is not None and end <= len(data):
                out.append(decoder(data))
            elif self._bits:
                out.append(decode_bit(p, bool(data[start:end][0])))
            else:
                out.append(decode_registers(p, data[start:end]))
        return out

    def _slow(self, data: Sequence[int]) -> list[Value]:
        out: list[Value] = []
        for p, (start, end) in zip(self._points, self._slices, strict=True):
            part = data[start:end]
            out.append(decode_bit(p, bool(part[0])) if self._bits else decode_registers(p, part))
        return out


def _bit_at(index: int) -> _Decoder:
    def bit(data: Sequence[int]) -> Value:
        return bool(data[index])

    return bit
