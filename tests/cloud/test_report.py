# ruff: noqa: RUF001  (the Chinese report is written with full-width punctuation)
"""The monthly service report: its figures are the KPI API's, its tables say what happened,
it is in the reader's language, and `plantroom report` writes it as HTML (and PDF when a PDF
engine is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cloud.cli import report_command
from cloud.enums import Channel, Priority, Role, WorkOrderKind
from cloud.report.render import pdf_engine
from cloud.workorders import creation
from tests.cloud.harness import Api, Clock, error, serve, settings_for, table
from tests.cloud.rows import equipment_row

DAY = 86400.0


async def a_month(api: Api) -> None:
    """March 2026 in b1 and b2: a pump fault fixed and back an hour later, a fire alarm, two
    PM jobs due on the 8th (one done), and a look at the calendar on the 10th."""
    api.user("tech1", Role.TECHNICIAN)
    api.fault("p1", "pump.dry_run")
    with api.db.session() as session:
        f1 = equipment_row(session, "f1")
        for title in ("Fire panel yearly test", "Fire panel battery check"):
            creation.create_work_order(
                session,
                title=title,
                kind=WorkOrderKind.PM,
                priority=Priority.LOW,
                now=api.clock(),
                sla=api.state.sla,
                channel=Channel.SYSTEM,
                equipment=f1,
            )
    api.clock.advance(60)
    await api.post("/api/work-orders/1/acknowledge")
    api.clock.advance(540)
    api.fault("p1", "pump.dry_run", clear=True)
    r = await api.post("/api/work-orders/1/resolve", json={"note": "primed"})
    assert r.status_code == 200, r.text
    await api.post("/api/work-orders/2/acknowledge")
    r = await api.post("/api/work-orders/2/resolve", json={"note": "tested"})
    assert r.json()["status"] == "closed"  # a PM job closes with its checklist done
    api.clock.advance(3600)
    api.fault("p1", "pump.dry_run")  # back within the week: job 1 reopens
    api.fault("f1", "fire_panel.fire_alarm")
    api.clock.advance(9 * DAY)


def figures(html: str) -> dict[str, float | None]:
    rows = re.findall(r'<tr data-kpi="(\w+)" data-value="([^"]*)">', html)
    return {key: float(value) if value else None for key, value in rows}


async def test_the_report_says_what_the_kpi_api_says(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path), Clock()) as api:
        await a_month(api)
        for building in (None, "b1", "b2"):
            params = {"month": "2026-03"} | ({"building": building} if building else {})
            r = await api.get("/api/reports/monthly", params=params)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/html")
            window = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
            scope = {"building": building} if building else {}
            kpis = (await api.get("/api/kpis", params=window | scope)).json()["indicators"]
            assert figures(r.text) == {k: v["value"] for k, v in kpis.items()}, building

        html = (await api.get("/api/reports/monthly", params={"month": "2026-03"})).text
        got = figures(html)
        assert got["repeat_fault_pct"] == 100.0 and got["pm_compliance_pct"] == 50.0
        assert table(html, "recurring") == [["p1 (p1)", "Pump running dry", "1", "1"]]
        assert table(html, "problems")[0][:4] == ["p1 (p1)", "pump", "b1", "1"]
        assert table(html, "pm") == [["2", "1", "0", "1"]]
        # raised 4; open 3: the reopened job, the PM not done and the fire alarm
        assert table(html, "counts")[0][:2] == ["4", "3"]
        assert html.count("<svg") == 3
        r = await api.get("/api/reports/monthly", params={"month": "2026-3"})
        error(r, 422, "invalid_request")
        error(
            await api.get("/api/reports/monthly", params={"month": "2026-03", "building": "x"}),
            422,
            "invalid_request",
        )


def run_report(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command()(report_command)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


async def test_plantroom_report_writes_html_and_pdf(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with serve(settings, Clock()) as api:
        await a_month(api)
        expected = figures(
            (await api.get("/api/reports/monthly", params={"month": "2026-03"})).text
        )
    base = [
        "--month",
        "2026-03",
        "--database-url",
        settings.database_url,
        "--inventory",
        str(settings.inventory),
    ]
    out = tmp_path / "reports" / "march.html"
    code, output = run_report(*base, "--out", str(out))
    assert code == 0, output
    assert output.strip() == str(out)
    assert figures(out.read_text()) == expected

    code, output = run_report(*base, "--building", "nowhere")
    assert code == 2 and "--building: 'nowhere' is not in" in output
    code, output = run_report(
        "--month",
        "March",
        "--database-url",
        settings.database_url,
        "--inventory",
        str(settings.inventory),
    )
    assert code == 2 and "--month: 'March' is not YYYY-MM" in output

    if pdf_engine() is None:
        pytest.skip("no PDF engine installed")
    pdf = tmp_path / "march.pdf"
    code, output = run_report(*base, "--out", str(pdf))
    assert code == 0, output
    assert pdf.read_bytes().startswith(b"%PDF-")


async def test_the_report_is_in_the_readers_language(tmp_path: Path) -> None:
    async with serve(settings_for(tmp_path), Clock()) as api:
        await a_month(api)
        march = {"month": "2026-03"}
        en = (await api.get("/api/reports/monthly", params=march)).text
        assert '<html lang="en">' in en and "<h1>Monthly service report: March 2026</h1>" in en
        r = await api.get("/api/reports/monthly", params=march | {"lang": "zh"})
        assert r.status_code == 200, r.text
        zh = r.text
        assert '<html lang="zh-CN">' in zh
        assert "<h1>月度服务报告：2026年3月</h1>" in zh and "<h2>服务标准指标</h2>" in zh
        assert "2026年3月1日 至 2026年3月31日" in zh
        # the same figures and tables; what was stored as it was stored, but for the shipped
        # rules' titles (from the catalog)
        assert figures(zh) == figures(en)
        [recurring] = table(en, "recurring")
        assert recurring[1] == "Pump running dry"
        assert table(zh, "recurring") == [[recurring[0], "水泵干转", *recurring[2:]]]
        assert table(zh, "problems")[0][:3] == ["p1 (p1)", "水泵", "b1"]
        assert table(zh, "pm") == table(en, "pm")

        # without ?lang= the reader's own language (PUT /api/me/language)
        r = await api.client.put(
            "/api/me/language", headers=api.auth("tech1"), json={"language": "zh"}
        )
        assert r.status_code == 200, r.text
        mine = (await api.get("/api/reports/monthly", params=march)).text
        assert '<html lang="zh-CN">' in mine
        english = (await api.get("/api/reports/monthly", params=march | {"lang": "en"})).text
        assert '<html lang="en">' in english
        error(
            await api.get("/api/reports/monthly", params=march | {"lang": "fr"}),
            422,
            "invalid_request",
        )


def pdf_text(pdf: Path) -> str:
    """The text of `pdf` as poppler's pdftotext reads it back."""
    found = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return found.stdout


async def test_plantroom_report_writes_chinese_html_and_pdf(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with serve(settings, Clock()) as api:
        await a_month(api)
    base = ["--month", "2026-03", "--database-url", settings.database_url,
            "--inventory", str(settings.inventory)]  # fmt: skip
    out = tmp_path / "march-zh.html"
    code, output = run_report(*base, "--lang", "zh", "--out", str(out))
    assert code == 0, output
    assert "<h1>月度服务报告：2026年3月</h1>" in out.read_text(encoding="utf-8")
    code, output = run_report(*base, "--lang", "fr")
    assert code == 2 and "--lang: 'fr' is not one of en, zh" in output

    if pdf_engine() is None or shutil.which("pdftotext") is None:
        pytest.skip("no PDF engine or no pdftotext installed")
    pdf = tmp_path / "march-zh.pdf"
    code, output = run_report(*base, "--lang", "zh", "--out", str(pdf))
    assert code == 0, output
    words = pdf_text(pdf)
    # the Chinese text is drawn with a CJK font, so it reads back as text
    assert "月度服务报告" in words and "服务标准指标" in words, words[:500]
