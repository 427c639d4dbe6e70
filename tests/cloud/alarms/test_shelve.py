"""Shelving an alarm on SQLite and PostgreSQL: set aside for a bounded time with a reason, by
whom; left out of `shelved=false` lists until then and back in after; refused when cleared or
already shelved; a fault that clears and comes back is no longer shelved."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.enums import Role
from tests.cloud.harness import Clock, raise_fault, serve, settings_for

pytestmark = pytest.mark.integration

STAFF = {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR}


async def test_an_alarm_is_shelved_for_a_while(database_url: str, tmp_path: Path) -> None:
    clock = Clock()
    settings = settings_for(tmp_path, "pump-and-lift", database_url=database_url)
    async with serve(settings, clock, users=STAFF) as api:
        raise_fault(api.state, "p1", "pump.dry_run", now=clock(), values={"dry_run": True})
        (alarm,) = (await api.get("/api/alarms?equipment_id=p1")).json()["items"]
        assert alarm["shelved_until"] is None
        url = f"/api/alarms/{alarm['id']}/shelve"

        for body, field in [
            ({"minutes": 2, "reason": "pump isolated"}, "minutes"),
            ({"minutes": 24 * 60 + 1, "reason": "pump isolated"}, "minutes"),
            ({"minutes": 60, "reason": " "}, "reason"),
            ({"minutes": 60}, "reason"),
        ]:
            refused = await api.post(url, json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert field in refused.text

        done = await api.post(url, json={"minutes": 60, "reason": "pump isolated for repair"})
        assert done.status_code == 200, done.text
        shelved = done.json()
        assert shelved["shelved_by"] == "tech1"
        assert shelved["shelved_reason"] == "pump isolated for repair"
        assert shelved["state"] == "active"  # still active: only the equipment clears it

        again = await api.post(url, json={"minutes": 30, "reason": "again"}, who="super1")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_shelved"
        assert "by tech1 until" in again.json()["error"]["message"]

        async def listed(shelved: str) -> list[int]:
            page = (await api.get(f"/api/alarms?equipment_id=p1&shelved={shelved}")).json()
            return [a["id"] for a in page["items"]]

        assert await listed("false") == []
        assert await listed("true") == [alarm["id"]]
        clock.advance(minutes=61)  # the time is up: it is back among the others
        assert await listed("false") == [alarm["id"]]
        assert await listed("true") == []

        # shelved again, then put back early by a supervisor
        assert (await api.post(url, json={"minutes": 5, "reason": "testing"})).status_code == 200
        back = await api.post(f"/api/alarms/{alarm['id']}/unshelve", who="super1")
        assert back.status_code == 200 and back.json()["shelved_until"] is None
        assert await listed("false") == [alarm["id"]]

        # shelved, cleared, raised again: a recurrence has to be seen
        assert (await api.post(url, json={"minutes": 600, "reason": "known"})).status_code == 200
        raise_fault(api.state, "p1", "pump.dry_run", now=clock(), clear=True)
        cleared = await api.post(url, json={"minutes": 60, "reason": "cleared now"}, who="super1")
        assert cleared.status_code == 409
        assert "has cleared" in cleared.json()["error"]["message"]
        raise_fault(api.state, "p1", "pump.dry_run", now=clock(), values={"dry_run": True})
        recurred = (await api.get(f"/api/alarms/{alarm['id']}")).json()
        assert recurred["occurrences"] == 2 and recurred["shelved_until"] is None

        missing = await api.post("/api/alarms/999/shelve", json={"minutes": 60, "reason": "x y"})
        assert missing.status_code == 404
