"""The decode pipeline against known register words, for every type and every word order."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.decode import decode_bit, decode_registers, order_bytes
from edge.decode_blocks import BlockDecoder
from edge.planner import plan_reads
from plantroom.profiles import ModbusPoint, ModbusProfile, ProfileLibrary


def point(type_: str | None = None, **kw: Any) -> ModbusPoint:
    fields = {"name": "p", "address": 0, "type": type_, **kw}
    fields["table"] = "coil" if fields["type"] == "bool" else "holding"
    return ModbusPoint.model_validate(fields)


# (type, order, register words as they arrive, expected value)
CASES: list[tuple[str, str, list[int], Any]] = [
    # 16-bit: the word swap does nothing, the byte swap does
    ("int16", "ABCD", [0xFFFF], -1),
    ("int16", "ABCD", [0x8000], -32768),
    ("int16", "ABCD", [0x7FFE], 32766),
    ("int16", "CDAB", [0xFF38], -200),
    ("int16", "BADC", [0x38FF], -200),
    ("int16", "DCBA", [0x38FF], -200),
    ("uint16", "ABCD", [0xFFFF], 65535),
    ("uint16", "CDAB", [0x1234], 0x1234),
    ("uint16", "BADC", [0x3412], 0x1234),
    ("uint16", "DCBA", [0x3412], 0x1234),
    # 32-bit integers: 0x12345678 and -2 in each order
    ("uint32", "ABCD", [0x1234, 0x5678], 0x12345678),
    ("uint32", "CDAB", [0x5678, 0x1234], 0x12345678),
    ("uint32", "BADC", [0x3412, 0x7856], 0x12345678),
    ("uint32", "DCBA", [0x7856, 0x3412], 0x12345678),
    ("uint32", "ABCD", [0xFFFF, 0xFFFF], 4294967295),
    ("int32", "ABCD", [0xFFFF, 0xFFFE], -2),
    ("int32", "CDAB", [0xFFFE, 0xFFFF], -2),
    ("int32", "BADC", [0xFFFF, 0xFEFF], -2),
    ("int32", "DCBA", [0xFEFF, 0xFFFF], -2),
    ("int32", "ABCD", [0x0001, 0x0000], 65536),
    # 64-bit integers: 0x0102030405060708 and -2
    ("uint64", "ABCD", [0x0102, 0x0304, 0x0506, 0x0708], 0x0102030405060708),
    ("uint64", "CDAB", [0x0708, 0x0506, 0x0304, 0x0102], 0x0102030405060708),
    ("uint64", "BADC", [0x0201, 0x0403, 0x0605, 0x0807], 0x0102030405060708),
    ("uint64", "DCBA", [0x0807, 0x0605, 0x0403, 0x0201], 0x0102030405060708),
    ("uint64", "ABCD", [0xFFFF] * 4, 2**64 - 1),
    ("int64", "ABCD", [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], -2),
    ("int64", "CDAB", [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF], -2),
    ("int64", "BADC", [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF], -2),
    ("int64", "DCBA", [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF], -2),
    # float32: 1.0 = 0x3F800000, -2.5 = 0xC0200000
    ("float32", "ABCD", [0x3F80, 0x0000], 1.0),
    ("float32", "CDAB", [0x0000, 0x3F80], 1.0),
    ("float32", "BADC", [0x803F, 0x0000], 1.0),
    ("float32", "DCBA", [0x0000, 0x803F], 1.0),
    ("float32", "ABCD", [0xC020, 0x0000], -2.5),
    ("float32", "CDAB", [0x0000, 0xC020], -2.5),
    ("float32", "BADC", [0x20C0, 0x0000], -2.5),
    ("float32", "DCBA", [0x0000, 0x20C0], -2.5),
    # float64: 1.0 = 0x3FF0000000000000, pi = 0x400921FB54442D18
    ("float64", "ABCD", [0x3FF0, 0, 0, 0], 1.0),
    ("float64", "CDAB", [0, 0, 0, 0x3FF0], 1.0),
    ("float64", "BADC", [0xF03F, 0, 0, 0], 1.0),
    ("float64", "DCBA", [0, 0, 0, 0xF03F], 1.0),
    ("float64", "ABCD", [0x4009, 0x21FB, 0x5444, 0x2D18], math.pi),
    ("float64", "CDAB", [0x2D18, 0x5444, 0x21FB, 0x4009], math.pi),
    ("float64", "BADC", [0x0940, 0xFB21, 0x4454, 0x182D], math.pi),
    ("float64", "DCBA", [0x182D, 0x4454, 0xFB21, 0x0940], math.pi),
]


@pytest.mark.parametrize(("type_", "order", "words", "expected"), CASES)
def test_numeric_types_in_every_order(
    type_: str, order: str, words: list[int], expected: Any
) -> None:
    value = decode_registers(point(type_, order=order), words)
    assert value == expected
    assert type(value) is type(expected)


def test_float32_keeps_single_precision_value() -> None:
    # 123.456 as float32 is 0x42F6E979
    assert decode_registers(point("float32"), [0x42F6, 0xE979]) == pytest.approx(123.456, abs=1e-5)


@pytest.mark.parametrize(
    ("kw", "words", "expected"),
    [
        ({"type": "int16", "scale": 0.1}, [223], 22.3),
        ({"type": "int16", "scale": 0.1}, [0xFF9C], -10.0),
        ({"type": "uint16", "scale": 0.01}, [1234], 12.34),
        ({"type": "uint16", "scale": 0.1, "offset": -40}, [650], 25.0),
        ({"type": "uint16", "scale": 10}, [7], 70),
        ({"type": "uint16", "offset": 3}, [7], 10),
        ({"type": "uint32", "scale": 0.01}, [0x0001, 0x0000], 655.36),
        ({"type": "float32", "scale": 2}, [0x3F80, 0x0000], 2.0),
        ({"type": "int16", "scale": 0.001}, [1], 0.001),
    ],
)
def test_scale_and_offset(kw: dict[str, Any], words: list[int], expected: Any) -> None:
    value = decode_registers(point(**kw), words)
    assert value == expected
    assert type(value) is type(expected)


def test_scaled_integers_come_out_rounded_to_the_scale() -> None:
    # 0.1 * 3 is 0.30000000000000004 in binary floating point
    assert repr(decode_registers(point("uint16", scale=0.1), [3])) == "0.3"


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"type": "uint16", "not_available": 0xFFFF}, [0xFFFF]),
        ({"type": "int16", "not_available": 0x7FFF, "scale": 0.1}, [0x7FFF]),
        ({"type": "int16", "not_available": -32768}, [0x8000]),
        ({"type": "int16", "not_available": 0x8000}, [0x8000]),
        ({"type": "uint32", "not_available": 0xFFFFFFFF}, [0xFFFF, 0xFFFF]),
        ({"type": "int32", "not_available": -1, "order": "CDAB"}, [0xFFFF, 0xFFFF]),
        ({"type": "enum", "enum": {0: "off"}, "not_available": 0xFFFF}, [0xFFFF]),
        ({"type": "float32"}, [0x7FC0, 0x0000]),  # NaN
        ({"type": "float32"}, [0x7F80, 0x0000]),  # +inf
        ({"type": "float64"}, [0xFFF0, 0, 0, 0]),  # -inf
    ],
)
def test_not_available(kw: dict[str, Any], words: list[int]) -> None:
    assert decode_registers(point(**kw), words) is None


def test_not_available_compares_the_raw_value_in_the_points_order() -> None:
    p = point("uint32", order="CDAB", not_available=0x0000FFFF)
    assert decode_registers(p, [0xFFFF, 0x0000]) is None
    assert decode_registers(p, [0x0000, 0xFFFF]) == 0xFFFF0000


def test_a_value_next_to_not_available_is_a_value() -> None:
    assert decode_registers(point("uint16", not_available=0xFFFF), [0xFFFE]) == 0xFFFE


def test_enum_names_and_unknown_codes() -> None:
    p = point("enum", enum={0: "idle", 1: "up", 2: "down"})
    assert decode_registers(p, [1]) == "up"
    assert decode_registers(p, [0]) == "idle"
    assert decode_registers(p, [7]) == "code_7"
    assert decode_registers(point("enum", enum={0x0102: "x"}, order="BADC"), [0x0201]) == "x"


@pytest.mark.parametrize(
    ("bit", "word", "expected"),
    [
        (0, 0x0001, True),
        (0, 0xFFFE, False),
        (15, 0x8000, True),
        (5, 0x0020, True),
        (5, 0xFFDF, False),
    ],
)
def test_bit_of_a_register(bit: int, word: int, expected: bool) -> None:
    assert decode_registers(point("bit", bit=bit), [word]) is expected


def test_bit_after_byte_swap() -> None:
    assert decode_registers(point("bit", bit=8, order="BADC"), [0x0001]) is True


@pytest.mark.parametrize(
    ("order", "words", "expected"),
    [
        ("ABCD", [0x5055, 0x4D50, 0x2D31, 0x0000], "PUMP-1"),
        ("ABCD", [0x2041, 0x4220, 0x2020], "AB"),
        ("BADC", [0x5550, 0x504D, 0x312D], "PUMP-1"),
        ("ABCD", [0x4142, 0x0043, 0x4400], "AB"),
        ("ABCD", [0x41FF], "A\ufffd"),
    ],
)
def test_strings(order: str, words: list[int], expected: str) -> None:
    assert decode_registers(point("string", length=len(words), order=order), words) == expected


def test_coil_and_discrete_bits() -> None:
    assert decode_bit(point("bool"), True) is True
    assert decode_bit(point("bool"), False) is False
    with pytest.raises(ValueError, match="not a coil"):
        decode_bit(point("uint16"), True)


def test_wrong_number_of_words_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs 2 registers, got 1"):
        decode_registers(point("float32"), [1])


def test_register_values_outside_16_bits_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.65535"):
        order_bytes([0x10000], "ABCD")


def test_order_bytes_is_abcd_for_every_order() -> None:
    assert order_bytes([0x1234, 0x5678], "ABCD") == bytes.fromhex("12345678")
    assert order_bytes([0x5678, 0x1234], "CDAB") == bytes.fromhex("12345678")
    assert order_bytes([0x3412, 0x7856], "BADC") == bytes.fromhex("12345678")
    assert order_bytes([0x7856, 0x3412], "DCBA") == bytes.fromhex("12345678")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([0x44F4, 0xE80C], 1959.2515),  # not 1959.25146484375
        ([0x3DCC, 0xCCCD], 0.1),  # not 0.10000000149011612
        ([0x4B18, 0x9680], 10_000_000.0),
        ([0x0000, 0x0001], 1e-45),  # the smallest subnormal
    ],
)
def test_float32_is_published_as_its_shortest_decimal(words: list[int], expected: float) -> None:
    assert decode_registers(point("float32"), words) == expected


# -- a whole read block at once ------------------------------------------------------------


def _block_points() -> list[ModbusPoint]:
    """One point of every type and order, packed into one register block."""
    out: list[ModbusPoint] = []
    address = 0
    n = 0
    for type_ in ("int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"):
        for order in ("ABCD", "CDAB", "BADC", "DCBA"):
            for extra in ({}, {"scale": 0.1, "offset": -3.0}, {"not_available": 0xFFFF}):
                p = point(type_, name=f"p{n}", address=address, order=order, **extra)
                out.append(p)
                address += p.count
                n += 1
    for order in ("ABCD", "BADC"):
        out.append(point("enum", name=f"p{n}", address=address, order=order, enum={1: "one"}))
        out.append(point("bit", name=f"p{n + 1}", address=address, order=order, bit=9))
        out.append(point("string", name=f"p{n + 2}", address=address + 1, length=2, order=order))
        address += 3
        n += 3
    return out


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_block_decoder_gives_what_the_pipeline_gives(data: st.DataObject) -> None:
    points = _block_points()
    count = max(p.end for p in points)
    words = data.draw(
        st.lists(
            st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0, 0xFFFF, 0x7FFF, 0x8000])),
            min_size=count,
            max_size=count,
        )
    )
    decoder = BlockDecoder(points, 0, bits=False)
    expected = [decode_registers(p, words[p.address : p.end]) for p in points]
    got = decoder.decode(words)
    assert decoder.names == tuple(p.name for p in points)
    assert [(type(v), v) for v in got] == [(type(v), v) for v in expected]


def test_block_decoder_matches_every_shipped_profile() -> None:
    library = ProfileLibrary(None)
    for name in library.names():
        profile, _ = library.get(name)
        if not isinstance(profile, ModbusProfile):
            continue
        for block in plan_reads(profile.points, profile.modbus):
            words = [
                (0x9E37 * (i + 1)) & (1 if block.table.is_bits else 0xFFFF)
                for i in range(block.count)
            ]
            expected = [
                decode_bit(p, bool(block.slice(p, words)[0]))
                if block.table.is_bits
                else decode_registers(p, block.slice(p, words))
                for p in block.points
            ]
            got = BlockDecoder(block.points, block.address, block.table.is_bits).decode(words)
            assert got == expected, f"{name} {block}"


def test_block_decoder_with_an_offset_block_and_bits() -> None:
    regs = [point("uint16", name="a", address=10), point("int16", name="b", address=12)]
    assert BlockDecoder(regs, 10, bits=False).decode([7, 0, 0xFFFE]) == [7, -2]
    coils = [point("bool", name="c", address=3), point("bool", name="d", address=5)]
    assert BlockDecoder(coils, 3, bits=True).decode([1, 0, 0]) == [True, False]


def test_block_decoder_raises_what_the_pipeline_raises() -> None:
    regs = [point("uint16", name="a", address=0), point("uint32", name="b", address=1)]
    decoder = BlockDecoder(regs, 0, bits=False)
    with pytest.raises(ValueError, match=r"outside 0\.\.65535"):
        decoder.decode([70000, 0, 0])
    with pytest.raises(ValueError, match="needs 2 registers, got 1"):
        decoder.decode([1, 2])
    # a bad word in a gap the points do not use is not an error, as point by point
    gap = BlockDecoder([point("uint16", name="a", address=0)], 0, bits=False)
    assert gap.decode([5, -1]) == [5]
    with pytest.raises(ValueError, match="not a coil/discrete bit"):
        BlockDecoder([point("uint16", name="a", address=0)], 0, bits=True).decode([1])


def test_the_largest_float32_decodes() -> None:
    assert decode_registers(point("float32"), [0x7F7F, 0xFFFF]) == pytest.approx(3.4028235e38)
