"""The edge buffer on a disk that fills up: samples wait in memory, alarm and state samples are
never dropped for measurements, the condition is counted and logged, and everything queued
is stored in order once the disk has room again. A real SQLite file on a real (tmpfs) file
system filled with a ballast file; skipped where a tmpfs cannot be mounted."""

from __future__ import annotations

import logging

import pytest

from chaos.disk import Tmpfs
from edge.buffer import SampleBuffer

pytestmark = pytest.mark.integration

TS = 1_763_900_000_000


def test_a_full_disk_holds_samples_in_memory_keeps_alarms_and_recovers(
    small_disk: Tmpfs, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = SampleBuffer(
        small_disk.path / "edge.sqlite", 100_000, commit_interval_s=0.0, max_held=50
    )
    with buffer:
        buffer.append("p1", "t/p1", TS, {"flow": 1.0})
        small_disk.fill()
        with caplog.at_level(logging.WARNING, logger="edge.buffer"):
            seqs = [
                buffer.append(
                    "p1", "t/p1", TS + i, {"flow": float(i), "note": "x" * 200}, keep=(i % 20 == 0)
                )
                for i in range(1, 200)
            ]
            stats = buffer.stats()
            assert stats.disk_full and stats.disk_full_events == 1
            assert 0 < stats.held <= 50
            assert stats.dropped_measurements > 0 and stats.dropped_keepers == 0
            assert "database or disk is full" in caplog.text
            held_keepers = [s for s in seqs if s % 20 == 0]

            small_disk.drain()
            buffer.append("p1", "t/p1", TS + 500, {"flow": 5.0})
            stats = buffer.stats()
            assert not stats.disk_full and stats.held == 0
            assert "has room again" in caplog.text

        stored = buffer.pending(0, 10_000)
        stored_seqs = [s.seq for s in stored]
        assert stored_seqs == sorted(stored_seqs)  # in their order
        assert set(held_keepers) <= set(stored_seqs)  # every alarm sample kept
        assert stored_seqs[0] == 0 and stored_seqs[-1] == 200
        lost = set(range(201)) - set(stored_seqs)
        assert len(lost) == buffer.stats().dropped_measurements
    with SampleBuffer(small_disk.path / "edge.sqlite", 100_000) as reopened:
        assert reopened.next_seq("p1") == 201  # no seq is handed out twice after a restart
        assert reopened.stats().disk_full_events == 1
