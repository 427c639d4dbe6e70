# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""In-app notification sentences written from their facts, in English and in Chinese: the
job's priority and a shipped title in the reader's words, times in the reader's zone (the
record's in UTC, saying so), a digest's long list bounded."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from cloud.enums import Priority
from cloud.locale import RECORD, Text
from cloud.sla import sentences
from cloud.sla.policy import Stage
from cloud.workorders.model import WorkOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZH = Text("zh", SHANGHAI)
EN = Text("en", SHANGHAI)
DUE = dt.datetime(2026, 3, 10, 9, 5, tzinfo=dt.UTC)


def job(
    n: int = 7, *, building: str | None = "b1", location: str | None = "B2 plant room"
) -> WorkOrder:
    return WorkOrder(
        number=f"WO-{n:06d}",
        priority=Priority.URGENT,
        building=building,
        location=location,
        title="Pump discharge pressure low: pump-1",
    )


def stored(facts: dict[str, object]) -> dict[str, object]:
    """The facts as the JSON column gives them back."""
    loaded: dict[str, object] = json.loads(json.dumps(facts))
    return loaded


def test_a_dispatch_in_each_language() -> None:
    facts = stored(sentences.dispatched_facts(job()))
    assert sentences.sentence("dispatched", facts, EN) == (
        "WO-000007 (urgent) in b1 at B2 plant room: Pump discharge pressure low: pump-1"
    )
    assert sentences.sentence("dispatched", facts, ZH) == (
        "WO-000007（急）b1 B2 plant room：水泵出口压力低：pump-1"
    )


@pytest.mark.parametrize(
    ("building", "location", "zh"),
    [
        ("b1", None, "WO-000007（急）b1：水泵出口压力低：pump-1"),
        (None, "roof", "WO-000007（急）roof：水泵出口压力低：pump-1"),
        (None, None, "WO-000007（急）：水泵出口压力低：pump-1"),
    ],
)
def test_a_job_without_a_building_or_a_location(
    building: str | None, location: str | None, zh: str
) -> None:
    facts = stored(sentences.dispatched_facts(job(building=building, location=location)))
    assert sentences.sentence("dispatched", facts, ZH) == zh


def test_an_escalation_names_the_late_clock_its_due_time_and_the_stage() -> None:
    facts = stored(
        sentences.escalated_facts(
            job(), clock="acknowledge", due=DUE, stage=2, level=Stage.SUPERVISOR
        )
    )
    assert sentences.sentence("escalated", facts, ZH) == (
        "WO-000007（急）b1 B2 plant room：水泵出口压力低：pump-1，"
        "2026年3月10日 17:05 前未接单（第 2 级：主管）"
    )
    assert sentences.sentence("escalated", facts, EN).endswith(
        ", not acknowledged by March 10, 2026, 5:05\u202fPM (stage 2: the supervisor)"
    )
    # the record: English, in UTC and saying so
    assert sentences.sentence("escalated", facts, RECORD).endswith(
        "by March 10, 2026, 9:05\u202fAM UTC (stage 2: the supervisor)"
    )
    late = stored(
        sentences.escalated_facts(job(), clock="complete", due=None, stage=1, level=Stage.BACKUP)
    )
    assert sentences.sentence("escalated", late, ZH).endswith(
        "，规定时间 前未完成（第 1 级：后备值班人员）"
    )


def test_a_digest_lists_its_jobs_and_counts_the_rest() -> None:
    few = stored(sentences.digest_facts([job(1), job(2, building=None, location=None)]))
    assert sentences.sentence("digest", few, ZH) == (
        "每日汇总，共 2 个工单：WO-000001（急）b1 B2 plant room：水泵出口压力低：pump-1；"
        "WO-000002（急）：水泵出口压力低：pump-1"
    )
    assert sentences.sentence("digest", few, EN).startswith(
        "Daily digest, 2 job(s): WO-000001 (urgent) in b1 at B2 plant room: "
    )
    many = stored(sentences.digest_facts([job(n) for n in range(1, 26)]))
    text = sentences.sentence("digest", many, ZH)
    assert text.startswith("每日汇总，共 25 个工单：WO-000001") and text.endswith("；另有 5 个")
    assert "WO-000020" in text and "WO-000021" not in text


def test_a_long_title_is_kept_bounded() -> None:
    long = job()
    long.title = "x" * 5000
    facts = sentences.dispatched_facts(long)
    assert len(str(facts["job"]["title"])) == sentences.MAX_FACT


@pytest.mark.parametrize(
    ("kind", "facts", "error"),
    [
        ("dispatched", {}, KeyError),
        ("escalated", {"job": {}, "clock": "lunch"}, ValueError),
        ("digest", {"jobs": [], "count": 0}, ValueError),
        ("reminded", {}, ValueError),
    ],
)
def test_facts_not_of_their_kind_are_an_error(
    kind: str, facts: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        sentences.sentence(kind, facts, ZH)


def test_an_unknown_clock_is_refused_when_the_facts_are_written() -> None:
    with pytest.raises(ValueError, match="clock 'lunch'"):
        sentences.escalated_facts(job(), clock="lunch", due=DUE, stage=1, level=Stage.BACKUP)
