"""Read planning: the fewest requests that cover a device's points."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge.planner import ReadBlock, plan_reads
from plantroom.profiles import ModbusOptions, ModbusPoint, ProfileLibrary


def pt(
    name: str, address: int, type_: str = "uint16", table: str = "holding", **kw: Any
) -> ModbusPoint:
    return ModbusPoint.model_validate(
        {"name": name, "table": table, "address": address, "type": type_, **kw}
    )


def spans(blocks: list[ReadBlock]) -> list[tuple[str, int, int]]:
    return [(b.table.value, b.address, b.count) for b in blocks]


def test_contiguous_points_are_one_read() -> None:
    points = [pt("a", 0), pt("b", 1), pt("c", 2, "uint32"), pt("d", 4, "float64")]
    assert spans(plan_reads(points, ModbusOptions())) == [("holding", 0, 8)]


def test_gap_within_max_gap_is_filled() -> None:
    points = [pt("a", 0), pt("b", 5)]
    assert spans(plan_reads(points, ModbusOptions(max_gap=4))) == [("holding", 0, 6)]
    assert spans(plan_reads(points, ModbusOptions(max_gap=3))) == [
        ("holding", 0, 1),
        ("holding", 5, 1),
    ]


def test_default_is_no_gap_filling() -> None:
    assert len(plan_reads([pt("a", 0), pt("b", 2)], ModbusOptions())) == 2
    assert len(plan_reads([pt("a", 0), pt("b", 1)], ModbusOptions())) == 1


def test_reads_split_at_the_protocol_limit() -> None:
    points = [pt(f"p{i}", i) for i in range(300)]
    assert spans(plan_reads(points, ModbusOptions())) == [
        ("holding", 0, 125),
        ("holding", 125, 125),
        ("holding", 250, 50),
    ]


def test_reads_split_at_the_profiles_lower_limit() -> None:
    points = [pt(f"p{i}", i) for i in range(20)]
    assert spans(plan_reads(points, ModbusOptions(max_registers_per_read=8))) == [
        ("holding", 0, 8),
        ("holding", 8, 8),
        ("holding", 16, 4),
    ]


def test_a_multi_register_point_is_never_split() -> None:
    points = [pt("a", 0, "uint16"), pt("b", 1, "float64"), pt("c", 5, "uint32")]
    blocks = plan_reads(points, ModbusOptions(max_registers_per_read=4))
    assert spans(blocks) == [("holding", 0, 1), ("holding", 1, 4), ("holding", 5, 2)]


def test_bits_use_the_bit_limit() -> None:
    points = [pt(f"c{i}", i, "bool", "coil") for i in range(2500)]
    assert spans(plan_reads(points, ModbusOptions())) == [("coil", 0, 2000), ("coil", 2000, 500)]
    assert len(plan_reads(points, ModbusOptions(max_bits_per_read=100))) == 25


def test_tables_are_planned_apart() -> None:
    points = [
        pt("h", 0),
        pt("i", 0, table="input"),
        pt("c", 0, "bool", "coil"),
        pt("d", 0, "bool", "discrete"),
        pt("i2", 1, table="input"),
    ]
    assert spans(plan_reads(points, ModbusOptions())) == [
        ("holding", 0, 1),
        ("input", 0, 2),
        ("coil", 0, 1),
        ("discrete", 0, 1),
    ]


def test_bits_of_one_status_word_share_one_read() -> None:
    points = [pt(f"b{i}", 11, "bit", "input", bit=i) for i in range(6)]
    blocks = plan_reads(points, ModbusOptions(one_request_per_point=True))
    assert spans(blocks) == [("input", 11, 1)]
    assert len(blocks[0].points) == 6


def test_one_request_per_point() -> None:
    points = [pt("a", 0), pt("b", 1), pt("c", 2, "uint32")]
    blocks = plan_reads(points, ModbusOptions(one_request_per_point=True, max_gap=8))
    assert spans(blocks) == [("holding", 0, 1), ("holding", 1, 1), ("holding", 2, 2)]


def test_unsorted_and_overlapping_points() -> None:
    points = [pt("w", 10, "uint32"), pt("lo", 11), pt("a", 3), pt("hi", 10)]
    blocks = plan_reads(points, ModbusOptions(max_gap=0))
    assert spans(blocks) == [("holding", 3, 1), ("holding", 10, 2)]
    assert {p.name for p in blocks[1].points} == {"w", "lo", "hi"}


def test_slice_gives_each_point_its_words() -> None:
    points = [pt("a", 2), pt("b", 4, "uint32")]
    (block,) = plan_reads(points, ModbusOptions(max_gap=1))
    data = [10, 11, 12, 13, 14]
    assert block.address == 2
    assert list(block.slice(points[0], data)) == [10]
    assert list(block.slice(points[1], data)) == [12, 13]


def test_builtin_profiles_plan_into_few_reads() -> None:
    lib = ProfileLibrary()
    for name, expected in [
        ("plantroom-sim-pump", [("input", 0, 16), ("discrete", 0, 5)]),
        ("plantroom-sim-elevator", [("holding", 0, 13), ("discrete", 0, 3)]),
        ("plantroom-sim-fire-panel", [("input", 0, 12)]),
    ]:
        profile, _ = lib.get(name)
        assert spans(plan_reads(profile.points, profile.modbus)) == expected  # type: ignore[union-attr,arg-type]


@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(["uint16", "uint32", "float64"])),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 10),
    st.integers(4, 125),
)
def test_every_point_is_covered_within_the_limits(
    specs: list[tuple[int, str]], gap: int, limit: int
) -> None:
    points = [pt(f"p{i}", a, t) for i, (a, t) in enumerate(specs)]
    options = ModbusOptions(max_gap=gap, max_registers_per_read=limit)
    blocks = plan_reads(points, options)
    covered = [p.name for b in blocks for p in b.points]
    assert sorted(covered) == sorted(p.name for p in points)
    for b in blocks:
        assert 1 <= b.count <= limit
        for p in b.points:
            assert b.address <= p.address and p.end <= b.address + b.count
    for first, second in itertools.pairwise(blocks):
        assert first.address < second.address or first.table != second.table
