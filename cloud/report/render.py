"""The monthly report as one self-contained HTML page, and as PDF through a headless
browser (Chromium or Chrome) or wkhtmltopdf when one is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

from cloud.enums import Priority, WorkOrderKind
from cloud.kpi import Indicator
from cloud.report.charts import stacked_bars, target_bars
from cloud.report.desk import DESK_HEADER, desk_rows
from cloud.report.monthly import MonthlyReport
from cloud.report.readings import StepReadings
from plantroom.errors import ConfigError, ServiceError

PDF_ENGINES = ("chromium", "chromium-browser", "google-chrome", "wkhtmltopdf")
PDF_TIMEOUT_S = 60.0

CSS = """
body { font-family: system-ui, sans-serif; color: #263238; margin: 2em; max-width: 60em; }
h1 { margin-bottom: 0.1em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #cfd8dc; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #cfd8dc; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.met { color: #2e7d32; font-weight: bold; } .missed { color: #c62828; font-weight: bold; }
.muted { color: #78909c; } @media print { body { margin: 0; } }
"""


def _value(indicator: Indicator) -> str:
    value = indicator.figure.value
    if value is None:
        return "n/a"
    if indicator.unit == "s":
        return f"{value / 60:.1f} min"
    if indicator.unit == "score":
        return f"{value:.2f} of 5"
    return f"{value:.1f} %"


def _target(indicator: Indicator) -> str:
    if indicator.target is None:
        return "—"
    sign = "≥" if indicator.higher_is_better else "≤"
    return f"{sign} {indicator.target:g} %"


def _met(indicator: Indicator) -> str:
    if indicator.met is None:
        return '<td class="muted">—</td>'
    return '<td class="met">met</td>' if indicator.met else '<td class="missed">missed</td>'


def indicator_rows(report: MonthlyReport) -> str:
    rows = []
    for key, ind in report.kpis.indicators.items():
        raw = "" if ind.figure.value is None else f"{ind.figure.value:.3f}"
        rows.append(
            f'<tr data-kpi="{key}" data-value="{raw}">'
            f"<td>{escape(ind.name)}</td><td>{_value(ind)}</td><td>{_target(ind)}</td>"
            f"{_met(ind)}<td>{ind.figure.denominator}</td></tr>"
        )
    return "".join(rows)


def _reading(value: float | None, unit: str) -> str:
    return "" if value is None else f"{value:g} {escape(unit)}"


def readings_rows(readings: list[StepReadings]) -> str:
    """The PM readings table's rows: one per plan step, with its out-of-limit jobs."""
    rows = []
    for r in readings:
        low, high = r.limits
        limits = " to ".join(_reading(v, r.unit) or "…" for v in (low, high))
        jobs = ", ".join(
            f"{escape(o.number)} {_reading(o.value, r.unit)}"
            + (f" ({escape(o.follow_up_job)})" if o.follow_up_job else "")
            for o in r.outliers
        )
        rows.append(
            f"<tr><td>{escape(r.plan_id)}</td><td>{escape(r.step)}</td><td>{limits}</td>"
            f"<td>{r.count}</td><td>{r.out_of_limits}</td><td>{_reading(r.min, r.unit)}</td>"
            f"<td>{_reading(r.max, r.unit)}</td><td>{jobs}</td></tr>"
        )
    return "".join(rows) or '<tr><td colspan="8" class="muted">no readings this month</td></tr>'


def render_html(report: MonthlyReport) -> str:
    k = report.kpis
    c = k.counts
    scope = f"building {report.building}" if report.building else "all buildings"
    percent = [
        (i.name, i.figure.value, i.target, i.higher_is_better)
        for i in k.indicators.values()
        if i.unit == "%"
    ]
    kinds = [
        (kind.value, [report.by_kind_priority[kind][p] for p in Priority]) for kind in WorkOrderKind
    ]
    priorities = [p.value for p in Priority]
    sla_rows = "".join(
        f"<tr><td>{p.value}</td><td>{f.denominator}</td><td>{int(f.numerator)}</td>"
        f"<td>{'n/a' if f.value is None else f'{f.value:.1f} %'}</td></tr>"
        for p, f in report.sla_by_priority.items()
    )
    recurring = (
        "".join(
            f"<tr><td>{escape(r.equipment_name or r.equipment_id)} ({escape(r.equipment_id)})</td>"
            f"<td>{escape(r.title)}</td><td>{r.jobs}</td><td>{r.reopens}</td></tr>"
            for r in report.recurring
        )
        or '<tr><td colspan="4" class="muted">no fault came back this month</td></tr>'
    )
    problems = (
        "".join(
            f"<tr><td>{escape(e.name or e.equipment_id)} ({escape(e.equipment_id)})</td>"
            f"<td>{escape(e.kind)}</td><td>{escape(e.building)}</td><td>{e.repairs}</td>"
            f"<td>{e.reopens}</td></tr>"
            for e in report.problem_equipment
        )
        or '<tr><td colspan="5" class="muted">no repairs this month</td></tr>'
    )
    pm = report.pm
    pm_chart = stacked_bars(
        [("PM due", [pm.on_time, pm.late, pm.not_done])],
        ["on time", "late", "not done"],
        "PM done against due",
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Service report {escape(report.month)} · {escape(report.site)} · {escape(scope)}</title>
<style>{CSS}</style></head><body>
<h1>Monthly service report: {escape(report.month)}</h1>
<p>Site <b>{escape(report.site)}</b>, {escape(scope)}. Work orders raised from
{k.start:%Y-%m-%d} to {k.end:%Y-%m-%d} (UTC); good order as of {k.as_of:%Y-%m-%d %H:%M} UTC.
Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>

<h2>Indicators of the service standards</h2>
<table id="indicators"><tr><th>indicator</th><th>figure</th><th>target</th><th></th>
<th>measured</th></tr>{indicator_rows(report)}</table>
{target_bars(percent, "Indicators against their targets")}

<h2>Work orders</h2>
<table id="counts"><tr><th>raised</th><th>open</th><th>acknowledged</th><th>in progress</th>
<th>on hold</th><th>resolved</th><th>closed</th><th>cancelled</th><th>overdue</th>
<th>reopened</th></tr><tr><td>{c.raised}</td><td>{c.open}</td><td>{c.acknowledged}</td>
<td>{c.in_progress}</td><td>{c.on_hold}</td><td>{c.resolved}</td><td>{c.closed}</td>
<td>{c.cancelled}</td><td>{c.overdue}</td><td>{c.reopened}</td></tr></table>
{stacked_bars(kinds, priorities, "Work orders by kind and priority")}

<h2>Repairs completed on time, by priority</h2>
<table id="sla"><tr><th>priority</th><th>decided</th><th>on time</th><th>rate</th></tr>
{sla_rows}</table>

<h2>Top recurring faults</h2>
<table id="recurring"><tr><th>equipment</th><th>fault</th><th>jobs</th><th>reopened</th></tr>
{recurring}</table>

<h2>Problem equipment</h2>
<table id="problems"><tr><th>equipment</th><th>kind</th><th>building</th><th>repairs</th>
<th>reopened</th></tr>{problems}</table>

<h2>Preventive maintenance</h2>
<table id="pm"><tr><th>due</th><th>on time</th><th>late</th><th>not done</th></tr>
<tr><td>{pm.due}</td><td>{pm.on_time}</td><td>{pm.late}</td><td>{pm.not_done}</td></tr></table>
{pm_chart}

<h2>Service desk</h2>
<p>Occupants' reports and calls received this month, their reporters' answers to "fixed?",
complaints received, and follow-up calls made (docs/requests.md).</p>
<table id="desk">{DESK_HEADER}{desk_rows(report.desk)}</table>
<h2>PM readings</h2>
<table id="readings"><tr><th>plan</th><th>step</th><th>limits</th><th>readings</th>
<th>out of limits</th><th>min</th><th>max</th><th>out of limits: job (follow-up)</th></tr>
{readings_rows(report.readings)}</table>
</body></html>
"""


def pdf_engine() -> str | None:
    """The first PDF engine on the PATH, or None."""
    for name in PDF_ENGINES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render_pdf(html: str, out: Path, *, engine: str | None = None) -> None:
    """Print `html` to `out` as PDF. Raises ConfigError without an engine, ServiceError if
    the engine fails."""
    engine = engine or pdf_engine()
    if engine is None:
        raise ConfigError(
            "no PDF engine found (looked for " + ", ".join(PDF_ENGINES) + "); write HTML "
            "instead, or install Chromium"
        )
    with tempfile.TemporaryDirectory(prefix="plantroom-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        if Path(engine).name == "wkhtmltopdf":
            cmd = [engine, "--quiet", str(page), str(out)]
        else:
            cmd = [
                engine,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp}/profile",
                "--no-pdf-header-footer",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ]
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=PDF_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(f"PDF engine {engine} failed: {exc}") from exc
    if result.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ServiceError(f"PDF engine {engine} did not write {out}: {' '.join(detail)}")
