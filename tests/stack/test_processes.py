"""The servers and processes the stack starts end with the process that started them, even
when it is killed outright (the demo's terminal closed, a test run stopped with SIGKILL)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from stack.pgserver import postgres_dir
from stack.processes import ended_with_us
from tests.harness import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# A parent that starts mosquitto, influxd and PostgreSQL on its main thread, and one more
# mosquitto on a worker thread that then ends; prints their pids, then waits to be killed.
PARENT = """
import json, sys, threading, time
from pathlib import Path
from stack.pgserver import Postgres
from stack.services import Influxd, Mosquitto

base, pg_dir = Path(sys.argv[1]), Path(sys.argv[2])
broker, influx, pg = Mosquitto(base / "mq"), Influxd(base / "ix"), Postgres(pg_dir)
for server in (broker, influx, pg):
    server.start()
other = Mosquitto(base / "mq-thread")
starter = threading.Thread(target=other.start)
starter.start()
starter.join()
time.sleep(1.0)  # a server started on a thread that ended is still up after it
postmaster = int((pg_dir / "cluster" / "postmaster.pid").read_text().split()[0])
print(json.dumps({
    "main": [broker.pid, influx.pid, pg.pid, postmaster],
    "thread": other.pid,
    "thread_alive": other.running(),
}), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose (its parent died; init reaps it)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_servers_started_on_the_main_thread_stop_when_their_starter_is_killed(
    tmp_path: Path,
) -> None:
    pg_dir = postgres_dir()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), str(pg_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pids: dict[str, object] = {}
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line, f"the parent ended before starting its servers (exit {parent.wait()})"
        pids = json.loads(line)
        main = pids["main"]
        assert isinstance(main, list) and all(alive(pid) for pid in main)
        assert pids["thread_alive"] is True  # not ended with the thread that started it
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_for(
            lambda: not any(alive(pid) for pid in main),
            "mosquitto, influxd and PostgreSQL to stop after their starter was killed",
            within=20,
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
        # what the test must stop itself: the server started on a thread, and anything left
        # should the test fail
        leftovers = [*pids.get("main", []), pids.get("thread")]  # type: ignore[list-item]
        for pid in leftovers:
            if isinstance(pid, int) and alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(pg_dir, ignore_errors=True)


def test_only_the_main_thread_ties_a_command_to_its_life() -> None:
    on_main = ended_with_us(["mosquitto", "-c", "x.conf"])
    assert on_main[-3:] == ["mosquitto", "-c", "x.conf"]
    assert on_main[1:4] == ["--pdeathsig", "TERM", "--"] and on_main[0].endswith("setpriv")
    seen: list[list[str]] = []
    worker = threading.Thread(target=lambda: seen.append(ended_with_us(["mosquitto"])))
    worker.start()
    worker.join()
    assert seen == [["mosquitto"]]
