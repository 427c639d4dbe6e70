"""Write the monthly report to a file, straight from the configured database."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cloud.clock import Clock, utcnow
from cloud.db import Database
from cloud.locale import DEFAULT_LANGUAGE, LANGUAGES, Text
from cloud.report.monthly import gather
from cloud.report.render import render_html, render_pdf
from cloud.sites import Sites
from cloud.sla import load_sla
from plantroom.errors import ConfigError, ServiceError
from plantroom.settings import CloudSettings

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])\Z")


def default_name(month: str, building: str | None) -> Path:
    return Path(f"plantroom-report-{month}{'-' + building if building else ''}.html")


def write_report(
    settings: CloudSettings,
    *,
    month: str,
    building: str | None,
    out: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
    clock: Clock = utcnow,
) -> Path:
    """The report of `month` (YYYY-MM) in `language` ("en" or "zh") as HTML, or PDF when
    `out` ends in .pdf. Raises ConfigError for a bad month, language, building or output,
    ServiceError for a database that cannot be read."""
    if not MONTH.match(month):
        raise ConfigError(f"--month: {month!r} is not YYYY-MM, e.g. 2026-11")
    if language not in LANGUAGES:
        raise ConfigError(f"--lang: {language!r} is not one of {', '.join(LANGUAGES)}")
    sites = Sites.load(settings.inventory)
    buildings = sites.buildings()
    site = (sites.site_of(building) if building else None) or sites.first.site.id
    text = Text(language, sites.zone_of(site))
    if building is not None and building not in buildings:
        raise ConfigError(
            f"--building: {building!r} is not in {settings.inventory} "
            f"(known: {', '.join(sorted(buildings))})"
        )
    out = out or default_name(month, building)
    sla = load_sla()
    db = Database(settings.database_url)
    try:
        with db.sessions() as session:
            report = gather(
                session,
                month=month,
                site=site,
                building=building,
                now=clock(),
                targets=sla.targets,
                dispatch_s=sla.dispatch,
            )
    except SQLAlchemyError as exc:
        raise ServiceError(
            f"cannot read work orders from {settings.database_url}: {exc.__class__.__name__}; "
            "has the cloud service run against this database?"
        ) from exc
    finally:
        db.close()
    html = render_html(report, text)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".pdf":
            render_pdf(html, out.resolve())
        else:
            out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    return out
