"""The monthly report as one self-contained HTML page, and as PDF through a headless
browser (Chromium or Chrome) or wkhtmltopdf when one is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup

from cloud.enums import Priority, WorkOrderKind
from cloud.kpi import Indicator
from cloud.locale import Text, labels, templates
from cloud.locale.shipped import shipped
from cloud.report.charts import stacked_bars, target_bars
from cloud.report.desk import desk_counts
from cloud.report.monthly import MonthlyReport
from cloud.report.readings import StepReadings
from plantroom.errors import ConfigError, ServiceError

TEMPLATES = Path(__file__).with_name("templates")
PDF_ENGINES = ("chromium", "chromium-browser", "google-chrome", "wkhtmltopdf")
PDF_TIMEOUT_S = 60.0


def _percent(text: Text, shown: str) -> str:
    return text._("{value} %").format(value=shown)


def _value(text: Text, indicator: Indicator) -> str:
    value = indicator.figure.value
    if value is None:
        return text._("n/a")
    if indicator.unit == "s":
        return text._("{value} min").format(value=text.number(value / 60, 1))
    if indicator.unit == "score":
        return text._("{value} of 5").format(value=text.number(value, 2))
    return _percent(text, text.number(value, 1))


def _target(text: Text, indicator: Indicator) -> str:
    if indicator.target is None:
        return "—"
    sign = "≥" if indicator.higher_is_better else "≤"
    return f"{sign} {_percent(text, text.figure(indicator.target))}"


def indicators(report: MonthlyReport, text: Text) -> list[dict[str, Any]]:
    """The indicators table: name, figure with its unit, target, met or not, and how many
    it measured; `raw` is the figure for machines (3 decimals, empty when none)."""
    return [
        {
            "key": key,
            "raw": "" if ind.figure.value is None else f"{ind.figure.value:.3f}",
            "name": text._(ind.name),
            "value": _value(text, ind),
            "target": _target(text, ind),
            "met": ind.met,
            "measured": text.number(ind.figure.denominator),
        }
        for key, ind in report.kpis.indicators.items()
    ]


def _reading(text: Text, value: float | None, unit: str) -> str:
    return "" if value is None else f"{text.figure(value)} {unit}"


def readings_rows(readings: list[StepReadings], text: Text) -> list[list[str]]:
    """The PM readings table: one row per plan step, with its out-of-limit jobs."""
    rows = []
    for r in readings:
        low, high = (_reading(text, v, r.unit) or "…" for v in r.limits)
        jobs = ", ".join(
            f"{o.number} {_reading(text, o.value, r.unit)}"
            + (f" ({o.follow_up_job})" if o.follow_up_job else "")
            for o in r.outliers
        )
        rows.append(
            [
                r.plan_id,
                shipped(text, r.step),
                text._("{low} to {high}").format(low=low, high=high),
                text.number(r.count),
                text.number(r.out_of_limits),
                _reading(text, r.min, r.unit),
                _reading(text, r.max, r.unit),
                jobs,
            ]
        )
    return rows


def _equipment(name: str | None, equipment_id: str) -> str:
    return f"{name or equipment_id} ({equipment_id})"


def render_html(report: MonthlyReport, text: Text) -> str:
    """The report as one HTML page in `text`'s language, times of day in its time zone."""
    _, n = text._, text.number
    k = report.kpis
    c = k.counts
    scope = (
        _("building {building}").format(building=report.building)
        if report.building
        else _("all buildings")
    )
    percent = [
        (_(i.name), i.figure.value, i.target, i.higher_is_better, _value(text, i))
        for i in k.indicators.values()
        if i.unit == "%"
    ]
    kinds = [
        (labels.work_order_kind(text, kind), [report.by_kind_priority[kind][p] for p in Priority])
        for kind in WorkOrderKind
    ]
    pm = report.pm
    counts = (c.raised, c.open, c.acknowledged, c.in_progress, c.on_hold, c.resolved, c.closed,
              c.cancelled, c.overdue, c.reopened)  # fmt: skip
    page = templates(TEMPLATES, text.language).get_template("monthly.html")
    return page.render(
        html_lang=text.html_lang,
        month=text.month(k.start.date()),
        site=report.site,
        bold_site=Markup("<b>{}</b>").format(report.site),
        scope=scope,
        start=text.date(k.start.date()),
        end=text.date((k.end - timedelta(days=1)).date()),
        as_of=text.datetime(k.as_of),
        generated=text.datetime(report.generated_at),
        zone=str(text.zone),
        indicators=indicators(report, text),
        target_chart=Markup(target_bars(percent, _("Indicators against their targets"))),
        counts=[n(v) for v in counts],
        kind_chart=Markup(
            stacked_bars(
                kinds,
                [labels.priority(text, p) for p in Priority],
                _("Work orders by kind and priority"),
                number=n,
            )
        ),
        sla=[
            [
                labels.priority(text, p),
                n(f.denominator),
                n(int(f.numerator)),
                _("n/a") if f.value is None else _percent(text, n(f.value, 1)),
            ]
            for p, f in report.sla_by_priority.items()
        ],
        recurring=[
            [
                _equipment(r.equipment_name, r.equipment_id),
                shipped(text, r.title),
                n(r.jobs),
                n(r.reopens),
            ]
            for r in report.recurring
        ],
        problems=[
            [
                _equipment(e.name, e.equipment_id),
                labels.equipment_kind(text, e.kind),
                e.building,
                n(e.repairs),
                n(e.reopens),
            ]
            for e in report.problem_equipment
        ],
        pm=[n(v) for v in (pm.due, pm.on_time, pm.late, pm.not_done)],
        pm_chart=Markup(
            stacked_bars(
                [(_("PM due"), [pm.on_time, pm.late, pm.not_done])],
                [_("on time"), _("late"), _("not done")],
                _("PM done against due"),
                number=n,
            )
        ),
        desk=[n(v) for v in desk_counts(report.desk)],
        readings=readings_rows(report.readings, text),
    )


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
