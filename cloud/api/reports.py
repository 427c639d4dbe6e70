"""GET /api/reports/monthly: the monthly service report as an HTML page; its PM readings as
JSON at /api/reports/monthly/readings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cloud.api.errors import AUTH_RESPONSES
from cloud.api.kpi import BuildingQuery, check_building, scope_buildings
from cloud.api.language import reader
from cloud.api.times import query_month
from cloud.deps import CurrentUser, SessionDep, SiteQuery, StateDep
from cloud.kpi import month_bounds
from cloud.report.monthly import gather
from cloud.report.readings import StepReadings, month_readings
from cloud.report.render import render_html
from cloud.state import AppState
from cloud.users.sites import access_of

router = APIRouter(tags=["reports"], responses=AUTH_RESPONSES)

MonthQuery = Annotated[str, Query(description="YYYY-MM (UTC)", examples=["2026-11"])]


def label(state: AppState, session: Session, building: str | None) -> str:
    """The sites a report covers, as its heading names them."""
    if building is not None:
        return state.sites.site_of(building) or state.inventory.site.id
    access = access_of(session)
    return ", ".join(s for s in state.served_sites if access.sees(s))


@router.get(
    "/reports/monthly",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "the report, one page"}},
)
def monthly_report(
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    month: MonthQuery,
    building: BuildingQuery = None,
    site: SiteQuery = None,
    lang: Annotated[
        Literal["en", "zh"] | None,
        Query(description="the report's language; the user's own language when absent"),
    ] = None,
) -> HTMLResponse:
    """The service standards' indicators with their targets (the same figures as
    `/api/kpis` for the month), work orders by kind and priority, SLA compliance by
    priority, top recurring faults, problem equipment, and PM done against due; in English
    or Simplified Chinese, times of day in the site's time zone."""
    query_month(month)
    check_building(state, building)
    text = reader(state, user, lang)
    report = gather(
        session,
        month=month,
        site=site or label(state, session, building),
        building=scope_buildings(state, session, building, site),
        now=state.clock(),
        targets=state.sla.targets,
        dispatch_s=state.sla.dispatch,
    )
    return HTMLResponse(render_html(report, text))


@router.get("/reports/monthly/readings", response_model=list[StepReadings])
def monthly_readings(
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    month: MonthQuery,
    building: BuildingQuery = None,
    site: SiteQuery = None,
) -> list[StepReadings]:
    """The month's PM readings per plan step, as the monthly report shows them: count,
    out-of-limit count, lowest and highest, and the jobs out of limits with their follow-up
    jobs."""
    query_month(month)
    check_building(state, building)
    start, end = month_bounds(month)
    scope = scope_buildings(state, session, building, site)
    return month_readings(session, building=scope, start=start, end=end)
