"""Batching: lines are gathered into batches flushed by size or by age.

* A batch is sealed when it holds `size` lines, or when its first line is `interval_s` old.
* At most `max_in_flight` batches are being written at once; sealed batches wait their turn.
* Each batch carries the acknowledgement tokens of the messages it holds (and of messages that
  produced no line, such as dead letters), and batches *complete* strictly in the order they
  were sealed, even when a later one finishes writing first. The gateway acknowledges
  messages to the broker on completion, so acknowledgements go out in the order the messages
  came in, and only once their lines are stored.

Memory is bounded upstream: the broker sends at most the MQTT Receive Maximum of unacknowledged
messages, and nothing is acknowledged before its batch completes.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

A = TypeVar("A")


@dataclass(slots=True)
class Batch(Generic[A]):
    number: int
    opened: float
    lines: list[str] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    acks: list[A] = field(default_factory=list)
    done: bool = False


class Batcher(Generic[A]):
    """Collects lines from synchronous callers; `run()` writes batches through `sink`."""

    def __init__(
        self,
        sink: Callable[[Batch[A]], Awaitable[None]],
        on_complete: Callable[[Batch[A]], None],
        *,
        size: int,
        interval_s: float,
        max_in_flight: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1 or interval_s <= 0 or max_in_flight < 1:
            raise ValueError("Batcher needs size >= 1, interval_s > 0 and max_in_flight >= 1")
        self._sink = sink
        self._on_complete = on_complete
        self._size = size
        self._interval = interval_s
        self._clock = clock
        self._slots = asyncio.Semaphore(max_in_flight)
        self._numbers = 0
        self._open: Batch[A] | None = None
        self._sealed: deque[Batch[A]] = deque()
        self._writing: deque[Batch[A]] = deque()
        self._wake = asyncio.Event()
        self._closing = False

    # -- producers (synchronous, from the event loop) -------------------------------------

    def add(self, line: str | None, points: int = 0, ack: A | None = None) -> None:
        """Queue a line (None: no line, only the acknowledgement) and its ack token."""
        batch = self._open
        if batch is None:
            self._numbers += 1
            batch = self._open = Batch(self._numbers, self._clock())
            self._wake.set()
        if line is not None:
            batch.lines.append(line)
            batch.points.append(points)
        if ack is not None:
            batch.acks.append(ack)
        if len(batch.lines) >= self._size:
            self._seal()

    def _seal(self) -> None:
        if self._open is not None:
            self._sealed.append(self._open)
            self._open = None
            self._wake.set()

    def close(self) -> None:
        """Stop: `run()` flushes everything it holds, waits for the writes, and returns."""
        self._closing = True
        self._wake.set()

    # -- state ----------------------------------------------------------------------------

    @property
    def pending_lines(self) -> int:
        """Lines not yet handed to the sink."""
        open_lines = len(self._open.lines) if self._open is not None else 0
        return open_lines + sum(len(b.lines) for b in self._sealed)

    @property
    def in_flight(self) -> int:
        return sum(1 for b in self._writing if not b.done)

    # -- the loop -------------------------------------------------------------------------

    async def _next_batch(self) -> Batch[A] | None:
        while True:
            if self._sealed:
                return self._sealed.popleft()
            batch = self._open
            if batch is not None:
                delay = batch.opened + self._interval - self._clock()
                if self._closing or delay <= 0:
                    self._seal()
                    continue
            elif self._closing:
                return None
            else:
                delay = None
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                await self._slots.acquire()
                batch = await self._next_batch()
                if batch is None:
                    self._slots.release()
                    break
                self._writing.append(batch)
                tg.create_task(self._write(batch), name=f"gateway-batch-{batch.number}")

    async def _write(self, batch: Batch[A]) -> None:
        try:
            if batch.lines:
                await self._sink(batch)
            batch.done = True
            while self._writing and self._writing[0].done:
                self._on_complete(self._writing.popleft())
        finally:
            self._slots.release()
