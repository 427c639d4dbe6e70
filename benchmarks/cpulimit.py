"""Starving a process on purpose: a CPU quota, or a duty cycle where no quota can be set.

`CpuQuota` puts the process in a child cgroup of the cgroup v1 `cpu` controller with
`cpu.cfs_quota_us` = share * `cpu.cfs_period_us`: the kernel lets it use that much CPU time in
every period (a container's CPU limit), and throttles it for the rest of the period once it
has. `Starve` is the fallback where the controller is not mounted writable (not root, cgroup
v2 only): it lets the process run `share` of every period of wall time (SIGCONT), then stops
it (SIGSTOP), which gives it at most that share whether or not it was scheduled while it ran.
`limit` picks the first that can be set up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
PERIOD_S = 0.1  # the kernel's default CFS period, and a container runtime's


class Limiter(Protocol):
    how: str  # what limits the process, for a report

    def running(self) -> contextlib.AbstractContextManager[None]: ...


class CpuQuota:
    """Process `pid` limited to `share` of one core per `period` by a cgroup of its own."""

    def __init__(
        self, pid: int, share: float, period: float = PERIOD_S, root: Path = CGROUP_CPU
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"CPU share must be in (0, 1], not {share}")
        self.pid, self.share, self.period = pid, share, period
        self.group = root / f"plantroom-bench-{os.getpid()}-{pid}"
        self._home = root
        period_us = round(period * 1_000_000)
        self.how = (
            f"a CPU quota (cgroup v1 `cpu` controller: cpu.cfs_quota_us "
            f"{round(share * period_us)} in every cpu.cfs_period_us {period_us})"
        )

    @staticmethod
    def available(root: Path = CGROUP_CPU) -> bool:
        return (root / "cgroup.procs").exists() and os.access(root, os.W_OK)

    def throttled(self) -> tuple[int, int, float]:
        """Periods elapsed, periods in which the quota ran out, and seconds held back."""
        stat = dict(
            line.split() for line in (self.group / "cpu.stat").read_text().splitlines() if line
        )
        return int(stat["nr_periods"]), int(stat["nr_throttled"]), int(stat["throttled_time"]) / 1e9

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self.group.mkdir()
        try:
            period_us = round(self.period * 1_000_000)
            (self.group / "cpu.cfs_period_us").write_text(f"{period_us}\n")
            (self.group / "cpu.cfs_quota_us").write_text(f"{round(self.share * period_us)}\n")
            (self.group / "cgroup.procs").write_text(f"{self.pid}\n")  # all its threads
            yield
        finally:
            with contextlib.suppress(ProcessLookupError, OSError):
                (self._home / "cgroup.procs").write_text(f"{self.pid}\n")
            self.group.rmdir()


class Starve:
    """Lets process `pid` run `share` of every `period` seconds: SIGCONT, then SIGSTOP."""

    def __init__(self, pid: int, share: float, period: float = PERIOD_S) -> None:
        self.pid, self.share, self.period = pid, share, period
        self.how = (
            f"a SIGSTOP/SIGCONT duty cycle ({share * period * 1000:.0f} ms running in every "
            f"{period * 1000:.0f} ms of wall time)"
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="starve", daemon=True)

    def _run(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            while not self._stop.is_set():
                os.kill(self.pid, signal.SIGCONT)
                self._stop.wait(self.share * self.period)
                if self._stop.is_set():
                    break
                os.kill(self.pid, signal.SIGSTOP)
                self._stop.wait((1 - self.share) * self.period)
            os.kill(self.pid, signal.SIGCONT)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)


def limit(pid: int, share: float, period: float = PERIOD_S, root: Path = CGROUP_CPU) -> Limiter:
    """A CPU quota for `pid` where the cgroup controller allows one, else a duty cycle."""
    if CpuQuota.available(root):
        return CpuQuota(pid, share, period, root)
    return Starve(pid, share, period)
