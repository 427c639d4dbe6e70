"""One sink's delivery loop: events read after its cursor → a bounded queue → delivered with
retries → cursor moved on.

    reader ──► asyncio.Queue(maxsize) ──► sender ──► sink.deliver(batch) ──► save cursor

The reader waits while the queue is full, so memory stays bounded and the backlog waits in
the database. A delivery that fails in a way worth retrying (`Retryable`) is tried again after
jittered exponential backoff, up to `max_attempts`; after that, or on a `Permanent` refusal,
the batch is given up: logged at ERROR with its event ids, counted in `dropped`, and the
cursor moves past it so one poisoned event cannot stop the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

from cloud.notify.events import EventReader, Outgoing, save_cursor
from plantroom.backoff import backoff_delay

log = logging.getLogger(__name__)

T = TypeVar("T")


class DbCall(Protocol):
    """Runs `fn` with a session, in one transaction, on the notifier's database thread."""

    def __call__(self, fn: Callable[[Session], T]) -> Awaitable[T]: ...


class DeliveryError(Exception):
    pass


class Retryable(DeliveryError):
    """The receiver may take it later: a timeout, a connection error, a 5xx."""


class Permanent(DeliveryError):
    """The receiver will never take it: try no more."""


class Sink(Protocol):
    name: str
    batch: int

    def wants(self, event: Outgoing) -> bool: ...

    async def deliver(self, events: list[Outgoing]) -> None: ...


@dataclass(slots=True)
class PumpStats:
    delivered: int = 0
    retries: int = 0
    dropped: int = 0
    queued: int = 0
    position: int = 0
    last_error: str | None = None


class Pump:
    def __init__(
        self,
        sink: Sink,
        cursor_name: str,
        reader: EventReader,
        db: DbCall,
        *,
        queue_size: int,
        max_attempts: int,
        poll_interval: float,
        read_limit: int = 100,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.sink = sink
        self.cursor_name = cursor_name
        self._reader = reader
        self._db = db
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=queue_size)
        self._max_attempts = max_attempts
        self._poll_interval = poll_interval
        self._read_limit = read_limit
        self._backoff = (backoff_initial, backoff_max)
        self._wake = asyncio.Event()
        self.stats = PumpStats(position=reader.position)

    def wake(self) -> None:
        """Read now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read_forever(), name=f"notify-read {self.sink.name}")
            tg.create_task(self._send_forever(), name=f"notify-send {self.sink.name}")

    async def _read_forever(self) -> None:
        while True:
            events = await self._db(lambda session: self._reader.read(session, self._read_limit))
            for event in events:
                await self._queue.put(event)  # waits while the queue is full
            self.stats.queued = self._queue.qsize()
            if len(events) < self._read_limit:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)

    async def _send_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.sink.batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            wanted = [e for e in batch if self.sink.wants(e)]
            if wanted:
                await self._deliver(wanted)
            top = batch[-1].event_id
            await self._db(functools.partial(save_cursor, name=self.cursor_name, value=top))
            self.stats.position = top
            self.stats.queued = self._queue.qsize()

    async def _deliver(self, batch: list[Outgoing]) -> None:
        ids = ", ".join(str(e.event_id) for e in batch)
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.sink.deliver(batch)
            except Retryable as exc:
                self.stats.last_error = str(exc)
                if attempt >= self._max_attempts:
                    self._drop(batch, f"{exc} (after {attempt} attempts)")
                    return
                self.stats.retries += 1
                delay = backoff_delay(attempt - 1, *self._backoff)
                log.warning(
                    "%s: delivery of event(s) %s failed (%s); retry %d of %d in %.1f s",
                    self.sink.name,
                    ids,
                    exc,
                    attempt,
                    self._max_attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
            except Permanent as exc:
                self.stats.last_error = str(exc)
                self._drop(batch, str(exc))
                return
            else:
                self.stats.delivered += len(batch)
                return

    def _drop(self, batch: list[Outgoing], why: str) -> None:
        self.stats.dropped += len(batch)
        log.error(
            "%s: gave up on event(s) %s: %s",
            self.sink.name,
            ", ".join(str(e.event_id) for e in batch),
            why,
        )
