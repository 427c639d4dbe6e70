"""The compiled block decoder and the shortest-float32 search give what the pipeline gives.

`decode_registers` / `decode_bit` are the reference: for random points of every type, order,
scale, offset, not-available value, enum, bit and string, and random register words (bad
words and short reads included), a `BlockDecoder` must return the same values of the same
types, or raise the same error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any, get_args

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edge.decode import Value, decode_bit, decode_registers, shortest_float32
from edge.decode_blocks import BlockDecoder
from plantroom.profiles import ModbusPoint, Order, RegisterType

F32 = struct.Struct(">f")
F64 = struct.Struct(">d")
ORDERS = get_args(Order)
# every type a register (not a coil or discrete input) can hold, as the profile schema lists them
REGISTER_TYPES = tuple(t for t in get_args(RegisterType) if t != "bool")
NUMERIC = frozenset(t for t in REGISTER_TYPES if t.endswith(("16", "32", "64")))
WIDTH = {"int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4, "float64": 4}


def point(type_: str | None = None, **kw: Any) -> ModbusPoint:
    fields = {"name": "p", "address": 0, "type": type_, **kw}
    fields["table"] = "coil" if fields["type"] == "bool" else "holding"
    return ModbusPoint.model_validate(fields)


def shortest_by_every_length(value: float) -> float:
    """The search as it was, trying every length from 1 digit: the reference."""
    packed = struct.pack(">f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        try:
            if struct.pack(">f", candidate) == packed:
                return candidate
        except OverflowError:
            continue
    return value


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call gives, compared exactly: each value's type and repr, or the error."""
    try:
        result = call()
    except Exception as exc:
        return ("raises", type(exc), str(exc))
    if isinstance(result, float):
        return ("float", F64.pack(result))  # bit for bit: -0.0, NaN payloads
    if isinstance(result, list):
        return ("values", [(type(v), repr(v)) for v in result])
    return ("value", type(result), repr(result))


# -- shortest_float32 ------------------------------------------------------------------------


def float32_of(bits: int) -> float:
    return float(F32.unpack(bits.to_bytes(4, "big"))[0])


def assert_same_shortest(value: float) -> None:
    assert outcome(lambda: shortest_float32(value)) == outcome(
        lambda: shortest_by_every_length(value)
    ), value


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 2**32 - 1))
@example(0x0000_0001)  # the smallest subnormal, 1e-45
@example(0x007F_FFFF)  # the largest subnormal
@example(0x0080_0000)  # the smallest normal
@example(0x7F7F_FFFF)  # the largest float32
@example(0x8000_0000)  # -0.0
@example(0x7FC0_0001)  # a NaN with a payload
@example(0x7F80_0000)  # +inf
@example(0x44F4_E80C)  # 1959.2515
def test_shortest_float32_of_every_kind_of_bit_pattern(bits: int) -> None:
    assert_same_shortest(float32_of(bits))


@settings(max_examples=1000, deadline=None)
@given(st.integers(1, 2**23 - 1), st.booleans())
def test_shortest_float32_of_subnormals(mantissa: int, negative: bool) -> None:
    assert_same_shortest(float32_of(mantissa | (negative << 31)))


def test_shortest_float32_of_the_smallest_subnormals_one_by_one() -> None:
    for mantissa in range(1, 1 << 12):
        assert_same_shortest(float32_of(mantissa))


@settings(max_examples=1000, deadline=None)
@given(st.floats(width=32))
def test_shortest_float32_of_float32_values(value: float) -> None:
    assert_same_shortest(value)


@settings(max_examples=1000, deadline=None)
@given(
    st.one_of(
        st.floats(),
        st.floats(min_value=-3.5e38, max_value=3.5e38),
        st.floats(min_value=-2e-38, max_value=2e-38),
    )
)
@example(3.4028235e38)  # rounds to the largest float32
@example(3.4028236e38)  # past it: OverflowError, as before
@example(1e-50)  # rounds to zero
@example(0.1)
def test_shortest_float32_of_any_float(value: float) -> None:
    assert_same_shortest(value)


# -- BlockDecoder against decode_registers / decode_bit ---------------------------------------

