"""The starved-cloud benchmark's report and its CPU limiter, on made-up figures and a child
process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_overload import Run, Starve, report


def intake(wait: float, routine: float | None, urgent: float | None) -> dict[str, object]:
    return {
        "oldest_wait_s": wait,
        "routine_delay_s": routine,
        "urgent_delay_s": urgent,
        "coalesced": 1200,
        "behind": wait > 10,
    }


def test_the_report_reads_the_faults_and_the_lag() -> None:
    run = Run(latencies=[100.0] * 98 + [200.0, 240.0], sent=9000, catch_up_s=2.5, cleared=True)
    run.health = [
        {"queued": 150, "intake": intake(3.0, 2.5, 0.04)},
        {"queued": 190, "intake": intake(12.0, 11.0, None)},
    ]
    run.behind = [4.0, 6.0, 13.0]
    run.alarm_seen = True
    text = report(run)
    assert "**p99 200 ms**" in text and "max 240 ms" in text
    assert "median 6.0 s, max 13.0 s" in text  # behind the stream
    assert "median 40 ms, max 40 ms" in text  # alarm and state changes
    assert "1,200 of 9,000" in text and "raised during the run" in text
    assert "2.5 s; the lag alarm cleared" in text
    assert "the run\n**meets** it" in text


def test_a_timeout_or_a_slow_p99_misses_the_target() -> None:
    assert "**misses**" in report(Run(latencies=[100.0], timeouts=1))
    assert "**misses**" in report(Run(latencies=[300.0]))
    assert "none of 2 had a work order" in report(Run(timeouts=2))


def test_the_limiter_stops_and_continues_the_process_and_leaves_it_running(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ticks"
    code = (
        "import sys, time\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    for _ in range(400):\n"
        "        f.write('.'); f.flush(); time.sleep(0.005)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(marker)])
    try:
        with Starve(child.pid, 0.3, period=0.05).running():
            deadline = time.monotonic() + 30
            while not marker.exists() or marker.stat().st_size < 20:
                assert time.monotonic() < deadline, "the starved process made no progress"
                time.sleep(0.01)
        assert child.wait(timeout=60) == 0  # continued after the limiter stopped
    finally:
        child.kill()
        child.wait()
