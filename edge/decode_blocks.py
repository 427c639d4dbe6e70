"""Decoding one read block at a time: the compiled decoders the edge polls with.

`BlockDecoder` compiles one closure per point when the plan is made, with everything that does
not depend on the data worked out up front: which words in which order, the struct formats,
masks, the not-available value as it arrives, scale and rounding. Each closure gives exactly
what `edge.decode.decode_registers` / `decode_bit` give for its point; the tests hold them to
that.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Literal

from edge.decode import FORMATS, Value, decode_bit, decode_registers, scaled, shortest_float32
from plantroom.profiles import FLOAT_TYPES, ModbusPoint

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
            value = scaled(point, raw)
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
    unpack = struct.Struct(unpack_order + FORMATS[kind][1]).unpack
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
    if point.type not in FORMATS:  # not a register type (a coil bool): the pipeline says so

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
