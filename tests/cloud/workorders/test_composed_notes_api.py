# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""What the service writes in a job's trail and description, through the API: a technician
who reads Chinese gets the notes of the scheduler, an assignment, the checklist, a sign-off,
the verification of a fix and a maintenance window in Chinese, and the paragraphs the service
composed in a job's description; one who reads English gets them as stored; what a person
typed reads as typed, in both."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cloud.api.changes import WORK_ORDER, in_language
from cloud.locale import Text
from cloud.sla.escalator import Escalator
from tests.cloud.harness import STAFF, Api, png, serve, settings_for
from tests.cloud.maintenance.harness import fault, runner, start
from tests.cloud.workorders.harness import PATROL, raise_patrol, read, reads_chinese

pytestmark = pytest.mark.integration

FAILED = "button 3 stays dark; reported to the contractor"
ZH = Text("zh", dt.UTC)


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    settings = settings_for(tmp_path, database_url=database_url, data_dir=tmp_path / "data")
    async with serve(settings, users=STAFF) as a:
        await reads_chinese(a, "tech1")
        yield a


async def ok(api: Api, url: str, who: str = "tech1", **kw: Any) -> Any:
    answer = await api.post(url, who, **kw)
    assert answer.status_code < 300, answer.text
    return answer.json()


def notes(events: list[dict[str, Any]]) -> dict[str, str]:
    """Each action's last note."""
    return {e["action"]: e["note"] for e in events if e["note"] is not None}


async def test_a_pm_jobs_trail_reads_in_the_callers_language(api: Api) -> None:
    url = f"/api/work-orders/{raise_patrol(api)}"
    await ok(api, f"{url}/assign", "super1", json={"assignee": "tech1"})
    for action in ("acknowledge", "start"):
        await ok(api, f"{url}/{action}")
    await ok(api, f"{url}/steps/0", json={"result": "pass"})
    await ok(api, f"{url}/steps/1", json={"result": "fail", "note": FAILED})
    for index in (2, 3):
        await ok(api, f"{url}/steps/{index}", json={"result": "na"})
    await ok(
        api,
        f"{url}/sign-off",
        files={"signature": ("sig.png", png(), "image/png")},
        data={"signer": "Chan Tai Man"},
    )
    await ok(api, f"{url}/resolve", json={"note": "patrol done"})

    english = await read(api, url, "tech2")
    chinese = await read(api, url, "tech1")
    day = english["description"].rsplit(" ", 4)[-4]  # "... due <day> by the calendar."
    assert english["description"].endswith(
        f"\n\nPreventive maintenance, due {day} by the calendar."
    )
    assert chinese["description"] == (
        f"由大厦自有员工进行的日常巡检。\n\n预防性维护，按日历于 {day} 到期。"
    )
    en, zh = notes(english["events"]), notes(chinese["events"])
    assert en["created"] == f"PM plan {PATROL}, due {day} by the calendar"
    assert zh["created"] == f"保养计划 {PATROL}，按日历于 {day} 到期"
    assert (en["assign"], zh["assign"]) == ("assigned to tech1", "已指派给 tech1")
    assert en["step"] == (
        "4. Check the floor indicators, emergency light and alarm bell: not applicable"
    )
    assert zh["step"] == "4. 检查楼层显示器、应急照明及警铃：不适用"
    failed = next(e["note"] for e in chinese["events"] if e["note"] and FAILED in e["note"])
    assert failed == f"2. 按下每个召唤按钮和轿内按钮；检查其点亮并响应：不合格。{FAILED}"
    assert (en["sign_off"], zh["sign_off"]) == (
        "signed off by Chan Tai Man",
        "已由 Chan Tai Man 签字确认",
    )
    assert (en["close"], zh["close"]) == ("checklist done", "检查清单已完成")
    assert en["resolve"] == zh["resolve"] == "patrol done"  # typed: as typed

    # the full trail, and the console's event stream, the same way
    trail = await read(api, f"{url}/audit", "tech1")
    assert notes(trail)["close"] == "检查清单已完成"
    assert notes(await read(api, f"{url}/audit", "tech2"))["close"] == "checklist done"
    streamed = in_language(
        WORK_ORDER, json.dumps({"work_order": english, "events": english["events"]}), ZH
    )
    shown = json.loads(streamed)
    assert notes(shown["events"])["sign_off"] == "已由 Chan Tai Man 签字确认"
    assert shown["work_order"]["description"] == chinese["description"]


async def test_a_verified_fault_job_reads_in_the_callers_language(api: Api) -> None:
    escalator = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.dry_run")
    await ok(api, "/api/work-orders/1/acknowledge")
    api.fault("p1", "pump.dry_run", clear=True)
    await ok(api, "/api/work-orders/1/resolve", json={"note": "reset the float switch"})
    api.clock.advance(api.state.sla.verification)
    assert escalator.tick().closed == 1

    english = await read(api, "/api/work-orders/1", "tech2")
    chinese = await read(api, "/api/work-orders/1", "tech1")
    assert english["description"].endswith("\n\nLocation: building b1.")
    assert chinese["description"].endswith("\n\n位置：b1 楼。")
    assert "Location" not in chinese["description"]
    en, zh = notes(english["events"]), notes(chinese["events"])
    assert en["close"] == "verified: the fault stayed cleared for 15 min"
    assert zh["close"] == "已验证：故障已持续消除 15 分钟"
    assert (en["created"], zh["created"]) == ("Pump running dry", "水泵干转")
    assert zh["resolve"] == "reset the float switch"


async def test_a_maintenance_windows_trail_reads_in_the_callers_language(api: Api) -> None:
    window = await start(api, minutes=10)
    fault(api, "p1", "pump.dry_run")  # held by the window
    api.clock.advance(minutes=11)
    done = await runner(api).run_once()
    assert done is not None and done.raised == 1

    url = f"/api/maintenance/{window['id']}"
    english = notes((await read(api, url, "tech2"))["events"])
    chinese = notes((await read(api, url, "tech1"))["events"])
    assert (english["alarm_held"], chinese["alarm_held"]) == ("Pump running dry", "水泵干转")
    assert (english["settled"], chinese["settled"]) == (
        "1 alarm(s) still active at the end",
        "结束时仍有 1 个报警未消除",
    )
    assert chinese["created"] == english["created"]  # the reason someone typed
    listed = (await read(api, "/api/maintenance?equipment_id=p1", "tech1"))[0]
    assert notes(listed["events"])["settled"] == "结束时仍有 1 个报警未消除"
