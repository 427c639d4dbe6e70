"""Where a finished batch goes: InfluxDB, or the disk buffer while InfluxDB is down or slow,
and the replay of that buffer into InfluxDB, oldest first.

A batch is retried directly a few times (`RetryPolicy.direct_attempts`), then spilled to the
disk buffer; while the buffer holds anything, new batches go behind it so order is kept.
While the buffer's disk is full a batch waits unacknowledged and InfluxDB is tried in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from gateway.batcher import Batch
from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.retry import RetryPolicy
from gateway.stats import GatewayStats
from plantroom.influx.errors import InfluxUnavailable
from plantroom.influx.writer import InfluxWriter, WriteReport
from plantroom.subscriber import AckToken

log = logging.getLogger(__name__)


class BatchSink:
    """Stores the gateway's batches: `store` for each batch, `replay` as a task."""

    def __init__(
        self,
        buffer: DiskBuffer,
        dead_letters: DeadLetters,
        stats: GatewayStats,
        retry: RetryPolicy,
    ) -> None:
        self.buffer = buffer
        self.dead_letters = dead_letters
        self.stats = stats
        self.writer: InfluxWriter | None = None
        self.stopping = False
        """Set when the gateway stops: no more direct retries, a full disk raises."""
        self._retry = retry
        self._replay_wake = asyncio.Event()
        self._influx_up = True
        self._down_logged = False

    @property
    def influx_up(self) -> bool:
        """False from a failed write until the next successful one."""
        return self._influx_up

    def _account(self, lines: Sequence[str], points: Sequence[int], report: WriteReport) -> None:
        rejected = {r.index for r in report.rejected}
        for r in report.rejected:
            self.dead_letters.line(r.line, r.reason)
        self.stats.dead_letters += len(rejected)
        self.stats.lines_written += len(lines) - len(rejected)
        self.stats.points_out += sum(points) - sum(points[i] for i in rejected)
        self.stats.batches += 1

    def _mark_down(self, exc: InfluxUnavailable) -> None:
        self._influx_up = False
        if not self._down_logged:
            log.error("%s; buffering on disk and retrying", exc)
            self._down_logged = True
        else:
            log.debug("InfluxDB still unavailable: %s", exc)

    def _mark_up(self) -> None:
        if not self._influx_up:
            log.info("InfluxDB is back; replaying the disk buffer")
        self._influx_up = True
        self._down_logged = False

    def refresh_buffer_stats(self) -> None:
        self.stats.buffer_depth = self.buffer.depth_lines
        self.stats.buffer_dropped = self.buffer.dropped_lines
        self.stats.buffer_full = int(self.buffer.full)
        self.stats.buffer_full_errors = self.buffer.full_errors

    async def write(self, lines: Sequence[str], points: Sequence[int]) -> None:
        """One write through the InfluxDB writer, counted. Raises InfluxUnavailable."""
        assert self.writer is not None
        started = time.perf_counter()
        try:
            report = await self.writer.write(lines)
        except InfluxUnavailable:
            self.stats.write_errors += 1
            raise
        self.stats.batch_latency_ms = (time.perf_counter() - started) * 1000.0
        self._account(lines, points, report)

    async def store(self, batch: Batch[AckToken]) -> None:
        """Store a batch in InfluxDB or, failing that, in the disk buffer."""
        if self._influx_up and not self.buffer.has_data:
            backoff = self._retry.backoff()
            for attempt in range(self._retry.direct_attempts):
                try:
                    await self.write(batch.lines, batch.points)
                except InfluxUnavailable as exc:
                    if self.stopping or attempt + 1 == self._retry.direct_attempts:
                        self._mark_down(exc)
                        break
                    await asyncio.sleep(backoff.next_delay())
                else:
                    return
        await self._spill(batch)

    async def _spill(self, batch: Batch[AckToken]) -> None:
        """Store a batch in the disk buffer. While its disk is full the batch waits here
        unacknowledged (the broker keeps what follows) and InfluxDB is tried in between."""
        backoff = self._retry.backoff()
        while not self.buffer.offer(batch.lines, batch.points, raise_full=self.stopping):
            self.refresh_buffer_stats()
            await asyncio.sleep(backoff.next_delay())
            with contextlib.suppress(InfluxUnavailable):
                await self.write(batch.lines, batch.points)
                self.buffer.clear_full()
                break
        else:  # stored in the buffer, not written directly
            self.stats.buffered_lines += len(batch.lines)
        self.refresh_buffer_stats()
        self._replay_wake.set()

    async def replay(self) -> None:
        """Drain the disk buffer into InfluxDB, oldest first, backing off while it is down.
        Starts with what an earlier run left in the buffer."""
        if self.buffer.has_data:
            self._replay_wake.set()
        backoff = self._retry.backoff()
        while True:
            await self._replay_wake.wait()
            self._replay_wake.clear()
            while (batch := self.buffer.peek()) is not None:
                try:
                    await self.write(batch.lines, batch.points)
                except InfluxUnavailable as exc:
                    self._mark_down(exc)
                    await asyncio.sleep(backoff.next_delay())
                    continue
                self.buffer.commit(batch)
                self.refresh_buffer_stats()
                backoff.reset()
                self._mark_up()
            self.refresh_buffer_stats()
            if not self.buffer.has_data:
                self._mark_up()