WORDS = st.one_of(
    st.integers(0, 0xFFFF),
    st.sampled_from(
        [0, 1, 0xFFFF, 0xFFFE, 0x7FFF, 0xFF7F, 0x8000, 0x0080, 0x1234, 0x3412, 0x7FC0, 0x7F80]
    ),
)
BAD_WORDS = st.sampled_from([-1, 0x10000, 70000, -0x8000])
SCALES = st.one_of(
    st.sampled_from([1.0, 0.1, 0.01, 0.001, 10.0, 2.0, 0.5, -1.0, -0.25, 1e-5, 3.7]),
    st.floats(min_value=-1e6, max_value=1e6).filter(lambda s: s != 0),
    st.sampled_from([1e300, -1e290, 5e-324]),  # past where raw * scale stays finite
)
OFFSETS = st.one_of(
    st.sampled_from([0.0, -40.0, 3.0, 0.5, -273.15, 0.001]),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([1e300, -1e300]),
)


def not_available(count: int) -> st.SearchStrategy[int]:
    bits = 16 * count
    low, high = -(1 << (bits - 1)), (1 << bits) - 1
    return st.one_of(
        st.integers(low, high),
        st.sampled_from([-1, 0, high, (1 << (bits - 1)) - 1, 1 << (bits - 1), low, 0xFFFF, 0x1234]),
    )


@st.composite
def register_point(draw: st.DrawFn, name: str, base: int) -> ModbusPoint:
    type_ = draw(st.sampled_from(REGISTER_TYPES))
    kw: dict[str, Any] = {
        "name": name,
        "address": base + draw(st.integers(0, 10)),
        "order": draw(st.sampled_from(ORDERS)),
    }
    count = WIDTH.get(type_, 1)
    if type_ in NUMERIC:
        if draw(st.booleans()):
            kw["scale"] = draw(SCALES)
        if draw(st.booleans()):
            kw["offset"] = draw(OFFSETS)
    if type_ == "enum":
        codes = st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0, 1, 2, 0x0100, 0xFFFF]))
        kw["enum"] = draw(
            st.dictionaries(codes, st.text("abc_xyz", min_size=1, max_size=6), min_size=1)
        )
    if type_ == "bit":
        kw["bit"] = draw(st.integers(0, 15))
    if type_ == "string":
        kw["length"] = count = draw(st.integers(1, 6))
    if type_ != "string" and draw(st.booleans()):
        kw["not_available"] = draw(not_available(count))
    return point(type_, **kw)


@st.composite
def register_block(draw: st.DrawFn) -> tuple[list[ModbusPoint], int, list[int]]:
    """Points at random (overlapping) places after `base`, and the words of one read."""
    base = draw(st.integers(0, 1000))
    points = [draw(register_point(f"p{i}", base)) for i in range(draw(st.integers(1, 10)))]
    # a point read as registers that is not a register type: the pipeline refuses it
    if draw(st.integers(0, 20)) == 0:
        points.append(point("bool", name="coil", address=base))
    size = max(p.end for p in points) - base + draw(st.integers(0, 3))
    words = draw(st.lists(WORDS, min_size=size, max_size=size))
    if words and draw(st.integers(0, 3)) == 0:  # a word a register cannot hold
        words[draw(st.integers(0, len(words) - 1))] = draw(BAD_WORDS)
    if draw(st.integers(0, 10)) == 0:  # the device answered with fewer words
        words = words[: draw(st.integers(0, len(words)))]
    return points, base, words


def pipeline(points: Sequence[ModbusPoint], base: int, words: Sequence[int]) -> list[Value]:
    return [decode_registers(p, words[p.address - base : p.end - base]) for p in points]


def bit_pipeline(points: Sequence[ModbusPoint], base: int, bits: Sequence[int]) -> list[Value]:
    return [decode_bit(p, bool(bits[p.address - base : p.end - base][0])) for p in points]


def assert_same_as_pipeline(points: list[ModbusPoint], base: int, words: list[int]) -> None:
    decoder = BlockDecoder(points, base, bits=False)
    assert decoder.names == tuple(p.name for p in points)
    assert outcome(lambda: decoder.decode(words)) == outcome(lambda: pipeline(points, base, words))


