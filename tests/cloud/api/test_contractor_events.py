"""A contractor's event stream (pure: no database, no server): the work orders of their own
teams only, never alarms, live and when a reconnect replays what was missed."""

from __future__ import annotations

import asyncio
import json

from cloud.api.events import Broadcaster, Message
from cloud.db import Database


def no_database() -> Database:
    raise RuntimeError("no database in this test")


def job(number: str, team: str | None) -> dict[str, object]:
    return {"work_order": {"number": number, "team": team}, "events": []}


async def drained(queue: asyncio.Queue[Message | None]) -> list[str]:
    """What the stream was given: each work order's number, or the event's name."""
    await asyncio.sleep(0)  # the loop delivers what notify() scheduled
    out = []
    while not queue.empty():
        message = queue.get_nowait()
        assert message is not None
        data = json.loads(message.data)
        out.append(data.get("work_order", {}).get("number") or message.event)
    return out


async def test_a_contractors_stream_carries_their_teams_jobs_only() -> None:
    broadcaster = Broadcaster(no_database, interval=60)
    mine = frozenset({"lift-contractor"})
    async with broadcaster.subscribe(teams=mine) as contractor, broadcaster.subscribe() as staff:
        broadcaster.notify("work_order", job("WO-000002", "b1-plumbing"))
        broadcaster.notify("work_order", job("WO-000001", "lift-contractor"))
        broadcaster.notify("work_order", job("WO-000003", None))
        broadcaster.notify("alarm", {"alarm": {"id": 1, "equipment_id": "e1"}})
        assert await drained(contractor.queue) == ["WO-000001"]
        assert await drained(staff.queue) == [
            "WO-000002",
            "WO-000001",
            "WO-000003",
            "alarm",
        ]
        last = f"{broadcaster.boot}:1"  # saw the first message: the rest are replayed
        async with broadcaster.subscribe(last, teams=mine) as again:
            assert again.replayed
            assert await drained(again.queue) == ["WO-000001"]
    await broadcaster.aclose()
