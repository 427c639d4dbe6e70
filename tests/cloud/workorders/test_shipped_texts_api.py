# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""The shipped plans' and rules' texts through the API: a technician who reads Chinese gets a
PM job raised by the app's scheduler, and a job a fault rule raised, with their titles, steps
and alarm message in Chinese; one who reads English gets them as stored; what people typed
reads as typed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.api.changes import ALARM, WORK_ORDER, in_language
from cloud.locale import Text
from cloud.pm.loader import load_plans
from tests.cloud.harness import STAFF, Api, serve, settings_for
from tests.cloud.workorders.harness import PATROL, raise_patrol, read, reads_chinese

pytestmark = pytest.mark.integration


ZH = Text("zh", dt.UTC)


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path, database_url=database_url), users=STAFF) as a:
        await reads_chinese(a, "tech1")
        yield a


async def test_a_pm_job_reads_in_the_callers_language(api: Api) -> None:
    number = raise_patrol(api)
    plan = next(p.plan for p in load_plans() if p.id == PATROL)

    english = await read(api, f"/api/work-orders/{number}", "tech2")
    assert english["title"].startswith("Lift daily patrol: ")
    assert [s["item"] for s in english["checklist"]] == [s.step for s in plan.checklist]
    assert english["description"].startswith("Daily patrol inspection by the building's")

    chinese = await read(api, f"/api/work-orders/{number}", "tech1")
    where = english["title"].removeprefix("Lift daily patrol: ")
    assert chinese["title"] == f"电梯日常巡检：{where}"
    assert chinese["description"].startswith("由大厦自有员工进行的日常巡检。\n\n")
    steps = [s["item"] for s in chinese["checklist"]]
    assert steps[0] == "乘坐轿厢；记录异常噪声、振动或抖动"
    assert len(steps) == len(plan.checklist)
    assert not any(step in {s.step for s in plan.checklist} for step in steps)

    # the list, and the answer to an action, in the caller's language too
    page = await read(api, "/api/work-orders?kind=pm&equipment_id=e1", "tech1")
    assert f"电梯日常巡检：{where}" in [item["title"] for item in page["items"]]
    acted = await api.post(f"/api/work-orders/{number}/acknowledge", "tech1", json={})
    assert acted.status_code == 200, acted.text
    assert acted.json()["title"] == chinese["title"]
    # the console's event stream to a Chinese reader: the same job, the same way
    streamed = in_language(WORK_ORDER, json.dumps({"work_order": english}), ZH)
    assert json.loads(streamed)["work_order"]["title"] == chinese["title"]
    assert [s["item"] for s in json.loads(streamed)["work_order"]["checklist"]] == steps
    assert in_language(WORK_ORDER, json.dumps({"work_order": english}), None) == json.dumps(
        {"work_order": english}
    )
    # ... and the stored job stays English
    assert (await read(api, f"/api/work-orders/{number}", "tech2"))["title"] == english["title"]


async def test_a_rule_raised_job_and_its_alarm_read_in_the_callers_language(api: Api) -> None:
    api.fault("e1", "elevator.passenger_trapped")
    page = await read(api, "/api/work-orders?kind=fault&equipment_id=e1", "tech1")
    [job] = page["items"]
    assert job["title"].startswith("电梯困人：")
    english = await read(api, f"/api/work-orders/{job['id']}", "tech2")
    assert english["title"].startswith("Passenger trapped in lift: ")
    assert english["alarm"]["message"] == "Passenger trapped in lift"

    chinese = await read(api, f"/api/work-orders/{job['id']}", "tech1")
    assert chinese["alarm"]["message"] == "电梯困人"
    alarm = await read(api, f"/api/alarms/{job['alarm_id']}", "tech1")
    assert alarm["message"] == "电梯困人"
    alarms = await read(api, "/api/alarms?equipment_id=e1", "tech1")
    assert [a["message"] for a in alarms["items"]] == ["电梯困人"]
    streamed = in_language(ALARM, json.dumps({"alarm": english["alarm"]}), ZH)
    assert json.loads(streamed)["alarm"]["message"] == "电梯困人"


async def test_what_people_typed_reads_as_typed(api: Api) -> None:
    typed = "Lift daily patrol: the car shakes"  # starts like a shipped title, yet typed
    body = {"title": "Lift e1 shakes", "description": typed, "equipment_id": "e1"}
    made = await api.post("/api/work-orders", "tech1", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Lift e1 shakes"
    assert made.json()["description"] == typed
