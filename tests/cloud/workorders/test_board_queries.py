"""The supervisor board's queries over the API: unassigned jobs and jobs at risk (a running
clock in the last `AT_RISK_SHARE` of its span), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from cloud.workorders.queries import AT_RISK_SHARE
from tests.cloud.harness import STAFF, Api, serve, settings_for


async def numbers(api: Api, query: str) -> list[str]:
    r = await api.get(f"/api/work-orders?{query}", who="super1")
    assert r.status_code == 200, r.text
    return sorted(item["number"] for item in r.json()["items"])


async def request(api: Api, title: str) -> str:
    body = {"title": title, "priority": "normal", "equipment_id": "p1"}
    r = await api.post("/api/work-orders", json=body)
    assert r.status_code == 201, r.text
    number: str = r.json()["number"]
    return number


async def test_at_risk_and_unassigned(database_url: str, tmp_path: Path) -> None:
    assert AT_RISK_SHARE == 0.2  # the hours below are worked out for it
    async with serve(settings_for(tmp_path, database_url=database_url), users=STAFF) as api:
        first = await request(api, "Pump noisy")
        second = await request(api, "Pump leaking")
        assert await numbers(api, "at_risk=true") == []
        assert await numbers(api, "unassigned=true") == [first, second]

        # normal: acknowledge within 2 h, so at risk in its last 24 minutes
        api.clock.advance(minutes=95)
        assert await numbers(api, "at_risk=true") == []
        api.clock.advance(minutes=2)
        assert await numbers(api, "at_risk=true") == [first, second]

        r = await api.post(f"/api/work-orders/{first}/acknowledge", who="tech1")
        assert r.status_code == 200, r.text
        r = await api.post(
            f"/api/work-orders/{second}/assign", who="super1", json={"assignee": "tech2"}
        )
        assert r.status_code == 200, r.text
        assert await numbers(api, "unassigned=true") == []
        # the first one's acknowledgement clock stopped; its completion (2 d) is far off
        assert await numbers(api, "at_risk=true") == [second]

        # past 2 h the second is overdue, so no longer "at risk"
        api.clock.advance(minutes=30)
        assert await numbers(api, "overdue=true") == [second]
        assert await numbers(api, "at_risk=true") == []

        # completion promised at 48 h: at risk from 38.4 h, overdue from 48 h
        api.clock.advance(hours=36)
        assert await numbers(api, "at_risk=true") == []
        api.clock.advance(hours=1)
        assert await numbers(api, "at_risk=true") == [first]
        assert await numbers(api, "at_risk=true&unassigned=true") == []
        api.clock.advance(hours=10)
        assert await numbers(api, "at_risk=true") == []
        assert first in await numbers(api, "overdue=true")
