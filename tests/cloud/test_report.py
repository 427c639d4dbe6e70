"""The monthly service report: its figures are the KPI API's, its tables say what happened,
and `plantroom report` writes it as HTML (and PDF when a PDF engine is installed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cloud.cli import report_command
from cloud.enums import Channel, Priority, Role, WorkOrderKind
from cloud.equipment import Equipment
from cloud.report.render import pdf_engine
from cloud.workorders import creation
from tests.cloud.harness import Api, Clock, error, serve, settings_for

DAY = 86400.0


async def a_month(api: Api) -> None:
    """March 2026 in b1 and b2: a pump fault fixed and back an hour later, a fire alarm, two
    PM jobs due on the 8th (one done), and a look at the calendar on the 10th."""
    api.user("tech1", Role.TECHNICIAN)
    api.fault("p1", "pump.dry_run")
    with api.db.session() as session:
        f1 = session.get(Equipment, "f1")
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


def table(html: str, name: str) -> list[list[str]]:
    found = re.search(rf'<table id="{name}">(.*?)</table>', html, flags=re.S)
    assert found, name
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), flags=re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows if "<td" in row]


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
