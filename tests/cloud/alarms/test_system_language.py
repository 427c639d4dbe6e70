# ruff: noqa: RUF001  (the Chinese messages are written with full-width punctuation)
"""System alarms' messages in the reader's language: written from the alarm's details with the
message catalog, stored in English, and handed out by the API in the caller's language."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from cloud.alarms.edge_clock import EDGE_CLOCK_WRONG, EdgeClockAlarms
from cloud.alarms.edge_clock import message as edge_clock_message
from cloud.alarms.intake import message as intake_message
from cloud.alarms.system import raise_system_alarm
from cloud.alarms.unwatched import message as unwatched_message
from cloud.clockskew import AgentClock
from cloud.enums import Role, Severity
from cloud.locale import RECORD, Text
from cloud.notify.delivery import CHANNEL_FAILING, channel_failing_message
from tests.cloud.harness import Api, Clock, serve, settings_for

ZH = Text("zh", UTC)
AHEAD = {"agent": "b01", "skew_s": -600.0, "max_clock_skew_s": 300, "reports": 12}
FAILING = {
    "channel": "email",
    "attempts": 3,
    "address": "t1@example.com",
    "error": "550 mailbox unavailable",
    "user_id": 1,
}


def test_the_intake_and_unwatched_site_messages_in_english_and_chinese() -> None:
    behind = {"oldest_wait_s": 75.4, "bound_s": 60.0, "queued": 1234, "coalesced": 10}
    assert intake_message(behind) == (
        "telemetry intake behind: the oldest waiting sample has waited 75 s, beyond the 60 s"
        " allowed (1,234 waiting); alarm and state changes go first, routine measurements lag:"
        " the cloud needs more CPU or a faster database"
    )
    assert intake_message(behind, ZH).startswith("遥测接收滞后：最早等待的样本已等待 75 秒")
    unwatched = {"site": "harbour", "ttl_s": 15.0}
    assert unwatched_message(unwatched) == (
        "no cloud process has evaluated the rules of site harbour for over 15 s: its faults"
        " raise no alarms"
    )
    assert (
        unwatched_message(unwatched, ZH)
        == "超过 15 秒没有云端进程评估站点 harbour 的规则：其故障不会产生报警"
    )


def test_the_edge_clock_message_in_english_and_chinese() -> None:
    assert edge_clock_message(AHEAD, RECORD) == (
        "edge agent 'b01': clock 600 s ahead of the cloud's, beyond the 300 s allowed: its "
        "samples are refused when ahead or look old when behind; set the edge box's clock (NTP)"
    )
    behind = AHEAD | {"skew_s": 1234.4, "max_clock_skew_s": 2.5}
    assert edge_clock_message(behind, RECORD).startswith(
        "edge agent 'b01': clock 1,234 s behind the cloud's, beyond the 2.5 s allowed"
    )
    assert edge_clock_message(AHEAD, ZH) == (
        "边缘代理“b01”：时钟比云端快 600 秒，超出允许的 300 秒：时钟快时其数据会被拒收，"
        "慢时数据看似过时；请校准边缘设备的时钟（NTP）"
    )
    assert edge_clock_message(behind, ZH).startswith("边缘代理“b01”：时钟比云端慢 1,234 秒")


def test_the_channel_failing_message_in_english_and_chinese() -> None:
    assert channel_failing_message(FAILING, RECORD) == (
        "notification channel email failed 3 times in a row sending to t1@example.com: "
        "550 mailbox unavailable"
    )
    assert channel_failing_message(FAILING, ZH) == (
        "通知渠道 email 向 t1@example.com 发送时连续失败 3 次：550 mailbox unavailable"
    )


async def messages(api: Api, who: str) -> dict[str, str]:
    page = (await api.get("/api/system-alarms", who, params={"state": "active"})).json()
    return {a["subject"]: a["message"] for a in page["items"]}


@pytest.mark.integration
async def test_the_api_hands_out_messages_in_the_callers_language(tmp_path: Path) -> None:
    clock = Clock()
    users = {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR}
    async with serve(settings_for(tmp_path), clock, users=users) as api:
        EdgeClockAlarms(api.db, clock=clock, max_skew_s=300).apply(
            [AgentClock("b01", -600.0, 12, 0, off=True)]
        )
        with api.db.session() as session:
            raise_system_alarm(
                session,
                CHANNEL_FAILING,
                "channel:email",
                channel_failing_message(FAILING, RECORD),
                severity=Severity.MAJOR,
                details=FAILING,
                now=clock(),
            )
            # an older alarm whose details lack what the message needs, and a code with no
            # written message: both shown as stored
            raise_system_alarm(
                session,
                CHANNEL_FAILING,
                "channel:sms",
                "notification channel sms failed",
                severity=Severity.MAJOR,
                details={"address": "+8613800000001"},
                now=clock(),
            )
            raise_system_alarm(
                session,
                "disk_full",
                "host:cloud",
                "disk full",
                severity=Severity.MINOR,
                now=clock(),
            )
        english = await messages(api, "tech1")
        assert english["edge:b01"] == edge_clock_message(AHEAD, RECORD)
        assert english["channel:email"] == channel_failing_message(FAILING, RECORD)

        r = await api.client.put(
            "/api/me/language", headers=api.auth("tech1"), json={"language": "zh"}
        )
        assert r.status_code == 200, r.text
        chinese = await messages(api, "tech1")
        assert chinese == english | {
            "edge:b01": edge_clock_message(AHEAD, ZH),
            "channel:email": channel_failing_message(FAILING, ZH),
        }
        assert await messages(api, "super1") == english  # each reader their own language

        page = await api.get("/api/system-alarms", "tech1", params={"code": EDGE_CLOCK_WRONG})
        [alarm] = page.json()["items"]
        detail = (await api.get(f"/api/system-alarms/{alarm['id']}", "tech1")).json()
        assert detail["message"] == edge_clock_message(AHEAD, ZH)
        assert detail["events"][0]["note"] == edge_clock_message(AHEAD, RECORD)  # the record
