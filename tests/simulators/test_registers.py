"""Register encoding: saturation, sentinels, word orders, map validation, writes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.registers import (
    WORD_ORDERS,
    DataType,
    Point,
    RegisterMap,
    Table,
    encode_point,
    markdown_table,
)
from tests.simulators.harness import big_endian_32

H = Table.HOLDING


def pt(t: DataType, **kw: object) -> Point:
    return Point("p", H, 0, t, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("point", "value", "words"),
    [
        (pt(DataType.INT16, scale=0.1), -12.3, [0x10000 - 123]),
        (pt(DataType.INT16, scale=0.1, not_available=0x7FFF), 5000.0, [0x7FFE]),  # saturates
        (pt(DataType.INT16), -40000, [0x8000]),
        (pt(DataType.UINT16, not_available=0xFFFF), 70000, [0xFFFE]),  # never the sentinel
        (pt(DataType.UINT16, scale=0.01), -3, [0]),
        (pt(DataType.UINT16, scale=0.01), 4.256, [426]),
        (pt(DataType.UINT32), 2**32 + 5, [0, 5]),  # counters wrap
        (pt(DataType.UINT32, order="CDAB"), 0x12345678, [0x5678, 0x1234]),
        (pt(DataType.UINT32, order="BADC"), 0x12345678, [0x3412, 0x7856]),
        (pt(DataType.UINT32, order="DCBA"), 0x12345678, [0x7856, 0x3412]),
        (pt(DataType.INT32), -(2**40), [0x8000, 0]),
        (pt(DataType.FLOAT32), 1.0, [0x3F80, 0]),
        (pt(DataType.FLOAT32, order="CDAB"), 1.0, [0, 0x3F80]),
        (pt(DataType.ENUM, enum={0: "off", 7: "on"}), "on", [7]),
        (pt(DataType.ENUM, enum={0: "off", 7: "on"}), 7, [7]),
        (pt(DataType.BIT, bit=5), True, [32]),
        (pt(DataType.UINT16, not_available=0xFFFF), None, [0xFFFF]),
    ],
)
def test_encode(point: Point, value: object, words: list[int]) -> None:
    assert encode_point(point, value) == words  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("point", "value", "message"),
    [
        (pt(DataType.UINT16), None, "no not-available value"),
        (pt(DataType.ENUM, enum={0: "off"}), "on", "not one of"),
        (pt(DataType.ENUM, enum={0: "off"}), 3, "not one of"),
        (pt(DataType.UINT16), "12", "numeric"),
        (pt(DataType.INT16), float("nan"), "not a finite number"),
    ],
)
def test_encode_refuses(point: Point, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_point(point, value)  # type: ignore[arg-type]


@given(st.integers(0, 2**32 - 1), st.sampled_from(WORD_ORDERS))
def test_uint32_round_trips_in_every_order(value: int, order: str) -> None:
    words = encode_point(pt(DataType.UINT32, order=order), value)
    assert struct.unpack(">I", big_endian_32(words, order))[0] == value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"table": Table.HOLDING, "type": DataType.BOOL}, "bool belongs"),
        ({"table": Table.COIL, "type": DataType.UINT16}, "bool belongs"),
        ({"table": H, "type": DataType.BIT}, "bit 0..15"),
        ({"table": H, "type": DataType.ENUM}, "needs its enum"),
        ({"table": H, "type": DataType.UINT32, "order": "ACBD"}, "order must be"),
        ({"table": H, "type": DataType.UINT32, "writable": True}, "writable"),
        ({"table": Table.INPUT, "type": DataType.UINT16, "writable": True}, "writable"),
    ],
)
def test_point_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Point("p", address=0, **kwargs)  # type: ignore[arg-type]


def test_map_rejects_overlaps_but_shares_status_words() -> None:
    with pytest.raises(ValueError, match="'b' overlaps 'a'"):
        RegisterMap("m", [Point("a", H, 0, DataType.UINT32), Point("b", H, 1, DataType.UINT16)])
    with pytest.raises(ValueError, match="overlaps"):
        RegisterMap(
            "m", [Point("a", H, 3, DataType.BIT, bit=1), Point("b", H, 3, DataType.BIT, bit=1)]
        )
    with pytest.raises(ValueError, match="defined twice"):
        RegisterMap("m", [Point("a", H, 0, DataType.UINT16), Point("a", H, 1, DataType.UINT16)])
    m = RegisterMap(
        "m",
        [
            Point("a", H, 3, DataType.BIT, bit=0),
            Point("b", H, 3, DataType.BIT, bit=4),
            Point("c", H, 5, DataType.UINT32),
        ],
    )
    assert m.sizes[H] == 7
    image = m.encode({"a": True, "b": True, "c": 1})
    assert image.registers[H] == [0, 0, 0, 0b10001, 0, 0, 1]
    with pytest.raises(ValueError, match="no value for point 'c'"):
        m.encode({"a": True, "b": True})


def test_decode_write() -> None:
    setpoint = Point(
        "sp", H, 0, DataType.UINT16, scale=0.01, writable=True, minimum=2.0, maximum=8.0
    )
    assert RegisterMap.decode_write(setpoint, 450) == 4.5
    with pytest.raises(ValueError, match=r"outside 2\.0\.\.8\.0"):
        RegisterMap.decode_write(setpoint, 900)
    signed = Point("t", H, 0, DataType.INT16, writable=True)
    assert RegisterMap.decode_write(signed, 0xFFFE) == -2
    mode = Point("m", H, 0, DataType.ENUM, enum={0: "auto", 1: "hand"}, writable=True)
    assert RegisterMap.decode_write(mode, 1) == "hand"
    with pytest.raises(ValueError, match="not one of"):
        RegisterMap.decode_write(mode, 2)


def test_markdown_table_rows() -> None:
    m = RegisterMap(
        "m",
        [
            Point("c", H, 5, DataType.UINT32, unit="h", scale=0.01, description="hours"),
            Point("s", H, 3, DataType.BIT, bit=4, description="flag"),
        ],
    )
    text = markdown_table(m)
    assert "| holding | 3.4 | bit |  |  |  |  | `s` | flag |" in text
    assert "| holding | 5-6 | uint32 | ABCD | 0.01 | h |  | `c` | hours |" in text
