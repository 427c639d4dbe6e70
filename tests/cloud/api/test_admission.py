"""Admission control's logic (cloud/api/admission.py) on plain ASGI callables: places, the
queue and its bounds, the 503 answer, a client leaving while it waits, the lanes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from cloud.api.admission import (
    MONITOR_IN_PROGRESS,
    Admission,
    AdmissionMiddleware,
    Bounds,
    Lane,
    QueueDelay,
    Watch,
)
from plantroom.settings import CloudSettings

NEVER = 60.0  # a wait no test reaches: the request is let in or leaves first


class Client:
    """One request's client: what the server reads from it, and what it was answered."""

    def __init__(self, body: Iterable[bytes] = (b"",)) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue()
        chunks = list(body)
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            self.incoming.put_nowait({"type": "http.request", "body": chunk, "more_body": more})
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        return await self.incoming.get()

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self.incoming.put_nowait({"type": "http.disconnect"})

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.sent if m["type"] == "http.response.start"), None)

    def headers(self) -> dict[bytes, bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"])

    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


class App:
    """An app that holds each request until it is let go, and records what it read."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.go: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"]
        self.started.append(name)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies[name] = body
        await self.go.setdefault(name, asyncio.Event()).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def release(self, name: str) -> None:
        self.go.setdefault(name, asyncio.Event()).set()


def scope(path: str) -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": []}


async def settle() -> None:
    """Let every task that can run, run (the tasks here wait on events, not on time)."""
    for _ in range(20):
        await asyncio.sleep(0)


def admission(in_progress: int = 1, queued: int = 1, wait_s: float = NEVER) -> Admission:
    return Admission(Bounds(in_progress, queued, wait_s), Bounds(1, 0, 0.0), retry_after_s=3)


def test_bounds_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="in_progress: at least 1, not 0"):
        Bounds(0, 1, 1.0)
    with pytest.raises(ValueError, match="queued: at least 0, not -1"):
        Bounds(1, -1, 1.0)
    with pytest.raises(ValueError, match="wait_s: between 0 and 60 s, not 61"):
        Bounds(1, 1, 61)


async def test_places_are_taken_up_to_the_bound_and_the_queue_then_refuses() -> None:
    lane = Lane("api", Bounds(2, 1, NEVER))
    assert lane.take() and lane.take()
    assert not lane.take()
    ticket = lane.join()
    assert ticket is not None and lane.waiting == 1
    assert lane.join() is None  # the queue is full
    assert (lane.in_progress, lane.served, lane.shed) == (2, 2, 1)


async def test_a_place_left_goes_to_the_first_waiting_in_order() -> None:
    lane = Lane("api", Bounds(1, 3, NEVER))
    assert lane.take()
    first, second = lane.join(), lane.join()
    assert first is not None and second is not None
    lane.leave()
    assert first.done() and not second.done()
    assert lane.in_progress == 1 and lane.waiting == 1
    assert not lane.take()  # someone waits: a newcomer does not jump the queue
    lane.leave()
    assert second.done()
    lane.leave()
    assert (lane.in_progress, lane.waiting, lane.served) == (0, 0, 3)


async def test_withdrawing_leaves_the_queue_and_passes_on_a_place_handed_over() -> None:
    lane = Lane("api", Bounds(1, 3, NEVER))
    assert lane.take()
    first, second = lane.join(), lane.join()
    assert first is not None and second is not None
    lane.withdraw(first, "waited")
    assert lane.waiting == 1 and lane.shed == 1
    lane.leave()  # the place goes to the second
    assert second.done()
    third = lane.join()
    assert third is not None
    lane.withdraw(second, "gone")  # it had the place: the third gets it
    assert third.done()
    assert (lane.in_progress, lane.gone, lane.served) == (1, 1, 2)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


TARGET_S, INTERVAL_S = 0.005, 0.1


def test_a_queue_not_empty_for_an_interval_stands_until_it_empties() -> None:
    delay = QueueDelay(TARGET_S, INTERVAL_S)
    delay.joined(1.0, was_empty=True)
    delay.joined(1.02, was_empty=False)
    assert not delay.standing(1.05)  # a burst being worked off, so far
    assert not delay.expired(0.05, 1.05)  # a long wait in a burst is served
    assert delay.standing(1.1)  # not empty for an interval: a backlog
    assert delay.expired(0.02, 1.1) and not delay.expired(0.004, 1.1)
    delay.emptied()
    assert not delay.standing(1.2) and not delay.expired(0.5, 1.2)
    assert delay.episodes == 1


def test_a_burst_that_drains_within_the_interval_never_stands() -> None:
    delay = QueueDelay(TARGET_S, INTERVAL_S)
    delay.joined(1.0, was_empty=True)
    delay.emptied()  # worked off in 80 ms
    delay.joined(1.09, was_empty=True)  # the next burst starts the count again
    assert not delay.standing(1.15) and delay.episodes == 0


async def test_a_queue_emptied_by_waits_running_out_starts_again() -> None:
    clock = Clock()
    lane = Lane("api", Bounds(1, 8, 0.03, TARGET_S, INTERVAL_S), clock)
    assert lane.take()
    tickets = [lane.join() for _ in range(2)]
    assert tickets[0] is not None and tickets[1] is not None
    clock.now = 0.03
    lane.withdraw(tickets[0], "waited")
    lane.withdraw(tickets[1], "waited")  # the queue is empty again
    clock.now = 0.2
    fresh = lane.join()
    assert fresh is not None
    clock.now = 0.25
    lane.leave()
    assert fresh.result() is True and lane.shed == 2  # served after 50 ms: a burst's wait


def test_bounds_of_the_queue_delay_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="target_s: above 0 and at most 60 s, not 0"):
        Bounds(1, 1, 1.0, target_s=0)
    with pytest.raises(ValueError, match="interval_s: above 0 and at most 60 s, not -1"):
        Bounds(1, 1, 1.0, target_s=0.005, interval_s=-1)


async def test_a_standing_queue_answers_503_to_those_whose_turn_came_too_late() -> None:
    clock = Clock()
    lane = Lane("api", Bounds(1, 8, NEVER, TARGET_S, INTERVAL_S), clock)
    assert lane.take()
    old = [lane.join() for _ in range(4)]  # joined at 0
    clock.now = 0.05
    lane.leave()  # within the interval: a burst, served after its 50 ms wait
    assert old[0] is not None and old[0].result() is True
    clock.now = 0.11
    new = lane.join()  # the queue has not been empty since 0: it stands
    clock.now = 0.114
    lane.leave()
    assert [t.result() for t in old[1:] if t is not None] == [False, False, False]
    assert new is not None and new.result() is True  # 4 ms: within the target
    assert (lane.served, lane.shed, lane.waiting, lane.in_progress) == (3, 3, 0, 1)
    clock.now = 0.3
    burst = lane.join()  # the queue emptied: a burst's wait is served again
    clock.now = 0.35
    lane.leave()
    assert burst is not None and burst.result() is True


async def test_at_a_standing_queue_a_late_turn_is_answered_503_unworked() -> None:
    clock = Clock()
    app = App()
    lanes = Admission(Bounds(1, 8, NEVER, TARGET_S, INTERVAL_S), Bounds(1, 0, 0.0))
    lanes.api = Lane("api", lanes.api.bounds, clock)
    middleware = AdmissionMiddleware(app, lanes)
    clients = [Client() for _ in range(4)]
    tasks = [
        asyncio.create_task(middleware(scope(f"/api/r{n}"), c.receive, c.send))
        for n, c in enumerate(clients[:3])
    ]
    await settle()  # r0 works; r1 and r2 wait from 0
    clock.now = 0.11
    tasks.append(
        asyncio.create_task(middleware(scope("/api/r3"), clients[3].receive, clients[3].send))
    )
    await settle()
    clock.now = 0.113
    app.release("/api/r0")  # the queue stood: r1 and r2 waited too long, r3 3 ms
    await settle()
    assert app.started == ["/api/r0", "/api/r3"]
    assert clients[1].status == 503 and clients[2].status == 503  # unworked
    app.release("/api/r3")
    await asyncio.gather(*tasks)
    assert [c.status for c in clients] == [200, 503, 503, 200]
    load = middleware.admission.load()["api"]
    assert (load.served, load.shed, load.waiting, load.in_progress) == (2, 2, 0, 0)


async def test_past_the_queue_the_answer_is_503_at_once_with_retry_after() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=1))
    clients = [Client() for _ in range(3)]
    tasks = [
        asyncio.create_task(middleware(scope(f"/api/r{n}"), c.receive, c.send))
        for n, c in enumerate(clients)
    ]
    await settle()
    assert app.started == ["/api/r0"]  # one works, one waits, the third is refused
    assert tasks[2].done() and clients[2].status == 503
    assert clients[2].headers()[b"retry-after"] == b"3"
    assert clients[2].headers()[b"content-type"] == b"application/json"
    error = clients[2].body()["error"]
    assert error["code"] == "overloaded" and "try again in 3 s" in error["message"]
    app.release("/api/r0")
    app.release("/api/r1")
    await asyncio.gather(*tasks[:2])
    assert app.started == ["/api/r0", "/api/r1"]
    assert [c.status for c in clients] == [200, 200, 503]
    load = middleware.admission.load()["api"]
    assert (load.served, load.shed, load.in_progress, load.waiting) == (2, 1, 0, 0)


async def test_a_request_that_waits_too_long_is_answered_503_unworked() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=4, wait_s=0.01))
    first, late = Client(), Client()
    held = asyncio.create_task(middleware(scope("/api/a"), first.receive, first.send))
    await settle()
    await middleware(scope("/api/b"), late.receive, late.send)  # returns once its wait ran out
    assert late.status == 503 and app.started == ["/api/a"]
    app.release("/api/a")
    await held
    load = middleware.admission.load()["api"]
    assert (load.shed, load.waiting, load.in_progress) == (1, 0, 0)


async def test_a_client_that_leaves_while_waiting_is_dropped_without_work() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=4))
    first, leaver, after = Client(), Client(), Client()
    held = asyncio.create_task(middleware(scope("/api/a"), first.receive, first.send))
    await settle()
    waiting = asyncio.create_task(middleware(scope("/api/b"), leaver.receive, leaver.send))
    queued = asyncio.create_task(middleware(scope("/api/c"), after.receive, after.send))
    await settle()
    leaver.leave()
    await waiting  # dropped: no answer, never worked on
    assert leaver.sent == [] and app.started == ["/api/a"]
    app.release("/api/a")
    app.release("/api/c")
    await asyncio.gather(held, queued)
    assert app.started == ["/api/a", "/api/c"]  # the place went past the one who left
    load = middleware.admission.load()["api"]
    assert (load.gone, load.served, load.shed, load.waiting) == (1, 2, 0, 0)


async def test_a_body_read_while_waiting_reaches_the_app_whole() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=4))
    first, poster = Client(), Client([b'{"a":', b" 1", b"}"])
    held = asyncio.create_task(middleware(scope("/api/a"), first.receive, first.send))
    await settle()
    posted = asyncio.create_task(middleware(scope("/api/b"), poster.receive, poster.send))
    await settle()
    assert poster.incoming.empty()  # read while it waited
    app.release("/api/a")
    app.release("/api/b")
    await asyncio.gather(held, posted)
    assert app.bodies["/api/b"] == b'{"a": 1}' and poster.status == 200


async def test_a_large_body_is_left_unread_while_waiting() -> None:
    watch_bytes = 64 * 1024
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=4))
    first, uploader = Client(), Client([b"x" * watch_bytes, b"y" * 10, b"z"])
    held = asyncio.create_task(middleware(scope("/api/a"), first.receive, first.send))
    await settle()
    upload = asyncio.create_task(middleware(scope("/api/b"), uploader.receive, uploader.send))
    await settle()
    assert uploader.incoming.qsize() == 2  # the rest waits with the client
    app.release("/api/a")
    app.release("/api/b")
    await asyncio.gather(held, upload)
    assert app.bodies["/api/b"] == b"x" * watch_bytes + b"y" * 10 + b"z"


async def test_health_has_its_own_lane_and_the_event_stream_takes_no_place() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=0))
    busy, health, stream, refused = Client(), Client(), Client(), Client()
    tasks = [
        asyncio.create_task(middleware(scope(path), c.receive, c.send))
        for path, c in (("/api/a", busy), ("/api/health", health), ("/api/events", stream))
    ]
    await settle()
    await middleware(scope("/api/b"), refused.receive, refused.send)
    assert refused.status == 503
    assert app.started == ["/api/a", "/api/health", "/api/events"]
    loads = middleware.admission.load()
    assert loads["api"].in_progress == 1 and loads["monitor"].in_progress == 1
    for name in ("/api/a", "/api/health", "/api/events"):
        app.release(name)
    await asyncio.gather(*tasks)


async def test_a_waiting_request_cancelled_leaves_the_queue() -> None:
    app = App()
    middleware = AdmissionMiddleware(app, admission(in_progress=1, queued=2))
    first, waiter = Client(), Client()
    held = asyncio.create_task(middleware(scope("/api/a"), first.receive, first.send))
    await settle()
    waiting = asyncio.create_task(middleware(scope("/api/b"), waiter.receive, waiter.send))
    await settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert middleware.admission.load()["api"].waiting == 0
    app.release("/api/a")
    await held
    assert middleware.admission.load()["api"].in_progress == 0


async def test_a_watch_gives_what_it_read_before_what_is_still_to_come() -> None:
    client = Client([b"ab", b"cd"])
    watch = Watch(client.receive)
    ticket: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(ticket.set_result, True)
    assert await watch.wait(ticket, NEVER)
    got = [await watch.receive(), await watch.receive()]
    assert b"".join(m["body"] for m in got) == b"abcd"


def test_the_lanes_follow_the_settings() -> None:
    settings = CloudSettings(
        api_max_in_progress=5,
        api_max_queued=7,
        api_queue_wait_s=0.5,
        api_queue_target_ms=20,
        api_queue_interval_ms=300,
        api_retry_after_s=2,
    )
    made = Admission.from_settings(settings)
    assert made.api.bounds == Bounds(5, 7, 0.5, 0.02, 0.3)
    assert made.monitor.delay is None  # monitoring is queued as long as its wait allows
    assert made.monitor.bounds.in_progress == MONITOR_IN_PROGRESS
    assert made.retry_after_s == 2
    assert made.lane("/api/work-orders") is made.api
    assert made.lane("/api/health") is made.monitor
    assert made.lane("/api/events") is None
    assert made.lane("/ack/some-token") is made.api
    assert made.lane("/console/app.js") is None and made.lane("/") is None
