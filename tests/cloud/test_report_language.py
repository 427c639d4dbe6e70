# ruff: noqa: RUF001  (the Chinese report is written with full-width punctuation)
"""The monthly report in English and Simplified Chinese, and the server's message catalog:
every message translated, the template current with the code."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from cloud import kpi
from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.locale import FOLDER, LANGUAGES, LOCALES, Text, catalog_path, labels, language_of
from cloud.report.desk import DeskSummary
from cloud.report.monthly import MonthlyReport, PmSummary, ProblemEquipment, Recurring
from cloud.report.readings import StepReadings
from cloud.report.render import render_html
from cloud.sla import Targets
from plantroom.kinds import Kind

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 9, 5, tzinfo=UTC)  # 17:05 in Shanghai


def read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def placeholders(message: str) -> set[str]:
    """The names a message fills in: %(name)s and {name}."""
    named = set(re.findall(r"%\((\w+)\)s", message))
    return named | {field for _, field, _, _ in string.Formatter().parse(message) if field}


def test_every_message_has_a_chinese_translation() -> None:
    template = read(FOLDER / "messages.pot")
    zh = read(catalog_path("zh"))
    ids = {m.id for m in template if m.id}
    assert ids, "the template holds no message"
    assert {m.id for m in zh if m.id} == ids, "run `pybabel update` (CONTRIBUTING.md)"
    for m in zh:
        if not m.id:
            continue
        assert isinstance(m.id, str) and isinstance(m.string, str), m.id
        assert m.string.strip(), f"{catalog_path('zh')}:{m.lineno}: {m.id!r} is not translated"
        assert not m.fuzzy, f"{catalog_path('zh')}:{m.lineno}: {m.id!r} is marked fuzzy"
        assert placeholders(m.string) == placeholders(m.id), f"{m.id!r} → {m.string!r}"
    assert not list(zh.check()), "a translation does not fit its message's format"


def test_the_catalog_template_is_current_with_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Extracting again, with the configuration in pyproject.toml, gives the same messages
    from the same files (only the creation date in the header may differ)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("BABEL_PYPROJECT_TOML", str(ROOT / "pyproject.toml"))
    fresh = tmp_path / "messages.pot"
    cli = CommandLineInterface()
    cli.run(["pybabel", "--quiet", "extract", "--output-file", str(fresh)])  # type: ignore[no-untyped-call]

    def messages(catalog: Catalog) -> list[tuple[object, ...]]:
        return [
            (m.id, m.context, sorted(m.locations), sorted(m.flags), m.auto_comments)
            for m in catalog
            if m.id
        ]

    assert messages(read(fresh)) == messages(read(FOLDER / "messages.pot")), (
        "cloud/locale/messages.pot is out of date: run `pybabel extract` then "
        "`pybabel update` (CONTRIBUTING.md)"
    )


def test_every_language_has_a_catalog_and_the_names_of_stored_values() -> None:
    for language in LANGUAGES:
        assert language == "en" or catalog_path(language).is_file(), LOCALES[language]
    assert set(labels.EQUIPMENT_KINDS) == set(Kind)
    assert set(labels.WORK_ORDER_KINDS) == set(WorkOrderKind)
    assert set(labels.PRIORITIES) == set(Priority)
    assert set(labels.STATUSES) == set(WorkOrderStatus)
    assert (language_of("zh"), language_of("zh-CN"), language_of("en"), language_of(None)) == (
        "zh",
        "zh",
        "en",
        "en",
    )
    with pytest.raises(ValueError, match="language 'fr'"):
        Text("fr", UTC)


def job(n: int, kind: WorkOrderKind, **facts: object) -> kpi.Job:
    at = START + timedelta(days=n)
    values: dict[str, object] = {
        "id": n,
        "kind": kind,
        "priority": Priority.URGENT,
        "status": WorkOrderStatus.OPEN,
        "created_at": at,
        "opened_at": at,
        "building": "b1",
        "equipment_id": "p1",
        "equipment_kind": "pump",
    } | facts
    return kpi.Job(**values)  # type: ignore[arg-type]


def a_report() -> MonthlyReport:
    """March 2026: a pump fault repaired in 25 minutes, then back; a PM job done; 1,234
    reports at the desk."""
    fixed = job(
        2,
        WorkOrderKind.FAULT,
        status=WorkOrderStatus.RESOLVED,
        acknowledged_at=START + timedelta(days=2, minutes=5),
        resolved_at=START + timedelta(days=2, minutes=25),
        resolve_due_at=START + timedelta(days=3),
        reopens=1,
    )
    pm = job(
        3,
        WorkOrderKind.PM,
        status=WorkOrderStatus.CLOSED,
        priority=Priority.LOW,
        resolved_at=START + timedelta(days=3, hours=2),
        pm_due_at=START + timedelta(days=4),
    )
    equipment = [kpi.Equip("p1", "pump", "b1"), kpi.Equip("f1", "fire_panel", "b1")]
    report = kpi.evaluate(
        [fixed, pm],
        [],
        equipment,
        building=None,
        start=START,
        end=datetime(2026, 4, 1, tzinfo=UTC),
        now=NOW,
        targets=Targets(),
    )
    by_kind = {k: {p: 0 for p in Priority} for k in WorkOrderKind}
    by_kind[WorkOrderKind.FAULT][Priority.URGENT] = 1
    by_kind[WorkOrderKind.PM][Priority.LOW] = 1
    readings = StepReadings(
        "pump-monthly", "Discharge pressure, against the setpoint", "bar", (2.0, 6.5)
    )
    readings.add("WO-7", {"out_of_limits": True, "follow_up_job": "WO-9"}, 7.25, NOW)
    return MonthlyReport(
        month="2026-03",
        site="s1",
        building=None,
        generated_at=NOW,
        kpis=report,
        by_kind_priority=by_kind,
        sla_by_priority={p: kpi.sla_compliance([fixed], NOW) for p in Priority},
        recurring=[Recurring("p1", "Pump 1", "pump.dry_run", "Pump running dry", 1, 1)],
        problem_equipment=[ProblemEquipment("p1", "Pump 1", "pump", "b1", 1, 1)],
        pm=PmSummary(due=1, on_time=1, late=0, not_done=0),
        desk=DeskSummary(1234, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0),
        readings=[readings],
    )


def kpi_rows(html: str) -> dict[str, tuple[str, list[str]]]:
    rows = re.findall(r'<tr data-kpi="(\w+)" data-value="([^"]*)">(.*?)</tr>', html, re.S)
    return {key: (raw, re.findall(r"<td[^>]*>(.*?)</td>", cells)) for key, raw, cells in rows}


def test_the_report_in_chinese_has_chinese_text_dates_and_numbers() -> None:
    html = render_html(a_report(), Text("zh", SHANGHAI))
    assert '<html lang="zh-CN">' in html
    assert "<h1>月度服务报告：2026年3月</h1>" in html
    for heading in ("服务标准指标", "工单", "各优先级维修按时完成情况", "反复出现的故障",
                    "问题设备", "预防性维护", "服务台", "预防性维护读数"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in html
    # the month in UTC; times of day in the site's zone
    assert "统计 2026年3月1日 至 2026年3月31日 期间生成的工单" in html
    assert "生成于 2026年3月10日 17:05。时间均为站点所在时区（Asia/Shanghai）。" in html
    rows = kpi_rows(html)
    assert rows["mttr_s"] == ("1500.000", ["平均修复时间", "25.0 分钟", "—", "—", "1"])
    assert rows["pm_compliance_pct"] == ("100.000", ["预防性维护按时完成率", "100.0%", "≥ 100%",
                                                     "达标", "1"])  # fmt: skip
    assert rows["satisfaction"][1][:2] == ["报修人满意度（1 至 5 分）", "无数据"]
    assert "<td>1,234</td>" in html  # desk reports, grouped
    assert "<td>Pump 1 (p1)</td><td>水泵</td>" in html
    assert "<td>2 bar 至 6.5 bar</td>" in html and "WO-7 7.25 bar (WO-9)" in html
    # the shipped rule's title and plan step, from the catalog
    assert "<td>水泵干转</td>" in html and "<td>出口压力（对照设定值）</td>" in html
    for english in ("Monthly service report", "Work orders", "on time", "n/a", " min<"):
        assert english not in html


def test_the_report_in_english_says_what_it_said() -> None:
    html = render_html(a_report(), Text("en", SHANGHAI))
    assert '<html lang="en">' in html
    assert "<h1>Monthly service report: March 2026</h1>" in html
    assert "Work orders raised from March 1, 2026 to March 31, 2026" in html
    assert "Generated March 10, 2026, 5:05\u202fPM." in html  # CLDR: a narrow space
    rows = kpi_rows(html)
    assert rows["mttr_s"] == ("1500.000", ["Mean time to repair", "25.0 min", "—", "—", "1"])
    assert rows["pm_compliance_pct"][1] == [
        "Preventive maintenance on time", "100.0 %", "≥ 100 %", "met", "1",
    ]  # fmt: skip
    assert "<td>Pump 1 (p1)</td><td>pump</td>" in html
    assert "<td>2 bar to 6.5 bar</td>" in html
    assert "<td>Pump running dry</td>" in html
    assert "<td>Discharge pressure, against the setpoint</td>" in html
    # the figures machines read are the same in both languages
    zh = render_html(a_report(), Text("zh", SHANGHAI))
    assert {k: raw for k, (raw, _) in kpi_rows(html).items()} == {
        k: raw for k, (raw, _) in kpi_rows(zh).items()
    }
