# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""A rule's alarm message in the reader's language: the shipped title and the points' names
and worded values translated, numbers and unknown names as stored, English unchanged."""

from __future__ import annotations

import datetime as dt

import pytest

from cloud.alarms.messages import IN_MAINTENANCE, alarm_message, shelved_reason
from cloud.alarms.schemas import AlarmOut
from cloud.enums import AlarmState, Severity
from cloud.locale import Text
from cloud.rules.state import describe
from cloud.schemas import READER

ZH = Text("zh", dt.UTC)
EN = Text("en", dt.UTC)
RAISED = "Pump discharge pressure low (" + describe({"dry_run": False, "low_pressure": True}) + ")"


@pytest.mark.parametrize(
    ("stored", "zh"),
    [
        (RAISED, "水泵出口压力低（干转保护：否，低压：是）"),
        (
            "Pump discharge pressure low cleared (dry_run=false, low_pressure=false)",
            "水泵出口压力低已解除（干转保护：否，低压：否）",
        ),
        ("Lift controller not reporting", "电梯控制器无数据上报"),
        ("Lift controller not reporting (floor=n/a)", "电梯控制器无数据上报（楼层：无数据）"),
        # a number as stored; a point or a state the console does not name, as stored
        (
            "Pump discharge pressure low (discharge_pressure=1.25, vendor_x=7)",
            "水泵出口压力低（出口压力：1.25，vendor_x：7）",
        ),
        ("Lift out of service (mode=fire_service)", "电梯停止服务（运行模式：消防运行）"),
        # a text value holding the list's separator stays one value
        (
            "Lift out of service (fault_code=E1, door, floor=3)",
            "电梯停止服务（故障代码：E1, door，楼层：3）",
        ),
        # a site's own rule: its title as written, the values still in the reader's words
        ("Boiler flue hot (leak=true)", "Boiler flue hot（漏水：是）"),
        # not of the shape: only the shipped title looked for
        ("Pump discharge pressure low (see the log)", "水泵出口压力低 (see the log)"),
        ("someone's own words", "someone's own words"),
    ],
)
def test_an_alarm_message_reads_in_chinese(stored: str, zh: str) -> None:
    assert alarm_message(ZH, stored) == zh
    assert alarm_message(EN, stored) == stored


def test_the_api_answer_and_the_live_stream_give_the_message_in_the_callers_language() -> None:
    now = dt.datetime(2026, 3, 10, 9, 5, tzinfo=dt.UTC)
    row = {
        "id": 1,
        "equipment_id": "pump-1",
        "rule_id": "pump.low_pressure",
        "severity": Severity.MAJOR,
        "state": AlarmState.ACTIVE,
        "message": RAISED,
        "last_value": {"low_pressure": True},
        "raised_at": now,
        "last_raised_at": now,
        "occurrences": 1,
        "cleared_at": None,
        "acknowledged": False,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "shelved_until": None,
        "shelved_reason": None,
        "shelved_by": None,
    }
    stored = AlarmOut.model_validate(row)
    assert stored.message == RAISED  # no reader: as stored
    shown = AlarmOut.model_validate(stored.model_dump(mode="json"), context={READER: ZH})
    assert shown.message == "水泵出口压力低（干转保护：否，低压：是）"
    again = AlarmOut.model_validate(shown.model_dump(mode="json"), context={READER: ZH})
    assert again.message == shown.message  # an answer's own dump validates to itself


def test_a_maintenance_windows_shelving_reads_in_the_readers_language() -> None:
    stored = IN_MAINTENANCE.format(reason="Seal replacement")
    assert stored == "in maintenance: Seal replacement"
    assert shelved_reason(ZH, stored) == "维护中：Seal replacement"
    assert shelved_reason(EN, stored) == stored
    assert shelved_reason(ZH, "waiting for parts") == "waiting for parts"  # typed by someone
