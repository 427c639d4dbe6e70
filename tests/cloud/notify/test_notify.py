"""Notifications out: signatures, line protocol, annotations, configuration, and the delivery
pump (order, retries, giving up, a bounded queue, a cursor that survives restarts, holes in
the event ids) on a real SQLite database."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.enums import Channel, Priority, Role, WorkOrderKind
from cloud.notify import influx
from cloud.notify.config import NotifyConfig
from cloud.notify.events import EventReader, Outgoing, load_cursor
from cloud.notify.grafana import annotation
from cloud.notify.influx import event_lines, line
from cloud.notify.pump import Permanent, Pump, Retryable
from cloud.notify.webhooks import encode, sign, verify
from cloud.orm import Counter
from cloud.sla.policy import Targets
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from plantroom.errors import ConfigError
from plantroom.settings import CloudSettings, load_settings
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.harness import AT, outgoing
from tests.harness import wait_for_async

T = TypeVar("T")


def test_signature_round_trip() -> None:
    body = encode(outgoing())
    header = sign("s3cret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("s3cret", body, header)
    assert not verify("other", body, header)
    assert not verify("s3cret", body + b" ", header)
    assert not verify("s3cret", body, None)
    # a known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_webhook_body() -> None:
    body = outgoing("acknowledge").body()
    assert body["type"] == "work_order.acknowledge"
    assert body["at"] == "2026-11-02T09:30:15.250000Z"
    assert body["id"] == 7 and body["work_order"]["number"] == "WO-000001"


def test_line_protocol_escapes_and_leaves_out_empty_values() -> None:
    got = line(
        "events",
        {"site": "s 1", "building": "b,1", "equipment": None, "type": "wo_raised"},
        {"text": 'say "hi"\\now', "priority": "urgent", "n": 3, "x": 1.5, "gone": None},
        AT,
    )
    assert got == (
        'events,building=b\\,1,site=s\\ 1,type=wo_raised text="say \\"hi\\"\\\\now",'
        'priority="urgent",n=3i,x=1.5 1793611815250'
    )
    with pytest.raises(ValueError, match="at least one field"):
        line("events", {}, {"a": None}, AT)


def test_event_lines_in_the_dashboards_schema() -> None:
    raised = event_lines(outgoing())
    assert [ln.split(" ")[0] for ln in raised] == [
        "events,building=b1,equipment=p1,site=s1,type=wo_raised",
        "events,building=b1,equipment=p1,site=s1,type=alarm_raised",
    ]
    assert 'text="WO-000001 raised: Pump running dry: Pump 1 (p1)",priority="urgent"' in raised[0]
    resolved = event_lines(outgoing("resolve", building=None, equipment_id=None))
    assert resolved == [
        'events,site=s1,type=wo_resolved text="WO-000001 resolved by tech1: Pump running dry: '
        'Pump 1 (p1) (dry run, suction tank low)",priority="urgent" 1793611815250'
    ]
    assert event_lines(outgoing("start")) == []
    assert [ln.split(",type=")[1].split(" ")[0] for ln in event_lines(outgoing("reopened"))] == [
        "wo_raised",
        "alarm_raised",
    ]
    assert len(event_lines(outgoing(kind="request"))) == 1  # a request raises no alarm


def test_grafana_annotation() -> None:
    a = annotation(outgoing("acknowledge"))
    assert a == {
        "time_from": 1793611815250,
        "tags": ["plantroom", "work_order", "wo_acknowledged", "urgent", "b1", "p1"],
        "text": "WO-000001 acknowledged by tech1: Pump running dry: Pump 1 (p1)",
    }


def test_webhooks_need_a_secret_outside_demo_mode() -> None:
    with pytest.raises(ConfigError, match="PLANTROOM_WEBHOOK_SECRET"):
        NotifyConfig.from_settings(CloudSettings(webhook_urls=["http://hooks/x"]), site="s1")
    demo = NotifyConfig.from_settings(
        CloudSettings(webhook_urls=["http://hooks/x"], demo_mode=True), site="s1"
    )
    assert demo.webhook_secret and len(demo.webhook_secret) == 64
    configured = NotifyConfig.from_settings(
        CloudSettings(webhook_urls=["http://a/1,https://b/2"], webhook_secret=SecretStr("k")),
        site="s1",
    )
    assert configured.webhook_urls == ("http://a/1", "https://b/2")
    assert configured.webhook_secret == "k"
    with pytest.raises(ConfigError, match="PLANTROOM_WEBHOOK_URLS: 'ftp://x'"):
        NotifyConfig.from_settings(CloudSettings(webhook_urls=["ftp://x"]), site="s1")
    with pytest.raises(ConfigError, match="PLANTROOM_WEBHOOK_MAX_ATTEMPTS"):
        load_settings(CloudSettings, webhook_max_attempts=0)
    # by default nothing is sent to webhooks or Grafana
    plain = NotifyConfig.from_settings(CloudSettings(), site="s1")
    assert plain.webhook_urls == () and plain.grafana_url is None


# -- the pump on a real database ------------------------------------------------------------


class Recorder:
    """A sink that records what it is given and fails as it is told to."""

    name = "recorder"
    batch = 1

    def __init__(self, failures: dict[int, list[Exception]] | None = None) -> None:
        self.failures = failures or {}
        self.got: list[int] = []
        self.attempts = 0
        self.gate = asyncio.Event()
        self.gate.set()

    def wants(self, event: Outgoing) -> bool:
        return event.action != "ignored"

    async def deliver(self, events: list[Outgoing]) -> None:
        await self.gate.wait()
        self.attempts += 1
        for event in events:
            queue = self.failures.get(event.event_id)
            if queue:
                raise queue.pop(0)
        self.got.extend(e.event_id for e in events)


def add_events(api: Api, actions: list[str]) -> list[int]:
    with api.db.session() as session:
        wo = session.get(WorkOrder, 1)
        assert wo is not None
        rows = [
            WorkOrderEvent(
                at=api.clock(), actor="system", action=a, channel=Channel.SYSTEM, work_order=wo
            )
            for a in actions
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users={"tech1": Role.TECHNICIAN}) as a:
        a.fault("p1", "pump.dry_run")  # work order 1 with its `created` event (id 1)
        yield a


def runner(api: Api) -> Callable[[Callable[[Session], T]], Any]:
    async def run(fn: Callable[[Session], T]) -> T:
        with api.db.session() as session:
            return fn(session)

    return run


def s1_pump(
    api: Api, sink: Recorder, cursor: str, start: int, *, queue_size: int = 2, **kw: Any
) -> Pump:
    """A pump of site s1's events from `start` into `sink`, its place kept as `cursor`,
    polling every 10 ms."""
    reader = EventReader(start, site="s1")
    return Pump(sink, cursor, reader, runner(api), queue_size=queue_size, poll_interval=0.01, **kw)


async def pump_until(pump: Pump, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(pump.run())
    try:
        await wait_for_async(done, "the pump to deliver", within=10, interval=0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_pump_delivers_in_order_retries_and_gives_up(api: Api) -> None:
    with api.db.session() as session:
        start = load_cursor(session, "notify:test")
    assert start == 1  # a new sink starts after what exists
    ids = add_events(api, ["a", "ignored", "b", "c", "d"])
    sink = Recorder({ids[2]: [Retryable("503"), Retryable("timeout")], ids[3]: [Permanent("400")]})
    pump = s1_pump(
        api, sink, "notify:test", start, max_attempts=3, backoff_initial=0.001, backoff_max=0.002
    )
    await pump_until(pump, lambda: pump.stats.position == ids[-1])
    # "ignored" is not wanted; b goes through on its third attempt; c is refused for good
    assert sink.got == [ids[0], ids[2], ids[4]]
    assert pump.stats.dropped == 1 and pump.stats.retries == 2
    assert pump.stats.delivered == 3
    with api.db.sessions() as session:
        saved = session.get(Counter, "notify:test")
        assert saved is not None and saved.value == ids[-1]
    # a new pump from the saved cursor sends nothing again
    again = Recorder()
    with api.db.session() as session:
        position = load_cursor(session, "notify:test")
    pump2 = s1_pump(api, again, "notify:test", position, max_attempts=3)
    more = add_events(api, ["e"])
    await pump_until(pump2, lambda: again.got == more)


async def test_the_queue_is_bounded(api: Api) -> None:
    ids = add_events(api, [f"x{i}" for i in range(12)])
    sink = Recorder()
    sink.gate.clear()  # the receiver is stuck
    pump = s1_pump(api, sink, "notify:bounded", 1, queue_size=3, max_attempts=2)
    task = asyncio.create_task(pump.run())
    try:
        await asyncio.sleep(0.3)
        assert pump._queue.qsize() <= 3 and sink.got == []
        sink.gate.set()
        await wait_for_async(
            lambda: sink.got == ids,
            "every event to be delivered in order",
            within=10,
            interval=0.02,
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_reader_waits_on_a_hole_in_the_ids(api: Api) -> None:
    ids = add_events(api, ["a", "b"])
    with api.db.session() as session:  # a hole: an id skipped, as a late commit leaves it
        wo = session.get(WorkOrder, 1)
        assert wo is not None
        session.add(
            WorkOrderEvent(
                id=ids[-1] + 2,
                at=api.clock(),
                actor="system",
                action="late",
                channel=Channel.SYSTEM,
                work_order=wo,
            )
        )
    now = [0.0]
    reader = EventReader(1, site="s1", gap_wait=10, monotonic=lambda: now[0])
    read = functools.partial(reader.read, limit=100)
    with api.db.sessions() as session:
        assert [e.event_id for e in read(session)] == ids
        assert read(session) == []
        now[0] = 9.9
        assert read(session) == []
        now[0] = 10.0
        assert [e.action for e in read(session)] == ["late"]
        assert read(session) == []


def test_work_order_metrics_carry_the_service_desks_figures() -> None:
    now = datetime(2026, 3, 31, tzinfo=UTC)
    desk = kpi.DeskFacts(valid_complaints=0, satisfaction=(5, 2))
    lines = influx.metric_lines(
        "harbour", "tower-a", [], [], [], [], now=now, start=now, targets=Targets(), desk=desk
    )
    assert len(lines) == len(Priority) * len(WorkOrderKind)
    # the building's mean satisfaction on every point; no repairs: no complaint or follow-up rate
    assert all(" satisfaction=3.5" in x or ",satisfaction=3.5" in x for x in lines), lines[0]
    assert not any("complaint_pct=" in x or "follow_up_pct=" in x for x in lines)
