"""The one decode pipeline for Modbus points.

registers → word/byte order → bytes → struct.unpack → not-available check → scale, offset →
value. Enums become their name (`"code_<n>"` for a code the profile does not list), a bit of
a register becomes a bool, a string becomes stripped ASCII. `None` means "not available".
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Literal

from plantroom.profiles import FLOAT_TYPES, ModbusPoint

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
#
# `BlockDecoder` compiles one closure per point when the plan is made, with everything that does
# not depend on the data worked out up front: which words in which order, the struct formats,
# masks, the not-available value as it arrives, scale and rounding. Each closure gives exactly
# what `decode_registers` / `decode_bit` give for its point; the tests hold them to that.

_Decoder = Callable[[Sequence[int]], Value]
_Finish = Callable[[int | float], Value]
_Fetch = Callable[[Sequence[int]], bytes]

_INT_RANGE = 2.0**64  # no raw integer of a point is larger in magnitude
_SAFE_SCALED = 1e300  # below this, raw * scale + offset cannot overflow to infinity


def _swap16(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def _layout(order: str) -> tuple[Literal["<", ">"], Literal["<", ">"]]:
    """(pack, unpack) byte orders that turn the words, as they arrive, into the value.

    Packing the words big-endian and reading big-endian is ABCD. Reading little-endian
    reverses every byte, so packing little-endian first keeps each word's bytes and reverses
    the words (CDAB), while packing big-endian reverses both (DCBA). Packing little-endian and
    reading big-endian swaps the bytes within each word only (BADC).
    """
    word_swap = order in ("CDAB", "DCBA")
    byte_swap = order in ("BADC", "DCBA")
    return ("<" if word_swap != byte_swap else ">"), ("<" if word_swap else ">")


def _bounded(point: ModbusPoint) -> bool:
    """Whether raw * scale + offset is a finite float for every raw integer of the point."""
    scale, offset = point.scale, point.offset
    return (
        isinstance(scale, float)
        and isinstance(offset, float)
        and abs(scale) * _INT_RANGE + abs(offset) < _SAFE_SCALED
    )


def _finisher(point: ModbusPoint) -> _Finish | None:
    """Scale, offset, rounding and the finite check after the raw number; None if the raw
    number is the value."""
    scale, offset = point.scale, point.offset
    if scale == 1 and offset == 0:
        return None
    if point.type in FLOAT_TYPES:

        def real(raw: int | float) -> Value:
            value = raw * scale + offset
            return value if math.isfinite(value) else None

        return real

    decimals = point.decimals
    if not _bounded(point):  # the value may overflow: the pipeline's own steps, whatever they give

        def exact(raw: int | float) -> Value:
            value = _scaled(point, raw)
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return value

        return exact

    if decimals == 0:

        def whole(raw: int | float) -> Value:
            return round(raw * scale + offset)

        return whole

    def rounded(raw: int | float) -> Value:
        return round(raw * scale + offset, decimals)

    return rounded


def _not_available(point: ModbusPoint) -> int | None:
    """The raw bits (ABCD order) the device sends for "not available", or None."""
    if point.not_available is None:
        return None
    return point.not_available & ((1 << (16 * point.count)) - 1)


def _places(point: ModbusPoint) -> int | None:
    """The decimals a scaled integer is rounded to, when a closure may do it inline:
    `round(raw * scale + offset, places)` is then all that `_finisher` does."""
    if point.type in FLOAT_TYPES or (point.scale == 1 and point.offset == 0):
        return None
    if not _bounded(point) or point.decimals == 0:
        return None
    return point.decimals


def _one_register(point: ModbusPoint, index: int) -> _Decoder:
    """A 16-bit number, enum or bit: only the byte swap changes a single register."""
    kind = point.type
    byte_swap = point.order in ("BADC", "DCBA")
    na = _not_available(point)
    na_word = None if na is None else _swap16(na) if byte_swap else na  # as it arrives

    if kind == "bit":
        assert point.bit is not None  # checked when the profile loaded
        mask = 1 << ((point.bit + 8) % 16 if byte_swap else point.bit)

        def bit(data: Sequence[int]) -> Value:
            word = data[index]
            if word == na_word:
                return None
            return word & mask != 0

        return bit

    if kind == "enum":
        names = point.enum or {}

        def enum(data: Sequence[int]) -> Value:
            code = data[index]
            if code == na_word:
                return None
            if byte_swap:
                code = _swap16(code)
            name = names.get(code)
            return name if name is not None else f"code_{code}"

        return enum

    signed = kind == "int16"
    finish = _finisher(point)
    scale, offset, places = point.scale, point.offset, _places(point)
    if finish is None and not signed and not byte_swap and na_word is None:
        return itemgetter(index)

    def number(data: Sequence[int]) -> Value:
        raw = data[index]
        if raw == na_word:
            return None
        if byte_swap:
            raw = _swap16(raw)
        if signed and raw & 0x8000:
            raw -= 0x10000
        if places is not None:
            return round(raw * scale + offset, places)
        return raw if finish is None else finish(raw)

    return number


def _fetch(index: int, count: int, order: Literal["<", ">"]) -> _Fetch:
    """Packs the 2 or 4 words of a point at `index` into bytes, each word in `order`."""
    pack = struct.Struct(f"{order}{count}H").pack
    a, b, c, d = index, index + 1, index + 2, index + 3
    if count == 2:

        def two(data: Sequence[int]) -> bytes:
            return pack(data[a], data[b])

        return two

    def four(data: Sequence[int]) -> bytes:
        return pack(data[a], data[b], data[c], data[d])

    return four


def _wide(point: ModbusPoint, index: int) -> _Decoder:
    """A number of 2 or 4 registers in any word/byte order."""
    kind, count = point.type, point.count
    na = _not_available(point)
    finish = _finisher(point)
    scale, offset, places = point.scale, point.offset, _places(point)

    if kind in ("int32", "uint32") and point.order in ("ABCD", "CDAB"):
        # the bytes of each word are in place: two words make the number
        hi, lo = (index + 1, index) if point.order == "CDAB" else (index, index + 1)
        signed = kind == "int32"

        def pair(data: Sequence[int]) -> Value:
            raw = (data[hi] << 16) | data[lo]
            if raw == na:
                return None
            if signed and raw & 0x8000_0000:
                raw -= 0x1_0000_0000
            if places is not None:
                return round(raw * scale + offset, places)
            return raw if finish is None else finish(raw)

        return pair

    pack_order, unpack_order = _layout(point.order)
    fetch = _fetch(index, count, pack_order)
    unpack = struct.Struct(unpack_order + _FORMATS[kind][1]).unpack
    byteorder: Literal["little", "big"] = "little" if unpack_order == "<" else "big"
    na_bytes = None if na is None else na.to_bytes(2 * count, byteorder)

    if kind not in FLOAT_TYPES:

        def integer(data: Sequence[int]) -> Value:
            raw = fetch(data)
            if raw == na_bytes:
                return None
            (number,) = unpack(raw)
            return number if finish is None else finish(number)

        return integer

    single = kind == "float32"
    isfinite = math.isfinite

    def real(data: Sequence[int]) -> Value:
        raw = fetch(data)
        if raw == na_bytes:
            return None
        (number,) = unpack(raw)
        if not isfinite(number):
            return None
        if single:
            number = shortest_float32(number)
        return number if finish is None else finish(number)

    return real


def _string(point: ModbusPoint, index: int) -> _Decoder:
    end = index + point.count
    pack_order, unpack_order = _layout(point.order)
    pack = struct.Struct(f"{pack_order}{point.count}H").pack
    reverse = unpack_order == "<"  # the layout reads these bytes back to front

    def string(data: Sequence[int]) -> Value:
        raw = pack(*data[index:end])
        if reverse:
            raw = raw[::-1]
        return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()

    return string


def _register_decoder(point: ModbusPoint, index: int) -> _Decoder:
    """The decoder of a point of a register block whose first word is at `index`."""
    if point.type == "string":
        return _string(point, index)
    if point.type not in _FORMATS:  # not a register type (a coil bool): the pipeline says so

        def pipeline(data: Sequence[int]) -> Value:
            return decode_registers(point, data[index : index + point.count])

        return pipeline
    if point.count == 1:
        return _one_register(point, index)
    return _wide(point, index)


def _bit_decoder(point: ModbusPoint, index: int) -> _Decoder:
    """The decoder of a point of a coil/discrete block at `index`."""
    if point.type != "bool":

        def refused(data: Sequence[int]) -> Value:
            return decode_bit(point, bool(data[index]))  # raises: not a coil/discrete bit

        return refused

    def bit(data: Sequence[int]) -> Value:
        return bool(data[index])

    return bit


class BlockDecoder:
    """Decodes every point of one read from the words (or bits) the read returned.

    Gives exactly what `decode_registers` / `decode_bit` give point by point. The decoders
    are compiled once per block; a block with too few words, or with a word outside
    0..65535, goes through the pipeline point by point so that it raises the same error.
    """

    __slots__ = ("_bits", "_decoders", "_guard", "_names", "_need", "_points", "_slices")

    def __init__(self, points: Sequence[ModbusPoint], address: int, bits: bool) -> None:
        self._points = tuple(points)
        self._names = tuple(p.name for p in points)
        self._bits = bits
        self._slices = tuple((p.address - address, p.address - address + p.count) for p in points)
        self._need = max((end for _, end in self._slices), default=0)
        # packing the words as unsigned 16-bit values fails for any word outside 0..65535
        self._guard = struct.Struct(f">{self._need}H").pack
        compile_one = _bit_decoder if bits else _register_decoder
        self._decoders: tuple[_Decoder, ...] = tuple(
            compile_one(p, start) for p, (start, _) in zip(points, self._slices, strict=True)
        )

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def decode(self, data: Sequence[int]) -> list[Value]:
        """The value of each point, in the order the block lists them."""
        size = len(data)
        if size < self._need:
            return self._slow(data)  # the pipeline raises for the first point cut short
        if not self._bits:
            try:
                if size == self._need:
                    self._guard(*data)
                else:
                    struct.pack(f">{size}H", *data)
            except struct.error:
                return self._slow(data)  # the pipeline raises for the bad word of its point
        return [decoder(data) for decoder in self._decoders]

    def _slow(self, data: Sequence[int]) -> list[Value]:
        out: list[Value] = []
        for p, (start, end) in zip(self._points, self._slices, strict=True):
            part = data[start:end]
            out.append(decode_bit(p, bool(part[0])) if self._bits else decode_registers(p, part))
        return out
