"""The starved-cloud benchmark's report, its reading of the database, and its CPU limiters, on
made-up figures and a child process."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.bench_overload import Run, report, work_order_latencies
from benchmarks.committed import CommitWatch
from benchmarks.cpulimit import CpuQuota, Starve, limit
from tests.harness import wait_for


def intake(wait: float, routine: float | None, urgent: float | None) -> dict[str, object]:
    return {
        "oldest_wait_s": wait,
        "routine_delay_s": routine,
        "urgent_delay_s": urgent,
        "coalesced": 1200,
        "behind": wait > 10,
    }


def test_the_report_reads_the_faults_and_the_lag() -> None:
    run = Run(
        created=[100.0] * 98 + [200.0, 240.0],
        committed=[110.0] * 98 + [210.0, 245.0],
        commit_reads=6000,
        dispatched=[300.0] * 100,
        published={f"pump-{n:03d}": 0.0 for n in range(100)},
        sent=9000,
        catch_up_s=2.5,
        cleared=True,
        limiter="a CPU quota",
        throttled=(600, 550, 48.5),
    )
    run.health = [
        {"queued": 150, "intake": intake(3.0, 2.5, 0.04)},
        {"queued": 190, "intake": intake(12.0, 11.0, None)},
    ]
    run.behind = [4.0, 6.0, 13.0]
    run.alarm_seen = True
    text = report(run)
    assert "100 of 100: p50 100 ms, p90 100 ms, **p99 200 ms**, max 240 ms" in text
    assert "p90 300 ms, p99 300 ms, max 300 ms" in text  # dispatched
    assert "100 of 100: p50 110 ms, p90 110 ms, **p99 210 ms**, max 245 ms" in text  # committed
    assert "every 10 ms (6,000 reads)" in text
    assert "starved to 10% of a core** by a CPU quota" in text
    assert "ran out in 550 of 600 periods (48.5 s waited)" in text
    assert "median 6.0 s, max 13.0 s" in text  # behind the stream
    assert "median 40 ms, max 40 ms" in text  # alarm and state changes
    assert "1,200 of 9,000" in text and "raised during the run" in text
    assert "2.5 s; the lag alarm cleared" in text
    assert "the run\n**meets** it" in text


def test_a_missing_work_order_or_a_slow_p99_misses_the_target() -> None:
    two = {"pump-001": 0.0, "pump-002": 0.0}
    missing = report(Run(created=[100.0], committed=[100.0], published=two))
    assert "1 with no work order" in missing and "**misses**" in missing
    one = {"pump-001": 0.0}
    assert "**misses**" in report(Run(created=[90.0], committed=[300.0], published=one))
    assert "none of 2 had a work order" in report(Run(published=two))
    assert "**misses**" in report(Run(created=[90.0], published=one))  # commit not seen
    assert "**meets**" in report(Run(created=[90.0], committed=[95.0], published=one))


def test_the_commit_watch_notes_when_each_work_order_is_first_read(tmp_path: Path) -> None:
    database = tmp_path / "cloud.sqlite"
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE work_orders (id INTEGER PRIMARY KEY, equipment_id TEXT)")
        db.commit()
        with CommitWatch(database, every_s=0.005) as watch:
            wait_for(lambda: watch.reads > 0, what="the watch's first read")
            before = time.time()
            db.executemany(
                "INSERT INTO work_orders (equipment_id) VALUES (?)",
                [("pump-001",), ("pump-002",), ("pump-001",)],
            )
            db.commit()
            wait_for(lambda: len(watch.seen) == 2, what="both pumps' work orders read")
            first = dict(watch.seen)
            db.execute("INSERT INTO work_orders (equipment_id) VALUES ('pump-001')")
            db.commit()
            reads = watch.reads
            wait_for(lambda: watch.reads > reads + 1, what="reads after the next commit")
    assert watch.seen == first  # a pump's later work orders do not move its first sighting
    assert all(at >= before for at in first.values())


def test_latencies_are_read_from_the_work_orders_table(tmp_path: Path) -> None:
    database = tmp_path / "cloud.sqlite"
    with sqlite3.connect(database) as db:
        db.execute(
            "CREATE TABLE work_orders (id INTEGER PRIMARY KEY, equipment_id TEXT, "
            "created_at TEXT, dispatched_at TEXT)"
        )
        db.executemany(
            "INSERT INTO work_orders (equipment_id, created_at, dispatched_at) VALUES (?, ?, ?)",
            [
                ("pump-001", "2026-12-07 05:00:00.250000", "2026-12-07 05:00:00.400000"),
                ("pump-001", "2026-12-07 05:00:09.000000", None),  # a later one: not the fault's
                ("pump-002", "2026-12-07 05:00:03.120500", None),  # not dispatched
                ("pump-150", "2026-12-07 05:00:01.000000", None),  # no fault published: left out
            ],
        )
    db.close()
    at = datetime(2026, 12, 7, 5, 0, 0, tzinfo=UTC).timestamp()
    created, dispatched = work_order_latencies(
        database, {"pump-001": at, "pump-002": at + 3, "pump-003": at}
    )
    assert sorted(round(ms, 1) for ms in created) == [120.5, 250.0]
    assert [round(ms, 1) for ms in dispatched] == [400.0]


@pytest.fixture
def child(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process that writes a dot every 5 ms, 400 times, and the file it writes to."""
    marker = tmp_path / "ticks"
    code = (
        "import sys, time\n"
        "with open(sys.argv[1], 'a') as f:\n"
        "    for _ in range(400):\n"
        "        f.write('.'); f.flush(); time.sleep(0.005)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(marker)])
    try:
        yield process, marker
    finally:
        process.kill()
        process.wait()


def _progresses(marker: Path) -> None:
    deadline = time.monotonic() + 30
    while not marker.exists() or marker.stat().st_size < 20:
        assert time.monotonic() < deadline, "the starved process made no progress"
        time.sleep(0.01)


def test_the_duty_cycle_stops_and_continues_the_process_and_leaves_it_running(
    child: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, marker = child
    with Starve(process.pid, 0.3, period=0.05).running():
        _progresses(marker)
    assert process.wait(timeout=60) == 0  # continued after the limiter stopped


@pytest.mark.skipif(not CpuQuota.available(), reason="no writable cgroup v1 cpu controller")
def test_the_quota_holds_the_process_in_a_cgroup_of_its_own_and_removes_it(
    child: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, marker = child
    quota = limit(process.pid, 0.3, period=0.05)
    assert isinstance(quota, CpuQuota)
    assert "cpu.cfs_quota_us 15000 in every cpu.cfs_period_us 50000" in quota.how
    with quota.running():
        assert (quota.group / "cpu.cfs_quota_us").read_text().strip() == "15000"
        cgroups = Path(f"/proc/{process.pid}/cgroup").read_text()
        assert f":cpu:/{quota.group.name}" in cgroups
        _progresses(marker)
        assert quota.throttled()[0] >= 0
    assert not quota.group.exists()
    assert process.wait(timeout=60) == 0


def test_without_the_cgroup_controller_the_duty_cycle_is_used(tmp_path: Path) -> None:
    assert isinstance(limit(1, 0.1, root=tmp_path / "none"), Starve)
