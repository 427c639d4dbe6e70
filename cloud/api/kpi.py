"""GET /api/kpis: the indicators managers report, for a building (or all) and a period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.api.errors import AUTH_RESPONSES
from cloud.api.times import query_time
from cloud.deps import CurrentUser, SessionDep, SiteQuery, StateDep, answer
from cloud.errors import InvalidInput
from cloud.schemas import IndicatorOut, KpiCounts, KpiOut, SiteKpisOut
from cloud.state import AppState
from cloud.users.sites import access_of

DEFAULT_PERIOD = timedelta(days=30)
UNITS: dict[str, Literal["s", "%", "score"]] = {"s": "s", "%": "%", "score": "score"}

router = APIRouter(tags=["kpis"], responses=AUTH_RESPONSES)

BuildingQuery = Annotated[str | None, Query(description="a building id; all when absent")]


def check_building(state: AppState, building: str | None) -> None:
    known = state.sites.buildings()
    if building is not None and building not in known:
        raise InvalidInput(
            f"query.building: {building!r} is not in the inventory "
            f"(known: {', '.join(sorted(known))})"
        )


def period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The period asked for: `to` defaults to now, `from` to 30 days before `to`."""
    start, end = query_time(start, "from"), query_time(end, "to")
    end = end or now
    start = start or end - DEFAULT_PERIOD
    if end <= start:
        raise InvalidInput("query.to: must be later than `from`")
    return start, end


def kpi_out(report: kpi.Report, site: str | None = None) -> KpiOut:
    c = report.counts
    return KpiOut.model_validate(
        {
            "building": report.building,
            "site": site,
            "from": report.start,
            "to": report.end,
            "as_of": report.as_of,
            "counts": KpiCounts(
                raised=c.raised,
                open=c.open,
                acknowledged=c.acknowledged,
                in_progress=c.in_progress,
                on_hold=c.on_hold,
                resolved=c.resolved,
                closed=c.closed,
                cancelled=c.cancelled,
                overdue=c.overdue,
                reopened=c.reopened,
            ),
            "indicators": {
                key: IndicatorOut(
                    name=i.name,
                    value=None if i.figure.value is None else round(i.figure.value, 3),
                    unit=UNITS.get(i.unit, "%"),
                    target=i.target,
                    met=i.met,
                    numerator=i.figure.numerator,
                    denominator=i.figure.denominator,
                )
                for key, i in report.indicators.items()
            },
        }
    )


From = Annotated[
    datetime | None,
    Query(alias="from", description="jobs raised at or after (default: 30 days before `to`)"),
]
To = Annotated[datetime | None, Query(alias="to", description="jobs raised before (default: now)")]


def scope_buildings(
    state: AppState, session: Session, building: str | None, site: str | None
) -> kpi.Buildings:
    """What a caller's figures count: the building asked for, else the buildings of the site
    asked for or of every site they see (None: every building, the portfolio's)."""
    access = access_of(session).narrow(site)
    if building is not None:
        access.check(state.sites.site_of(building), f"building {building!r}")
        return building
    if access.sites is None:
        return None
    return frozenset(state.sites.buildings(access.sites))


@router.get("/kpis", response_model=KpiOut)
def kpis(
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    building: BuildingQuery = None,
    site: SiteQuery = None,
    start: From = None,
    end: To = None,
) -> Response:
    """MTTA and MTTR (seconds), repairs completed on time, equipment / fire facilities /
    lighting in good order, PM on time, repeat faults, follow-up visits, upheld complaints and
    jobs told and acknowledged within the dispatch time (percent), reporters' satisfaction
    (1 to 5), each with its target, and the period's
    counts. Definitions: docs/kpis.md."""
    check_building(state, building)
    now = state.clock()
    start, end = period(start, end, now)
    return answer(session, measure(state, session, building, site, start, end))


def measure(
    state: AppState,
    session: Session,
    building: str | None,
    site: str | None,
    start: datetime,
    end: datetime,
) -> KpiOut:
    """The figures of a building, a site or the caller's every site, for `[start, end)`."""
    report = kpi.compute(
        session,
        building=scope_buildings(state, session, building, site),
        start=start,
        end=end,
        now=state.clock(),
        targets=state.sla.targets,
        dispatch_s=state.sla.dispatch,
    )
    return kpi_out(report, site)


@router.get("/kpis/sites", response_model=SiteKpisOut)
def kpis_by_site(
    state: StateDep, session: SessionDep, user: CurrentUser, start: From = None, end: To = None
) -> Response:
    """The indicators of each site the caller sees, side by side, and of all of them
    together (the portfolio); the same figures as `/api/kpis?site=`."""
    start, end = period(start, end, state.clock())
    access = access_of(session)
    seen = [s for s in state.served_sites if access.sees(s)]
    return answer(
        session,
        SiteKpisOut(
            portfolio=measure(state, session, None, None, start, end),
            sites=[measure(state, session, None, s, start, end) for s in seen],
        ),
    )
