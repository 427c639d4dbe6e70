"""The edge benchmark's processes: the simulator on the service core, and the children on the
measured core (`benchmarks.edge_children`) speaking JSON lines, each measured over its steady
window with the machine's and the services' CPU."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.edge_children import ChildConfig
from benchmarks.edge_params import HOST, MEASURE_S, ROOT, SERVICE_CORE
from benchmarks.measure import wait_for_simulator
from benchmarks.procstat import cpu_seconds, machine_busy_seconds, own_cpu, pin
from stack.processes import stop_process


class Child:
    """A child process speaking JSON lines on stdout; always ended on exit."""

    def __init__(self, mode: str, config: ChildConfig, env: dict[str, str], log: Path) -> None:
        self.mode = mode
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.edge_children", mode, json.dumps(vars(config))],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._buf = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def next_event(self, timeout: float) -> dict[str, Any]:
        """The next JSON line; RuntimeError when the child exits or is silent for `timeout`."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0.0))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                tail = self.log.read_text(errors="replace")[-3000:]
                why = "exited" if ready else f"said nothing for {timeout:.0f} s"
                raise RuntimeError(f"the {self.mode} child {why}:\n{tail}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        event: dict[str, Any] = json.loads(line)
        return event

    def expect(self, name: str, timeout: float) -> dict[str, Any]:
        event = self.next_event(timeout)
        if event.get("event") != name:
            raise RuntimeError(f"the {self.mode} child said {event!r}, expected {name!r}")
        return event

    def stop(self, grace: float = 15.0) -> None:
        if self.proc.poll() is None:
            stop_process(self.proc, grace)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@contextlib.contextmanager
def child(mode: str, config: ChildConfig, env: dict[str, str], log: Path) -> Iterator[Child]:
    c = Child(mode, config, env, log)
    try:
        yield c
    finally:
        c.stop()


@dataclass
class Window:
    """A child's steady window with the machine's and the services' CPU over it."""

    start: dict[str, Any]
    end: dict[str, Any]
    busy: float  # CPU-seconds the whole machine was busy during the window
    services: dict[str, float]  # CPU-seconds of the simulator, mosquitto, this process

    @property
    def seconds(self) -> float:
        return float(self.end["t"] - self.start["t"])

    def delta(self, key: str) -> float:
        return float(self.end[key] - self.start[key])

    @property
    def other_cores(self) -> float:
        ours = self.delta("cpu") + sum(self.services.values())
        return max(0.0, self.busy - ours) / self.seconds


def measure_window(c: Child, timeout: float, pids: Mapping[str, int]) -> Window:
    start = c.expect("window_start", timeout)
    busy0 = machine_busy_seconds()
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    self0 = own_cpu()
    end = c.expect("window_end", MEASURE_S + 30)
    busy = machine_busy_seconds() - busy0
    services = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    services["benchmark driver"] = own_cpu() - self0
    return Window(start, end, busy, services)


@contextlib.contextmanager
def simulator(path: Path, env: dict[str, str], log: Path, control: int) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack", "sim", "-i", str(path)],
            cwd=ROOT,
            env={**env, "PLANTROOM_SIM_CONTROL_PORT": str(control)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        pin(proc.pid, SERVICE_CORE)
        wait_for_simulator(f"http://{HOST}:{control}", proc, log)
        yield proc.pid
    finally:
        stop_process(proc, 20)
