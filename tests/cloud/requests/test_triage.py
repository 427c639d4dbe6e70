"""The service desk's intake and triage, on SQLite and PostgreSQL: a call logged by a
dispatcher (its SLA clocks start at the call), reports joined to the job already open or to
the active alarm's job, several reports of one place merged, and category routing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.cloud.harness import error
from tests.cloud.requests.desk import desk_app, job, report, track

pytestmark = pytest.mark.integration  # PostgreSQL as well as SQLite

CALL = {
    "caller": "Chen Jing",
    "phone": "021 5555 0101",
    "code": "b1",
    "category": "leak",
    "urgency": "urgent",
    "what": "water coming through the ceiling of the lobby",
    "place": "lobby, by the lifts",
}


async def test_a_dispatcher_logs_a_call_and_its_clocks_start_at_the_call(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        called_at = api.clock() - timedelta(minutes=10)
        response = await api.post(
            "/api/desk/calls", "desk1", json={**CALL, "called_at": called_at.isoformat()}
        )
        assert response.status_code == 201, response.text
        logged = response.json()
        assert logged["source"] == "desk"
        assert logged["phone"] == CALL["phone"]
        assert logged["reference"]
        wo = await job(api, logged["work_order"])
        assert wo["team"] == "b1-plumbing"  # leak → plumbing, by category: no equipment
        assert wo["priority"] == "urgent"
        assert wo["created_at"] == called_at.isoformat().replace("+00:00", "Z")
        assert wo["created_by"] == "desk1"
        technician = await api.post("/api/desk/calls", "tech1", json=CALL)
        error(technician, 403, "forbidden")
        future = {**CALL, "called_at": (api.clock() + timedelta(minutes=1)).isoformat()}
        late = await api.post("/api/desk/calls", "desk1", json=future)
        assert error(late, 422, "invalid_request").startswith("called_at:")
        bad = await api.post("/api/desk/calls", "desk1", json={**CALL, "category": "ufo"})
        assert error(bad, 422, "invalid_request").startswith("category:")


async def test_reports_of_one_thing_are_one_job_that_counts_its_reporters(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        first = (await report(api, "b2", "the lobby door sticks", category="door")).json()
        second = (await report(api, "b2", "door will not close", category="door")).json()
        call = await api.post(
            "/api/desk/calls", "desk1", json={**CALL, "code": "b2", "category": "door"}
        )
        assert call.status_code == 201, call.text
        other = (await report(api, "b2", "lights out", category="lighting")).json()
        jobs = (await api.get("/api/requests", "desk1")).json()["items"]
        by_reference = {r["reference"]: r for r in jobs}
        number = by_reference[first["reference"]]["work_order"]
        assert by_reference[second["reference"]]["work_order"] == number
        assert by_reference[second["reference"]]["merged"]
        assert call.json()["work_order"] == number
        assert call.json()["reporters"] == 3
        assert by_reference[other["reference"]]["work_order"] != number
        tracked = await track(api, second["reference"])
        assert tracked["reporters"] == 3
        assert tracked["updates"][0]["kind"] == "linked"
        trail = (await api.get(f"/api/work-orders/{number}/audit", "super1")).json()
        reported = [e for e in trail if e["action"] == "reported"]
        assert [e["details"]["reporters"] for e in reported] == [2, 3]
        wo = await job(api, number)
        assert wo["team"] is None  # door: no trade, a supervisor assigns it
        listed = (await api.get(f"/api/requests?work_order={number}", "tech1")).json()
        assert listed["total"] == 3


async def test_a_report_on_equipment_joins_its_open_job_or_its_alarm(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        api.fault("e1", "elevator.passenger_trapped")
        alarms = (await api.get("/api/work-orders?equipment_id=e1", "super1")).json()["items"]
        assert len(alarms) == 1
        fault_job = alarms[0]["number"]
        joined = (await report(api, "e1", "the lift stopped between floors")).json()
        listed = (await api.get("/api/requests", "desk1")).json()["items"]
        assert listed[0]["work_order"] == fault_job
        assert listed[0]["merged"]
        assert (await track(api, joined["reference"]))["reporters"] == 1
        pump = (await report(api, "p1", "no water upstairs")).json()
        again = (await report(api, "p1", "still no water")).json()
        rows = {
            r["reference"]: r for r in (await api.get("/api/requests", "desk1")).json()["items"]
        }
        assert rows[pump["reference"]]["work_order"] == rows[again["reference"]]["work_order"]
        wo = await job(api, rows[pump["reference"]]["work_order"])
        assert wo["team"] == "b1-plumbing"
