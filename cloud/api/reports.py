"""GET /api/reports/monthly: the monthly service report as an HTML page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from cloud.api.errors import AUTH_RESPONSES
from cloud.api.kpi import check_building
from cloud.api.times import query_month
from cloud.deps import CurrentUser, SessionDep, StateDep
from cloud.report.monthly import gather
from cloud.report.render import render_html

router = APIRouter(tags=["reports"], responses=AUTH_RESPONSES)


@router.get(
    "/reports/monthly",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "the report, one page"}},
)
def monthly_report(
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    month: Annotated[str, Query(description="YYYY-MM (UTC)", examples=["2026-11"])],
    building: Annotated[str | None, Query(description="a building id; all when absent")] = None,
) -> HTMLResponse:
    """The service standards' indicators with their targets (the same figures as
    `/api/kpis` for the month), work orders by kind and priority, SLA compliance by
    priority, top recurring faults, problem equipment, and PM done against due."""
    query_month(month)
    check_building(state, building)
    report = gather(
        session,
        month=month,
        site=state.inventory.site.id,
        building=building,
        now=state.clock(),
        targets=state.sla.targets,
        dispatch_s=state.sla.dispatch,
    )
    return HTMLResponse(render_html(report))
