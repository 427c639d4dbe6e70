"""The disk buffer: durable FIFO of batches, bounded, replayed in order, crash-tolerant."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.buffer import DiskBuffer
from plantroom.errors import ConfigError


def batch(n: int, size: int = 3) -> tuple[list[str], list[int]]:
    lines = [f'pump,site=s v={n * 100 + i}i,s="x\ny" {n * 100 + i}' for i in range(size)]
    return lines, [1] * size


def drain(buffer: DiskBuffer) -> list[list[str]]:
    out = []
    while (item := buffer.peek()) is not None:
        out.append(item.lines)
        buffer.commit(item)
    return out


def test_batches_come_back_in_order_and_segments_are_deleted_once_replayed(
    tmp_path: Path,
) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=300)
    buffer.open()
    try:
        for n in range(5):
            buffer.append(*batch(n))
        assert buffer.depth_lines == 15 and buffer.has_data and buffer.segments > 1
        first = buffer.peek()
        assert first is not None and buffer.peek() is first  # peeking does not consume
        assert first.points == [1, 1, 1]
        assert drain(buffer) == [batch(n)[0] for n in range(5)]
        assert buffer.depth_lines == 0 and not buffer.has_data
        assert list(tmp_path.glob("seg-*")) == []
        buffer.append(*batch(9))  # appending after a full drain starts a new segment
        assert drain(buffer) == [batch(9)[0]]
    finally:
        buffer.close()


@pytest.mark.parametrize(
    ("segment_bytes", "expected"),
    [
        (1, [1, 2, 3]),  # one record per segment: the replayed segment is gone
        (10_000_000, [0, 1, 2, 3]),  # one segment: it is replayed again from its start
    ],
)
def test_what_was_not_replayed_survives_a_restart(
    tmp_path: Path, segment_bytes: int, expected: list[int]
) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=segment_bytes)
    buffer.open()
    for n in range(4):
        buffer.append(*batch(n))
    item = buffer.peek()
    assert item is not None
    buffer.commit(item)
    buffer.close()

    again = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=segment_bytes)
    again.open()
    try:
        # replay progress inside a segment is not persisted; InfluxDB's idempotent writes
        # absorb the repeat
        assert drain(again) == [batch(n)[0] for n in expected]
    finally:
        again.close()


def test_at_the_limit_the_oldest_lines_are_dropped_and_counted(tmp_path: Path) -> None:
    one = len(batch(0)[0][0]) * 3 + 100
    buffer = DiskBuffer(tmp_path, max_bytes=one * 3, segment_bytes=one)
    buffer.open()
    try:
        for n in range(6):
            buffer.append(*batch(n))
        assert buffer.dropped_lines > 0 and buffer.dropped_lines % 3 == 0
        kept = drain(buffer)
        assert kept == [batch(n)[0] for n in range(6 - len(kept), 6)]  # the newest are kept
        assert len(kept) * 3 + buffer.dropped_lines == 18
    finally:
        buffer.close()


def test_a_torn_last_record_is_cut_off_at_open(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=10_000_000)
    buffer.open()
    buffer.append(*batch(0))
    buffer.append(*batch(1))
    buffer.close()
    (segment,) = tmp_path.glob("seg-*.plb")
    data = segment.read_bytes()
    segment.write_bytes(data[:-10])  # a crash in the middle of the second append

    again = DiskBuffer(tmp_path, max_bytes=10_000_000)
    again.open()
    try:
        assert again.depth_lines == 3
        assert drain(again) == [batch(0)[0]]
    finally:
        again.close()


def test_a_corrupt_record_is_skipped_and_counted(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=200)
    buffer.open()
    buffer.append(*batch(0))
    buffer.append(*batch(1))
    buffer.close()
    first = sorted(tmp_path.glob("seg-*.plb"))[0]
    data = bytearray(first.read_bytes())
    data[-5] ^= 0xFF  # bit rot inside the payload
    first.write_bytes(bytes(data))

    again = DiskBuffer(tmp_path, max_bytes=10_000_000, segment_bytes=200)
    again.open()
    try:
        assert drain(again) == [batch(1)[0]]
        assert again.dropped_lines == 3
    finally:
        again.close()


def test_one_directory_serves_one_gateway(tmp_path: Path) -> None:
    first = DiskBuffer(tmp_path, max_bytes=1000)
    first.open()
    try:
        with pytest.raises(ConfigError, match="in use by another gateway"):
            DiskBuffer(tmp_path, max_bytes=1000).open()
    finally:
        first.close()
    second = DiskBuffer(tmp_path, max_bytes=1000)
    second.open()
    second.close()


def test_append_needs_a_point_count_per_line(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, max_bytes=1000)
    buffer.open()
    try:
        with pytest.raises(ValueError, match="one point count per line"):
            buffer.append(["a v=1i 1"], [])
    finally:
        buffer.close()
