"""Child processes of the stack: stopping one cleanly or crashing it, reading its log's tail,
tying one's life to the process that started it, and `Child`, one `python -m stack …` process
of the demo with its own environment and log."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def ended_with_us(cmd: list[str]) -> list[str]:
    """`cmd`, run so that it is sent SIGTERM if this process dies without stopping it (killed
    with SIGKILL, its terminal closed): util-linux's `setpriv --pdeathsig TERM` asks the kernel
    for that signal and then becomes `cmd` (the same process, so its pid and signals are the
    server's own). The servers and processes of the demo and of the tests run in sessions of
    their own, so nothing else would stop them, and the next start would find their ports
    taken.

    Only from the main thread: the kernel sends the signal when the *thread* that started the
    child ends, and a worker thread may end long before the process does. Without `setpriv`
    (not Linux) `cmd` is returned as it is."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return cmd
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd]


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """Stop `proc` cleanly: SIGTERM, then SIGKILL if it has not exited after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def kill_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Crash `proc` (SIGKILL), as a power cut would: no clean-up of any kind runs."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(5)


def log_tail(path: Path, lines: int) -> str:
    """The last `lines` lines of the log at `path` ("" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ended_with_us([sys.executable, "-m", "stack", *self.args]),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Crash the process (SIGKILL): no clean-up of any kind runs."""
        proc, self.proc = self.proc, None
        kill_process(proc)

    def stop(self, grace: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, grace)

    def tail(self, lines: int = 15) -> str:
        return log_tail(self.log_path, lines)
