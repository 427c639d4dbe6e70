"""GET /api/events: server-sent events of work-order and alarm changes, for the console.

A `Broadcaster` fans messages out to the open streams. Anything in the process may call
`Broadcaster.notify` (from any thread); while at least one stream is open, a `ChangeWatcher`
(`cloud.api.changes`) also polls the database once a second and turns what changed into
messages, so changes made by any part of the service (or by another process on the same
database) reach the console.

Each message has an id `<boot>:<n>`. The last `BACKLOG` messages are kept, so a browser that
reconnects with `Last-Event-ID` gets what it missed; when that is no longer possible the
stream's first message (`ready`, with `"replayed": false`) tells it to reload instead.

A stream ends by itself after `lifetime` seconds (the browser reconnects at once and misses
nothing), so that a revoked token stops being served and a graceful shutdown, which waits for
open responses, never waits long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.changes import ChangeWatcher, in_language
from cloud.api.errors import error_response
from cloud.api.language import text_in
from cloud.db import Database
from cloud.deps import StateDep, bearer
from cloud.errors import Unauthorized
from cloud.locale import Text
from cloud.schemas import ErrorBody
from cloud.users.contractors import visible_teams
from cloud.users.schemas import UserRef
from cloud.users.service import authenticate
from cloud.users.sites import SiteAccess, site_roles

log = logging.getLogger(__name__)

READY = "ready"

BACKLOG = 1000  # messages kept for browsers that reconnect
QUEUE_SIZE = 1000  # messages waiting for one slow stream before it is ended
POLL_INTERVAL_S = 1.0
STREAM_LIFETIME_S = 30.0
HEARTBEAT_S = 10.0
RETRY_MS = 1000  # how soon a browser reconnects
PRIME_WAIT_S = 5.0  # how long a new stream waits for the watcher's first look at the database
IDLE_S = 10.0  # the watcher keeps going this long after the last stream, for reconnects


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    event: str
    data: str  # JSON text
    team: str | None = None  # a work order's team: what a contractor's stream is shown
    site: str | None = None  # its work order's or alarm's site: what a site's people are shown

    def encode(self, boot: str) -> bytes:
        return f"id: {boot}:{self.id}\nevent: {self.event}\ndata: {self.data}\n\n".encode()


def _site_of(data: dict[str, Any]) -> str | None:
    for key in ("work_order", "alarm"):
        found = data.get(key)
        site = found.get("site") if isinstance(found, dict) else None
        if isinstance(site, str):
            return site
    return None


def _team_of(data: dict[str, Any]) -> str | None:
    wo = data.get("work_order")
    team = wo.get("team") if isinstance(wo, dict) else None
    return team if isinstance(team, str) else None


@dataclass(eq=False, slots=True)
class Subscription:
    """One open stream: its queue of messages, and why it must end, if it must."""

    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Message | None]
    replayed: bool = False
    overflowed: bool = False
    teams: frozenset[str] | None = None  # a contractor's: only their teams' work orders
    text: Text | None = None  # the reader's language, for the shipped plans' and rules' texts
    sites: frozenset[str] | None = None  # a person of some sites: only those sites' changes

    def shows(self, message: Message) -> bool:
        if self.sites is not None and message.site not in self.sites:
            return False
        return self.teams is None or (message.event == "work_order" and message.team in self.teams)

    def offer(self, message: Message | None) -> None:
        """Called on the stream's event loop."""
        if self.overflowed or (message is not None and not self.shows(message)):
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True  # the stream ends; the browser reconnects and catches up