@settings(max_examples=700, deadline=None)
@given(register_block())
def test_block_decoder_equals_the_pipeline_for_random_points(
    block: tuple[list[ModbusPoint], int, list[int]],
) -> None:
    assert_same_as_pipeline(*block)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_block_decoder_equals_the_pipeline_for_coils_and_discretes(data: st.DataObject) -> None:
    base = data.draw(st.integers(0, 1000))
    points = [
        point("bool", name=f"c{i}", address=base + data.draw(st.integers(0, 20)))
        for i in range(data.draw(st.integers(1, 8)))
    ]
    if data.draw(st.integers(0, 10)) == 0:  # not a bit type: decode_bit refuses it
        points.append(point("uint16", name="u", address=base))
    size = max(p.end for p in points) - base + data.draw(st.integers(-2, 7))
    bits = data.draw(st.lists(st.sampled_from([0, 1, True, False]), min_size=max(size, 0)))
    bits = bits[: max(size, 0)]
    decoder = BlockDecoder(points, base, bits=True)
    assert outcome(lambda: decoder.decode(bits)) == outcome(
        lambda: bit_pipeline(points, base, bits)
    )


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("type_", "words"),
    [
        ("float32", [0x7FC0, 0x0000]),  # NaN
        ("float32", [0xFF80, 0x0000]),  # -inf
        ("float32", [0x0000, 0x0001]),  # subnormal
        ("float32", [0x44F4, 0xE80C]),
        ("float64", [0x7FF0, 0, 0, 0]),
        ("float64", [0x4009, 0x21FB, 0x5444, 0x2D18]),
        ("int64", [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE]),
        ("uint64", [0x8000, 0, 0, 1]),
        ("int32", [0x8000, 0x0000]),
        ("uint32", [0xFFFF, 0x0000]),
        ("int16", [0x80FF]),
        ("uint16", [0xFF00]),
    ],
)
def test_block_decoder_equals_the_pipeline_in_every_order(
    type_: str, order: str, words: list[int]
) -> None:
    for kw in ({}, {"scale": 0.1, "offset": -40.0}, {"scale": 2.0}, {"not_available": -1}):
        assert_same_as_pipeline([point(type_, order=order, address=5, **kw)], 5, words)


def test_not_available_matches_in_the_points_order() -> None:
    for order in ORDERS:
        p = point("uint32", order=order, not_available=0x1234_5678)
        words = {
            "ABCD": [0x1234, 0x5678],
            "CDAB": [0x5678, 0x1234],
            "BADC": [0x3412, 0x7856],
            "DCBA": [0x7856, 0x3412],
        }[order]
        assert BlockDecoder([p], 0, bits=False).decode(words) == [None]
        assert decode_registers(p, words) is None
        swapped = order in ("BADC", "DCBA")
        for type_ in ("int16", "uint16", "enum"):
            extra = {"enum": {0x1234: "x"}} if type_ == "enum" else {}
            one = point(type_, order=order, not_available=0x1234, **extra)
            for word, expected in ((0x3412, swapped), (0x1234, not swapped)):
                got = BlockDecoder([one], 0, bits=False).decode([word])
                assert (got == [None]) is expected, (type_, order, hex(word))
                assert got == [decode_registers(one, [word])]


def test_scaled_values_keep_the_pipelines_type() -> None:
    points = [
        point("uint16", name="a", address=0, scale=10.0),  # rounded to a whole number: int
        point("uint16", name="b", address=1, scale=0.1),  # one decimal: float
        point("int32", name="c", address=2, scale=0.5, offset=0.25),
        point("uint64", name="d", address=4, scale=1e300),  # overflows: the pipeline raises
    ]
    decoder = BlockDecoder(points[:3], 0, bits=False)
    assert [(type(v), v) for v in decoder.decode([7, 3, 0, 3, 0xFFFF, 0, 0, 0])] == [
        (int, 70),
        (float, 0.3),
        (float, 1.75),
    ]
    with pytest.raises(OverflowError):
        BlockDecoder(points, 0, bits=False).decode([7, 3, 0, 3] + [0xFFFF] * 4)
