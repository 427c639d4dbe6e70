"""The monthly report's PM readings, worked out by hand: two lift visits read in March (one
with two readings out of limits, each raising its follow-up job) and one read in April, on
SQLite and PostgreSQL; as JSON and in the rendered report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.cloud.harness import STAFF, Api, lift_visit_started, serve, settings_for, step, table

pytestmark = pytest.mark.integration

PLAN = "elevator.routine_maintenance"
BRAKE, CURRENT, DOOR_LOCK = 1, 2, 4  # the plan's steps with readings (mm, A, mm)


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path, database_url=database_url), users=STAFF) as a:
        yield a


async def read(api: Api, wo: int, index: int, value: float, *, bad: bool = False) -> None:
    body: dict[str, Any] = {"result": "fail" if bad else "pass", "value": value}
    if bad:
        body["note"] = "out of limits"
    r = await step(api, wo, index, **body)
    assert r.status_code == 200, r.text


async def cut_short(api: Api, wo: int) -> None:
    """Cancel a visit after its readings (one visit per lift may be open at a time)."""
    r = await api.post(f"/api/work-orders/{wo}/cancel", who="super1", json={"note": "cut short"})
    assert r.status_code == 200, r.text


async def test_the_months_readings(api: Api) -> None:
    good = await lift_visit_started(api)
    await read(api, good, BRAKE, 0.4)
    await read(api, good, CURRENT, 12.5)
    await read(api, good, DOOR_LOCK, 8)
    await cut_short(api, good)
    api.clock.advance(hours=2)
    bad = await lift_visit_started(api)
    await read(api, bad, BRAKE, 0.9, bad=True)
    await read(api, bad, CURRENT, 14)
    await read(api, bad, DOOR_LOCK, 6.5, bad=True)
    checklist = (await api.get(f"/api/work-orders/{bad}")).json()["checklist"]
    brake_job, lock_job = checklist[BRAKE]["follow_up_job"], checklist[DOOR_LOCK]["follow_up_job"]
    assert brake_job and lock_job and brake_job != lock_job
    bad_number = (await api.get(f"/api/work-orders/{bad}")).json()["number"]
    await cut_short(api, bad)

    api.clock.advance(days=31)  # April: not in March's figures
    later = await lift_visit_started(api)
    await read(api, later, BRAKE, 0.05, bad=True)

    r = await api.get("/api/reports/monthly/readings?month=2026-03")
    assert r.status_code == 200, r.text
    steps = {s["step"]: s for s in r.json()}
    assert [s["plan_id"] for s in r.json()] == [PLAN] * 3
    brake = steps["Brake shoe clearance, the widest point"]
    assert (brake["count"], brake["out_of_limits"], brake["min"], brake["max"]) == (2, 1, 0.4, 0.9)
    assert [(o["number"], o["value"], o["follow_up_job"]) for o in brake["outliers"]] == [
        (bad_number, 0.9, brake_job)
    ]
    current = steps["Traction motor current, empty car going up"]
    assert (current["count"], current["out_of_limits"], current["min"], current["max"]) == (
        2,
        0,
        12.5,
        14.0,
    )
    assert current["unit"] == "A" and current["outliers"] == []
    lock = steps["Door lock engagement, the shallowest landing"]
    assert (lock["count"], lock["out_of_limits"], lock["min"], lock["max"]) == (2, 1, 6.5, 8.0)
    assert lock["limits"] == [7.0, None]

    april = (await api.get("/api/reports/monthly/readings?month=2026-04")).json()
    assert [(s["count"], s["out_of_limits"], s["min"]) for s in april] == [(1, 1, 0.05)]

    html = (await api.get("/api/reports/monthly?month=2026-03")).text
    rows = table(html, "readings")
    assert rows == [
        [PLAN, "Brake shoe clearance, the widest point", "0.1 mm to 0.7 mm", "2", "1",
         "0.4 mm", "0.9 mm", f"{bad_number} 0.9 mm ({brake_job})"],
        [PLAN, "Traction motor current, empty car going up", "… to …", "2", "0",
         "12.5 A", "14 A", ""],
        [PLAN, "Door lock engagement, the shallowest landing", "7 mm to …", "2", "1",
         "6.5 mm", "8 mm", f"{bad_number} 6.5 mm ({lock_job})"],
    ]  # fmt: skip
