"""Where a benchmarked process spends its CPU: py-spy recordings, summed by category.

A benchmark names its categories as (name, markers): a sample belongs to the first category
with a marker in any frame of its stack, or to the benchmark's catch-all.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procstat import pin, py_spy

Categories = Sequence[tuple[str, Sequence[str]]]


@dataclass
class Profile:
    samples: int
    shares: list[tuple[str, float]]  # (category, share), in the order of the categories
    top: list[tuple[str, float]]  # (function, share of own time), largest first
    how: str


def categorise(frames: Sequence[str], categories: Categories, other: str) -> str:
    return next((c for c, marks in categories if any(m in f for f in frames for m in marks)), other)


def summarise(
    total: float,
    by_category: Mapping[str, float],
    by_function: Mapping[str, float],
    categories: Categories,
    other: str,
    how: str,
    top: int = 10,
) -> Profile:
    order = [c for c, _ in categories] + [other]
    shares = [(c, by_category[c] / total) for c in order if c in by_category]
    hottest = sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
    return Profile(int(total), shares, [(f, n / total) for f, n in hottest], how)


def start_py_spy(
    pid: int, out: Path, log: Path, *, seconds: float, rate: int, core: int
) -> subprocess.Popen[bytes] | None:
    """Record `pid` for `seconds` in py-spy's raw format, py-spy itself pinned to `core`;
    None when py-spy is not installed."""
    tool = py_spy()
    if tool is None:
        return None
    cmd = [tool, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate)]
    cmd += ["--nonblocking", "-f", "raw", "-o", str(out)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
    pin(proc.pid, core)
    return proc


def read_py_spy(
    path: Path, categories: Categories, other: str, *, rate: int, top: int = 10
) -> Profile | None:
    """py-spy's raw output (`frame;frame;… count` per line) by category and by function."""
    try:
        rows = path.read_text().splitlines()
    except OSError:
        return None
    by_category: dict[str, float] = {}
    by_function: dict[str, float] = {}
    total = 0
    for row in rows:
        stack, _, count = row.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if "process_idle" in stack or frames[-1].startswith(("select (", "poll (")):
            continue  # waiting in the event loop's selector is not CPU
        total += n
        name = categorise(frames, categories, other)
        by_category[name] = by_category.get(name, 0) + n
        func, _, where = frames[-1].partition(" (")
        file = where.rsplit(":", 1)[0]
        key = f"`{func}` ({'/'.join(file.split('/')[-2:])})"
        by_function[key] = by_function.get(key, 0) + n
    if not total:
        return None
    return summarise(total, by_category, by_function, categories, other, f"py-spy, {rate} Hz", top)
