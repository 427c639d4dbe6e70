"""Admission control: the API works on what it can serve in time and answers the rest at once.

Pure ASGI middleware, outside everything else. Each HTTP request takes a place in its lane
before the app sees it:

* a free place: the request is served at once;
* none: it waits in the lane's queue, first come first served, for at most the lane's wait
  (`PLANTROOM_API_QUEUE_WAIT_S`), with at most `PLANTROOM_API_MAX_QUEUED` waiting;
* the queue full, or the wait over: `503 overloaded` with `Retry-After`, answered at once;
* a queue that stands: a queue that has not been empty for an interval
  (`PLANTROOM_API_QUEUE_INTERVAL_MS`) is not absorbing a burst but holding a backlog the API
  cannot work off; while it stands, a request whose turn comes after it waited longer than
  the queue's target (`PLANTROOM_API_QUEUE_TARGET_MS`) is answered 503 instead of served, so
  those served are served fresh and the backlog cannot grow; once the queue empties, waits up
  to the lane's wait are served again (CoDel, a router queue's control of its delay, as
  servers apply it to their request queues);
* a client that goes away while its request waits: the request is dropped unanswered and
  never reaches the app (what it sends while waiting is read, so its leaving is seen; a body
  is held up to `WATCH_BODY_BYTES`, past which it is left unread until the request is let in).

Lanes: `/api/health` has one of its own (`MONITOR`), so monitoring sees the service while the
API is full; the server-sent events stream (`STREAMS`) takes no place, since it holds its
connection for hours and works only when something happens; the rest of the API and the
acknowledge links share the API's lane; the console's and the public pages' static files take no
place. Every bound is per process. What was served, shed and dropped is counted
(`Admission.load`, in `/api/health`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plantroom.settings import CloudSettings

MONITOR = frozenset({"/api/health"})  # paths with a lane of their own
STREAMS = frozenset({"/api/events"})  # paths that take no place
# what takes a place in the API's lane: the API and the acknowledge links; the console's files
# and the public pages' files are read from disk and take none, so a phone loading the
# console's two dozen modules at once is not turned away
WORK = ("/api/", "/ack/")
MONITOR_IN_PROGRESS = 2
MONITOR_QUEUED = 8
MONITOR_WAIT_S = 2.0
WATCH_BODY_BYTES = 64 * 1024  # body held per waiting request, at most

Outcome = Literal["in", "full", "waited", "gone"]


@dataclass(frozen=True, slots=True)
class Bounds:
    """A lane's bounds: places, queue length, longest wait and, with `target_s`, the
    standing-queue control (`QueueDelay`) over `interval_s`."""

    in_progress: int
    queued: int
    wait_s: float
    target_s: float | None = None
    interval_s: float = 0.1

    def __post_init__(self) -> None:
        if self.in_progress < 1:
            raise ValueError(f"in_progress: at least 1, not {self.in_progress}")
        if self.queued < 0:
            raise ValueError(f"queued: at least 0, not {self.queued}")
        if not 0 <= self.wait_s <= 60:
            raise ValueError(f"wait_s: between 0 and 60 s, not {self.wait_s}")
        if self.target_s is not None and not 0 < self.target_s <= 60:
            raise ValueError(f"target_s: above 0 and at most 60 s, not {self.target_s}")
        if not 0 < self.interval_s <= 60:
            raise ValueError(f"interval_s: above 0 and at most 60 s, not {self.interval_s}")


class QueueDelay:
    """Whether a lane's queue stands: pure bookkeeping on the times it is given.

    A queue that empties now and then is absorbing bursts; one that has not been empty for
    `interval_s` (`joined` an empty queue, not `emptied` since) holds a backlog. While it
    stands, a request whose turn comes after waiting longer than `target_s` has `expired`:
    it is answered 503 rather than served, as one served after it would only wait longer."""

    def __init__(self, target_s: float, interval_s: float) -> None:
        self.target_s = target_s
        self.interval_s = interval_s
        self._busy_since: float | None = None  # when the queue last stopped being empty
        self._standing = False
        self.episodes = 0  # times the queue was found standing, since start

    def joined(self, now: float, *, was_empty: bool) -> None:
        if was_empty:
            self._busy_since = now

    def emptied(self) -> None:
        self._busy_since = None
        self._standing = False

    def standing(self, now: float) -> bool:
        stands = self._busy_since is not None and now - self._busy_since >= self.interval_s
        if stands and not self._standing:
            self.episodes += 1
        self._standing = stands
        return stands

    def expired(self, waited_s: float, now: float) -> bool:
        """Whether a request that waited `waited_s` is to be answered 503 now."""
        return waited_s > self.target_s and self.standing(now)


@dataclass(frozen=True, slots=True)
class Load:
    """A lane now and since start: requests in progress and waiting; served (let in, at once
    or after waiting), shed (answered 503: the queue was full, or the wait ran out) and gone
    (the client left while its request waited)."""

    in_progress: int
    waiting: int
    served: int
    shed: int
    gone: int


class Lane:
    """Places for `bounds.in_progress` requests at once and a queue of `bounds.queued`.

    The bookkeeping, on one event loop: `take` a free place or `join` the queue, `leave` a
    place (which goes straight to the first request waiting), `withdraw` from the queue;
    `wait` joins and waits for a place within the lane's wait, watching the client."""

    def __init__(
        self, name: str, bounds: Bounds, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.bounds = bounds
        self.in_progress = 0
        # each waiting request's ticket, and when it joined
        self._waiting: deque[tuple[asyncio.Future[bool], float]] = deque()
        self._clock = clock
        self.delay = (
            None if bounds.target_s is None else QueueDelay(bounds.target_s, bounds.interval_s)
        )
        self.served = 0
        self.shed = 0
        self.gone = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def load(self) -> Load:
        return Load(self.in_progress, self.waiting, self.served, self.shed, self.gone)

    def take(self) -> bool:
        """A free place, if there is one and nobody waits for it."""
        if self.in_progress < self.bounds.in_progress and not self._waiting:
            self.in_progress += 1
            self.served += 1
            return True
        return False

    def join(self) -> asyncio.Future[bool] | None:
        """A place in the queue: a future done when the request's turn comes, True with a
        place handed over, False when it waited too long in a standing queue (`QueueDelay`;
        counted shed); None (and counted shed) when the queue is full."""
        if len(self._waiting) >= self.bounds.queued:
            self.shed += 1
            return None
        ticket: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        now = self._clock()
        if self.delay is not None:
            self.delay.joined(now, was_empty=not self._waiting)
        self._waiting.append((ticket, now))
        return ticket

    def leave(self) -> None:
        """A request is done: its place goes to the first still waiting (those past the
        target of a standing queue are answered 503 on the way), else is freed."""
        now = self._clock() if self.delay is not None else 0.0
        while self._waiting:
            ticket, joined = self._waiting.popleft()
            late = self.delay is not None and self.delay.expired(now - joined, now)
            if not self._waiting and self.delay is not None:
                self.delay.emptied()
            if ticket.done():
                continue
            if late:
                ticket.set_result(False)
                self.shed += 1
                continue
            ticket.set_result(True)
            self.served += 1
            return
        self.in_progress -= 1

    def withdraw(self, ticket: asyncio.Future[bool], why: Literal["waited", "gone"]) -> None:
        """A waiting request gives up (its wait ran out, or its client left). A place handed
        to it in the meantime is passed on; one answered 503 meanwhile was counted then."""
        if ticket.done() and not ticket.cancelled():
            if not ticket.result():
                return
            self.served -= 1
            self.leave()
        else:
            ticket.cancel()
            # a ticket not done is still in the queue
            self._waiting = deque(w for w in self._waiting if w[0] is not ticket)
            if not self._waiting and self.delay is not None:
                self.delay.emptied()
        if why == "gone":
            self.gone += 1
        else:
            self.shed += 1

    async def wait(self, watch: Watch) -> Outcome:
        """A place for a request that found none free (`take` failed), waiting in the queue
        if there is room: `in` (holding a place, to `leave`), `full`, `waited` or `gone`
        (holding none)."""
        ticket = self.join()
        if ticket is None:
            return "full"
        try:
            if await watch.wait(ticket, self.bounds.wait_s):
                if ticket.result():
                    return "in"
                watch.stop()  # its turn came too late: answered 503 unworked
                return "waited"
        except BaseException:  # cancelled (the server stopping): out of the queue
            watch.stop()
            self.withdraw(ticket, "gone")
            raise
        why: Literal["waited", "gone"] = "gone" if watch.gone else "waited"
        self.withdraw(ticket, why)
        return why


class Watch:
    """What a waiting request's client sends, read while it waits, so that its leaving is
    seen; `receive` then gives the app what was read before what is still to come."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._read: deque[Message] = deque()
        self._held = 0
        self._pending: asyncio.Future[Message] | None = None
        self.gone = False

    async def wait(self, ticket: asyncio.Future[bool], wait_s: float) -> bool:
        """Until the request's turn comes (True), the client leaves or `wait_s` passes
        (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if self.gone:
                break
            if ticket.done():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waits: list[asyncio.Future[Any]] = [ticket]
            watching = self._watch()
            if watching is not None:
                waits.append(watching)
            await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            self._take_read()
        self.stop()
        return False

    def _watch(self) -> asyncio.Future[Message] | None:
        if self._pending is None and self._held < WATCH_BODY_BYTES:
            self._pending = asyncio.ensure_future(self._receive())
        return self._pending

    def _take_read(self) -> None:
        pending = self._pending
        if pending is None or not pending.done():
            return
        self._pending = None
        if pending.exception() is not None:  # the server could not read: nobody to answer
            self.gone = True
            return
        message = pending.result()
        if message["type"] == "http.disconnect":
            self.gone = True
        self._held += len(message.get("body", b""))
        self._read.append(message)

    def stop(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def receive(self) -> Message:
        if self._read:
            return self._read.popleft()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return await pending
        return await self._receive()


def overloaded_body(retry_after_s: int) -> bytes:
    message = f"the API is serving all it can; try again in {retry_after_s} s"
    return json.dumps({"error": {"code": "overloaded", "message": message}}).encode()


class Admission:
    """The lanes of one API process, made from its settings."""

    def __init__(self, api: Bounds, monitor: Bounds, retry_after_s: int = 1) -> None:
        self.api = Lane("api", api)
        self.monitor = Lane("monitor", monitor)
        self.retry_after_s = retry_after_s
        body = overloaded_body(retry_after_s)
        self._shed_start: Message = {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after_s).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
        self._shed_body: Message = {"type": "http.response.body", "body": body}

    @classmethod
    def from_settings(cls, settings: CloudSettings) -> Admission:
        return cls(
            Bounds(
                settings.api_max_in_progress,
                settings.api_max_queued,
                settings.api_queue_wait_s,
                settings.api_queue_target_ms / 1000,
                settings.api_queue_interval_ms / 1000,
            ),
            Bounds(MONITOR_IN_PROGRESS, MONITOR_QUEUED, MONITOR_WAIT_S),
            settings.api_retry_after_s,
        )

    def lane(self, path: str) -> Lane | None:
        if path in MONITOR:
            return self.monitor
        if path in STREAMS or not path.startswith(WORK):
            return None
        return self.api

    def load(self) -> Mapping[str, Load]:
        return {lane.name: lane.load() for lane in (self.api, self.monitor)}

    async def shed(self, send: Send) -> None:
        await send(self._shed_start)
        await send(self._shed_body)


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.admission.lane(scope.get("path", "")) if scope["type"] == "http" else None
        if lane is None:
            await self.app(scope, receive, send)
            return
        if lane.take():  # the common case, without a watch
            try:
                await self.app(scope, receive, send)
            finally:
                lane.leave()
            return
        watch = Watch(receive)
        outcome = await lane.wait(watch)
        if outcome == "in":
            try:
                await self.app(scope, watch.receive, send)
            finally:
                lane.leave()
        elif outcome in ("full", "waited"):
            await self.admission.shed(send)
        # gone: nobody to answer
