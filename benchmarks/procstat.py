"""What the benchmarks read about processes and the machine: CPU time and memory from /proc,
core pinning, and where py-spy is."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads); NaN once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy (not idle, not waiting on I/O)."""
    try:
        row = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in row[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def memory_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB; empty once it is gone."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = row.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0])
    return found


def own_cpu() -> float:
    """User + system CPU time of this process."""
    t = os.times()
    return t.user + t.system


def pinning() -> bool:
    """Whether processes can be pinned to cores here (two cores or more, Linux)."""
    return (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def pin(pid: int, core: int) -> None:
    if pinning():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {core})


def py_spy() -> str | None:
    """py-spy beside this interpreter, or on PATH; None when it is not installed."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of process `root` and its direct children, from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def cpu_pressure_seconds() -> float:
    """Time in which at least one runnable task waited for a core (`some` of
    /proc/pressure/cpu, cumulative); NaN where the kernel does not report it."""
    try:
        return pressure_some_seconds(Path("/proc/pressure/cpu").read_text())
    except (OSError, ValueError):
        return float("nan")


def pressure_some_seconds(text: str) -> float:
    """The `some` line's cumulative `total` (µs) of a /proc/pressure file, in seconds."""
    for row in text.splitlines():
        fields = row.split()
        if fields and fields[0] == "some":
            for f in fields[1:]:
                if f.startswith("total="):
                    return int(f.removeprefix("total=")) / 1_000_000
    raise ValueError(f"no `some ... total=` line in {text[:200]!r}")
