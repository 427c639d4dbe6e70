"""Campus load at 2,000 devices: the campus benchmark (`bench_campus`) with 20 buildings of
100 devices each, every process on this machine.

The targets are the campus's at twice its size: at least 99.9 % of polls on schedule, no
reading lost, fault → work order p99 ≤ 250 ms from the poll that saw it. The window is
`PLANTROOM_BENCH_CAMPUS_S` (600 s by default), as for the campus.
"""

from __future__ import annotations

from benchmarks import bench_campus

TITLE = "Campus load: 2,000 devices through the whole stack"
BUILDINGS = 20


def run() -> str:
    return bench_campus.run(BUILDINGS)


if __name__ == "__main__":
    print(run())
