"""Batching by size and by time, bounded in-flight writes, completion in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gateway.batcher import Batch, Batcher
from tests.harness import wait_for_async


class Sink:
    """Records batches; a batch's write can be held until released."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[Batch[int]] = []
        self.completed: list[Batch[int]] = []
        self.active = 0
        self.most_active = 0
        self.hold = hold
        self.gates: dict[int, asyncio.Event] = {}

    async def write(self, batch: Batch[int]) -> None:
        self.batches.append(batch)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if self.hold:
                await self.gates.setdefault(batch.number, asyncio.Event()).wait()
        finally:
            self.active -= 1

    def release(self, number: int) -> None:
        self.gates.setdefault(number, asyncio.Event()).set()

    def complete(self, batch: Batch[int]) -> None:
        self.completed.append(batch)


@asynccontextmanager
async def running(
    sink: Sink, *, size: int = 3, interval_s: float = 60.0, max_in_flight: int = 2
) -> AsyncIterator[Batcher[int]]:
    batcher: Batcher[int] = Batcher(
        sink.write, sink.complete, size=size, interval_s=interval_s, max_in_flight=max_in_flight
    )
    task = asyncio.create_task(batcher.run())
    try:
        yield batcher
    finally:
        batcher.close()
        async with asyncio.timeout(5):
            await task


async def test_a_full_batch_is_flushed_at_once() -> None:
    sink = Sink()
    async with running(sink, size=3) as batcher:
        for i in range(7):
            batcher.add(f"line {i}", points=2, ack=i)
        await wait_for_async(
            lambda: len(sink.completed) == 2, "two full batches", within=5.0, interval=0.005
        )
        assert [b.lines for b in sink.batches] == [
            ["line 0", "line 1", "line 2"],
            ["line 3", "line 4", "line 5"],
        ]
        assert sink.batches[0].points == [2, 2, 2] and sink.batches[0].acks == [0, 1, 2]
        assert batcher.pending_lines == 1  # the seventh waits for size or time
    # closing flushes what is left
    assert [b.lines for b in sink.batches][-1] == ["line 6"]


async def test_a_partial_batch_is_flushed_when_its_first_line_is_old_enough() -> None:
    sink = Sink()
    async with running(sink, size=1000, interval_s=0.05) as batcher:
        started = time.monotonic()
        batcher.add("a", ack=1)
        batcher.add("b", ack=2)
        await wait_for_async(
            lambda: len(sink.completed) == 1, "the timed flush", within=5.0, interval=0.005
        )
        assert time.monotonic() - started >= 0.05
        assert sink.batches[0].lines == ["a", "b"]


async def test_no_more_than_max_in_flight_batches_are_written_at_once() -> None:
    sink = Sink(hold=True)
    async with running(sink, size=1, max_in_flight=2) as batcher:
        for i in range(6):
            batcher.add(f"l{i}", ack=i)
        await wait_for_async(
            lambda: sink.active == 2, "two writes in flight", within=5.0, interval=0.005
        )
        await asyncio.sleep(0.02)  # give a third write the chance it must not take
        assert sink.active == 2 and batcher.in_flight == 2 and batcher.pending_lines == 4
        for n in range(1, 7):
            sink.release(n)
        await wait_for_async(
            lambda: len(sink.completed) == 6, "every batch", within=5.0, interval=0.005
        )
    assert sink.most_active == 2


async def test_batches_complete_in_order_even_when_a_later_write_finishes_first() -> None:
    sink = Sink(hold=True)
    async with running(sink, size=1, max_in_flight=3) as batcher:
        for i in range(3):
            batcher.add(f"l{i}", ack=i)
        await wait_for_async(
            lambda: sink.active == 3, "three writes in flight", within=5.0, interval=0.005
        )
        sink.release(3)
        sink.release(2)
        await asyncio.sleep(0.02)
        assert sink.completed == []  # batch 1 is still being written
        sink.release(1)
        await wait_for_async(
            lambda: len(sink.completed) == 3, "all three", within=5.0, interval=0.005
        )
    assert [b.acks for b in sink.completed] == [[0], [1], [2]]


async def test_acks_without_lines_complete_in_their_place_without_a_write() -> None:
    sink = Sink()
    async with running(sink, size=2, interval_s=0.02) as batcher:
        batcher.add(None, ack=1)  # e.g. a dead-lettered message
        await wait_for_async(
            lambda: len(sink.completed) == 1, "the ack-only batch", within=5.0, interval=0.005
        )
        assert sink.batches == [] and sink.completed[0].acks == [1]
        batcher.add("x", ack=2)
        batcher.add(None, ack=3)
        batcher.add("y", ack=4)
        await wait_for_async(
            lambda: len(sink.completed) == 2, "the mixed batch", within=5.0, interval=0.005
        )
        assert sink.completed[1].lines == ["x", "y"] and sink.completed[1].acks == [2, 3, 4]


async def test_close_flushes_everything_and_run_returns() -> None:
    sink = Sink()
    async with running(sink, size=100, interval_s=60) as batcher:
        for i in range(5):
            batcher.add(f"l{i}", ack=i)
    assert [a for b in sink.completed for a in b.acks] == [0, 1, 2, 3, 4]


async def test_a_failing_sink_stops_the_batcher_without_completing_the_batch() -> None:
    async def broken(batch: Batch[int]) -> None:
        raise OSError("disk full")

    completed: list[Batch[int]] = []
    batcher: Batcher[int] = Batcher(broken, completed.append, size=1, interval_s=1, max_in_flight=1)
    task = asyncio.create_task(batcher.run())
    batcher.add("x", ack=1)
    with pytest.raises(ExceptionGroup) as failure:
        async with asyncio.timeout(5):
            await task
    assert failure.group_contains(OSError)
    assert completed == []


def test_bad_limits_are_refused() -> None:
    async def sink(batch: Batch[int]) -> None:
        return None

    with pytest.raises(ValueError, match="size"):
        Batcher(sink, lambda b: None, size=0, interval_s=1, max_in_flight=1)