class Broadcaster:
    """Fans messages out to the open streams and keeps the last `backlog` for reconnects."""

    def __init__(
        self,
        database: Callable[[], Database],
        *,
        interval: float = POLL_INTERVAL_S,
        lifetime: float = STREAM_LIFETIME_S,
        heartbeat: float = HEARTBEAT_S,
        idle: float = IDLE_S,
        backlog: int = BACKLOG,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.boot = secrets.token_hex(4)
        self.interval = interval
        self.lifetime = lifetime
        self.heartbeat = heartbeat
        self.idle = idle
        self.queue_size = queue_size
        self._database = database
        self._lock = threading.Lock()
        self._last_id = 0
        self._backlog: deque[Message] = deque(maxlen=backlog)
        self._subs: set[Subscription] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._watch_from = 0  # the last message id before the running watcher started
        self._primed = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_id(self) -> int:
        return self._last_id

    @property
    def streams(self) -> int:
        return len(self._subs)

    @property
    def watching(self) -> bool:
        return self._watch_task is not None and not self._watch_task.done()

    def notify(self, event: str, data: dict[str, Any]) -> Message:
        """Send `data` (JSON-able) as `event` to every open stream. Safe from any thread."""
        text = json.dumps(data, separators=(",", ":"), default=str)
        with self._lock:
            self._last_id += 1
            message = Message(self._last_id, event, text, _team_of(data), _site_of(data))
            self._backlog.append(message)
            for sub in self._subs:
                sub.loop.call_soon_threadsafe(sub.offer, message)
        return message

    def _since(self, last_event_id: str | None) -> list[Message] | None:
        """What a stream that last saw `last_event_id` missed, or None if that is unknown."""
        if not last_event_id:
            return None
        boot, _, number = last_event_id.strip().partition(":")
        if boot != self.boot or not number.isdigit() or not self.watching:
            return None
        last = int(number)
        first = self._backlog[0].id if self._backlog else self._last_id + 1
        # before the watcher started, changes may have gone unseen: those cannot be replayed
        if last > self._last_id or last < first - 1 or last <= self._watch_from:
            return None
        return [m for m in self._backlog if m.id > last]

    @asynccontextmanager
    async def subscribe(
        self,
        last_event_id: str | None = None,
        *,
        teams: frozenset[str] | None = None,
        sites: frozenset[str] | None = None,
        text: Text | None = None,
    ) -> AsyncIterator[Subscription]:
        """An open stream, registered until the block ends (`teams`: only work orders of
        these teams). The database watcher runs while any stream is open; a new stream waits
        (briefly) for its first look."""
        if self._closed:
            raise RuntimeError("the event broadcaster is closed")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=self.queue_size)
        sub = Subscription(loop, queue, teams=teams, text=text, sites=sites)
        with self._lock:
            missed = self._since(last_event_id)
            if missed is not None and len(missed) < self.queue_size:
                for message in missed:
                    if sub.shows(message):
                        sub.queue.put_nowait(message)
                sub.replayed = True
            self._subs.add(sub)
            if not self.watching:
                self._watch_from = self._last_id
                self._primed = asyncio.Event()
                self._watch_task = loop.create_task(self._watch(), name="cloud-console-events")
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._primed.wait(), PRIME_WAIT_S)
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)

    async def _watch(self) -> None:
        """Poll the database while anyone listens; stop `idle` s after the last stream has gone
        (on the loop, without awaiting between the check and the stop, so that a new stream
        either sees this task running or starts another)."""
        watcher = ChangeWatcher()
        failing = False
        loop = asyncio.get_running_loop()
        idle_since: float | None = None
        while True:
            if self._subs:
                idle_since = None
            elif idle_since is None:
                idle_since = loop.time()
            if self._closed or (idle_since is not None and loop.time() - idle_since >= self.idle):
                self._watch_task = None
                return
            try:
                changes = await anyio.to_thread.run_sync(watcher.poll, self._database())
            except (SQLAlchemyError, RuntimeError) as exc:
                if not failing:
                    log.error("console events: cannot read changes from the database: %s", exc)
                failing = True
            else:
                if failing:
                    log.info("console events: reading changes from the database again")
                failing = False
                for event, data in changes:
                    self.notify(event, data)
            self._primed.set()  # streams wait for the first attempt, not for its success
            await asyncio.sleep(self.interval)

    def close_streams(self) -> None:
        """End every open stream and refuse new ones (the service is stopping). Safe from any
        thread and from a signal handler."""
        self._closed = True
        with self._lock:
            for sub in self._subs:
                sub.loop.call_soon_threadsafe(sub.offer, None)

    async def aclose(self) -> None:
        """Close the streams and wait for the watcher to stop."""
        self.close_streams()
        task = self._watch_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._watch_task = None

    async def stream(self, sub: Subscription, ready: dict[str, Any]) -> AsyncIterator[bytes]:
        """The bytes of one stream: `retry`, `ready`, then messages and keep-alive comments
        until the lifetime is up, the service stops or the stream falls too far behind."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lifetime
        yield f"retry: {RETRY_MS}\n\n".encode()
        body = json.dumps({**ready, "boot": self.boot, "replayed": sub.replayed})
        yield f"event: {READY}\ndata: {body}\n\n".encode()
        while not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                message = await asyncio.wait_for(
                    sub.queue.get(), timeout=min(self.heartbeat, remaining)
                )
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if message is None or sub.overflowed:
                return
            shown = in_language(message.event, message.data, sub.text)
            yield replace(message, data=shown).encode(self.boot)


# -- the endpoint -------------------------------------------------------------------------------

router = APIRouter(tags=["events"])


def broadcaster_of(request: Request) -> Broadcaster:
    found: Broadcaster = request.app.state.events
    return found


def _caller(
    state: StateDep, token: str
) -> tuple[UserRef, frozenset[str] | None, frozenset[str] | None, Text]:
    """The caller, for a contractor the names of their teams (the only jobs they see), for a
    person of some sites those sites, and the caller's language."""
    with state.database().sessions() as session:
        user = authenticate(session, token, now=state.clock())
        if user is None:
            raise Unauthorized("the token is unknown, expired or revoked", code="invalid_token")
        mine = visible_teams(session, user)
        teams = None if mine is None else frozenset(t.name for t in user.teams if t.id in mine)
        sites = SiteAccess(site_roles(session, user.id)).sites
        return UserRef.model_validate(user), teams, sites, text_in(state, user.language)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`ready`, then `work_order` and `alarm` messages as they happen",
        },
        401: {"model": ErrorBody, "description": "missing, unknown, expired or revoked token"},
        503: {"model": ErrorBody, "description": "the service is stopping"},
    },
)
async def events(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    token: Annotated[
        str | None,
        Query(max_length=512, description="the API token, for browsers' EventSource"),
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> Response:
    """Server-sent events of work-order and alarm changes. Authenticate with
    `Authorization: Bearer …` or `?token=…` (a browser's EventSource cannot send headers).
    A contractor's stream carries the work orders of their own teams only."""
    broadcaster = broadcaster_of(request)
    if broadcaster.closed:
        return error_response(503, "unavailable", "the service is stopping; try again shortly")
    given = credentials.credentials if credentials is not None else token
    if not given:
        raise Unauthorized(
            "missing token: send `Authorization: Bearer <token>` or `?token=<token>`",
            code="missing_token",
        )
    user, teams, sites, text = await anyio.to_thread.run_sync(_caller, state, given)
    ready = {"user": user.model_dump(mode="json")}

    async def body() -> AsyncIterator[bytes]:
        async with broadcaster.subscribe(last_event_id, teams=teams, text=text, sites=sites) as sub:
            async for chunk in broadcaster.stream(sub, ready):
                yield chunk

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
