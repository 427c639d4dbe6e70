"""Read planning: cover a device's points with the fewest Modbus requests.

Points of one table are sorted by address and joined into one read while the unused
registers between them stay within the profile's `max_gap` and the read stays within the
protocol limit (125 registers, 2000 bits) or the profile's lower maximum. With
`one_request_per_point` every point is read on its own (points at the same address, such as
bits of one status word, still share a read).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from plantroom.profiles import ModbusOptions, ModbusPoint, Table


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One request: `count` registers (or bits) of `table` from `address`."""

    table: Table
    address: int
    count: int
    points: tuple[ModbusPoint, ...]

    def slice(self, point: ModbusPoint, data: Sequence[int]) -> Sequence[int]:
        """The part of this read's result that holds `point`."""
        start = point.address - self.address
        return data[start : start + point.count]


def _limit(table: Table, options: ModbusOptions) -> int:
    return options.max_bits_per_read if table.is_bits else options.max_registers_per_read


def plan_reads(points: Iterable[ModbusPoint], options: ModbusOptions) -> list[ReadBlock]:
    """Plan the reads that cover `points`, grouped by table, in address order."""
    by_table: dict[Table, list[ModbusPoint]] = {}
    for p in points:
        by_table.setdefault(p.table, []).append(p)
    blocks: list[ReadBlock] = []
    for table in Table:
        members = sorted(by_table.get(table, []), key=lambda p: (p.address, p.count))
        if not members:
            continue
        limit = _limit(table, options)
        gap = options.max_gap
        current: list[ModbusPoint] = []
        start = end = 0
        for p in members:
            if current:
                if options.one_request_per_point:
                    joins = p.address == start and p.end <= end
                else:
                    joins = p.address - end <= gap and max(end, p.end) - start <= limit
                if joins:
                    current.append(p)
                    end = max(end, p.end)
                    continue
                blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current, start, end = [p], p.address, p.end
        blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks
