"""GET /api/events over real HTTP (uvicorn on a free port): work-order and alarm changes
pushed as they are committed, replay after a reconnect, the stream's lifetime and shutdown;
and the change watcher's and broadcaster's own rules."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cloud.alarms.model import Alarm
from cloud.api.changes import GAP_WAIT_S, ChangeWatcher
from cloud.api.events import Broadcaster
from cloud.app import create_app
from cloud.db import Database
from cloud.enums import AlarmState, Severity
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from tests.harness import write_site

pytestmark = pytest.mark.integration


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the test runner owns the signals


@dataclass
class Event:
    event: str
    data: dict[str, Any]
    id: str | None


class Stream:
    """Reads server-sent events from a streaming response."""

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp
        self.lines = resp.aiter_lines()

    async def next(self, within: float = 10.0) -> Event | None:
        """The next event; None when the stream ends."""
        return await asyncio.wait_for(self._next(), within)

    async def _next(self) -> Event | None:
        fields: dict[str, str] = {}
        async for line in self.lines:
            if line == "":
                if "event" in fields:
                    return Event(fields["event"], json.loads(fields["data"]), fields.get("id"))
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        return None

    async def until(self, event: str, within: float = 10.0) -> Event:
        deadline = time.monotonic() + within
        while True:
            got = await self.next(max(0.1, deadline - time.monotonic()))
            assert got is not None, f"the stream ended before a {event!r} event"
            if got.event == event:
                return got


class Cloud:
    def __init__(self, app: FastAPI, url: str, credentials: Path) -> None:
        self.app = app
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)
        users = json.loads(credentials.read_text())["users"]
        self.tokens = {u["username"]: u["token"] for u in users}

    @property
    def broadcaster(self) -> Broadcaster:
        found: Broadcaster = self.app.state.events
        return found

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    @asynccontextmanager
    async def stream(
        self, username: str = "tech1", headers: dict[str, str] | None = None
    ) -> AsyncIterator[Stream]:
        params = {"token": self.tokens[username]}
        async with self.http.stream("GET", "/api/events", params=params, headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            yield Stream(r)

    async def request(self, title: str) -> dict[str, Any]:
        resp = await self.http.post(
            "/api/work-orders",
            json={"title": title, "equipment_id": "pump-a1"},
            headers=self.auth("super1"),
        )
        assert resp.status_code == 201, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def add_alarm(self) -> int:
        now = datetime.now(UTC)
        with self.app.state.cloud.database().session() as session:
            alarm = Alarm(
                equipment_id="pump-a1",
                rule_id="pump.dry_run",
                severity=Severity.MAJOR,
                state=AlarmState.ACTIVE,
                message="Pump running dry",
                last_value={"dry_run": True},
                raised_at=now,
                last_raised_at=now,
            )
            session.add(alarm)
            session.flush()
            return alarm.id

    def clear_alarm(self, alarm_id: int) -> None:
        with self.app.state.cloud.database().session() as session:
            alarm = session.get(Alarm, alarm_id)
            assert alarm is not None
            alarm.state = AlarmState.CLEARED
            alarm.cleared_at = datetime.now(UTC)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[Cloud]:
    write_site(tmp_path / "site.yaml", "tower-a-pump", id="ev-site")
    settings = CloudSettings(
        inventory=tmp_path / "site.yaml",
        database_url=f"sqlite:///{tmp_path}/db/cloud.sqlite",
        demo_mode=True,
        demo_credentials_path=tmp_path / "credentials.json",
        influx_url=f"http://127.0.0.1:{free_port()}",
    )
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    port = free_port()
    server = _Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
        )
    )
    task = asyncio.create_task(server.serve(), name="test-uvicorn")
    deadline = time.monotonic() + 15
    while not server.started:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    cloud = Cloud(app, f"http://127.0.0.1:{port}", tmp_path / "credentials.json")
    cloud.broadcaster.interval = 0.2  # poll the database five times a second
    try:
        yield cloud
    finally:
        await cloud.http.aclose()
        server.should_exit = True
        await asyncio.wait_for(task, 20)
    assert not cloud.broadcaster.watching


async def test_a_stream_needs_a_valid_token(cloud: Cloud) -> None:
    missing = await cloud.http.get("/api/events")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_token"
    wrong = await cloud.http.get("/api/events", params={"token": "prt_nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_token"
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_work_order_and_alarm_changes_are_pushed_as_they_happen(cloud: Cloud) -> None:
    before = await cloud.request("made before the stream opened")
    async with cloud.stream() as stream:
        ready = await stream.next()
        assert ready is not None and ready.event == "ready"
        assert ready.data["replayed"] is False
        assert ready.data["user"] == {
            "username": "tech1",
            "display_name": "Tech One",
            "role": "technician",
        }

        wo = await cloud.request("Pump gland leaking")
        got = await stream.until("work_order")
        assert got.data["work_order"]["id"] == wo["id"]  # not the job from before
        assert got.data["work_order"]["status"] == "open"
        assert [e["action"] for e in got.data["events"]] == ["created"]
        assert got.id is not None and got.id.startswith(cloud.broadcaster.boot + ":")

        resp = await cloud.http.post(
            f"/api/work-orders/{wo['id']}/acknowledge",
            json={"channel": "console"},
            headers=cloud.auth("tech1"),
        )
        assert resp.status_code == 200, resp.text
        got = await stream.until("work_order")
        assert got.data["work_order"]["status"] == "acknowledged"
        assert got.data["work_order"]["assignee"]["username"] == "tech1"
        assert [(e["action"], e["channel"]) for e in got.data["events"]] == [
            ("acknowledge", "console")
        ]

        alarm_id = await asyncio.to_thread(cloud.add_alarm)
        got = await stream.until("alarm")
        assert (got.data["alarm"]["id"], got.data["alarm"]["state"]) == (alarm_id, "active")
        await asyncio.to_thread(cloud.clear_alarm, alarm_id)
        got = await stream.until("alarm")
        assert got.data["alarm"]["state"] == "cleared"
        assert got.data["alarm"]["cleared_at"] is not None
    assert before["id"] != wo["id"]


async def test_a_browser_that_reconnects_gets_what_it_missed(cloud: Cloud) -> None:
    async with cloud.stream() as stream:
        await stream.until("ready")
        first = await cloud.request("first")
        seen = await stream.until("work_order")
        assert seen.data["work_order"]["id"] == first["id"]
    second = await cloud.request("second, while the browser was away")
    third = await cloud.request("third, while the browser was away")

    for _ in range(200):  # the watcher sends both within a poll or two
        if cloud.broadcaster.last_id >= 3:
            break
        await asyncio.sleep(0.05)
    assert cloud.broadcaster.last_id == 3
    assert seen.id is not None
    async with cloud.stream(headers={"Last-Event-ID": seen.id}) as stream:
        ready = await stream.until("ready")
        assert ready.data["replayed"] is True
        replayed = [await stream.until("work_order"), await stream.until("work_order")]
        assert [e.data["work_order"]["id"] for e in replayed] == [second["id"], third["id"]]

    # an id from another run of the service (or from before the watcher started) cannot be
    # replayed: the browser is told to reload instead
    async with cloud.stream(headers={"Last-Event-ID": "0badbeef:1"}) as stream:
        ready = await stream.until("ready")
        assert ready.data["replayed"] is False


async def test_a_stream_ends_after_its_lifetime_and_when_the_service_stops(
    cloud: Cloud,
) -> None:
    cloud.broadcaster.lifetime = 0.5
    started = time.monotonic()
    async with cloud.stream() as stream:
        await stream.until("ready")
        assert await stream.next() is None
    assert time.monotonic() - started < 5

    cloud.broadcaster.lifetime = 60
    async with cloud.stream(headers=cloud.auth("super1")) as stream:
        ready = await stream.until("ready")
        assert ready.data["user"]["username"] == "super1"  # the header wins over ?token
        cloud.broadcaster.close_streams()
        assert await stream.next() is None
    refused = await cloud.http.get("/api/events", headers=cloud.auth("tech1"))
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "unavailable"


def no_database() -> Database:
    raise RuntimeError("no database in this test")


async def test_notify_reaches_every_stream_from_any_thread() -> None:
    broadcaster = Broadcaster(no_database, interval=60)
    async with broadcaster.subscribe() as one, broadcaster.subscribe() as two:
        sender = threading.Thread(target=broadcaster.notify, args=("alarm", {"n": 1}))
        sender.start()
        sender.join()
        for sub in (one, two):
            message = await asyncio.wait_for(sub.queue.get(), 5)
            assert message is not None
            assert (message.event, json.loads(message.data)) == ("alarm", {"n": 1})
    await broadcaster.aclose()
    assert not broadcaster.watching


async def test_a_stream_that_falls_behind_is_ended_not_buffered_without_bound() -> None:
    broadcaster = Broadcaster(no_database, interval=60, queue_size=3)
    async with broadcaster.subscribe() as sub:
        for n in range(5):
            broadcaster.notify("alarm", {"n": n})
        await asyncio.sleep(0)  # the loop delivers what notify() scheduled
        assert sub.overflowed and sub.queue.qsize() == 3
        chunks = [c async for c in broadcaster.stream(sub, {})]
    assert chunks[0].startswith(b"retry:") and b"event: ready" in chunks[1]
    assert len(chunks) == 2  # ends at once: the browser reconnects and catches up
    await broadcaster.aclose()


def test_the_watcher_waits_for_ids_of_transactions_not_yet_committed() -> None:
    now = [0.0]
    watcher = ChangeWatcher(clock=lambda: now[0])
    watcher.seen.update({1, 2, 4, 5})
    watcher._advance(5)
    assert watcher.floor == 2 and watcher.gaps == {3: 0.0}  # 3 may still commit
    watcher.seen.add(3)
    watcher._advance(5)
    assert watcher.floor == 5 and not watcher.seen

    watcher.seen.update({7})
    watcher._advance(7)
    assert watcher.floor == 5  # 6 is missing
    now[0] = GAP_WAIT_S + 1  # 6 was rolled back: give up on it
    watcher._advance(7)
    assert watcher.floor == 7 and not watcher.gaps
