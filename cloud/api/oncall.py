"""On-call duty: who is on call now (anyone signed in), and the teams' rotas, overrides and
swaps (anyone may read them; supervisors and admins set them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.params import TeamName
from cloud.deps import CurrentUser, IdPath, OfficeUser, SessionDep, StateDep, answer
from cloud.oncall import service as oncall
from cloud.oncall.model import Rota
from cloud.oncall.rota import Shift
from cloud.oncall.schemas import (
    CoverIn,
    CoverOut,
    OnCallOut,
    RotaIn,
    RotaOut,
    ShiftOut,
    SwapIn,
)
from cloud.users.model import Team, User
from cloud.users.schemas import UserRef
from cloud.users.service import get_team
from cloud.users.sites import access_of, team_of_sites

ERRORS = errors(
    {
        403: "only supervisors and admins change rotas",
        404: "no such team, rota or cover",
        409: "too many covers not yet over",
    }
)

router = APIRouter(tags=["on call"], responses={**AUTH_RESPONSES, **ERRORS})

At = Annotated[datetime | None, Query(description="an instant with its zone; now when not given")]


def _ref(user: User | None) -> UserRef | None:
    return UserRef.model_validate(user) if user is not None else None


def _user(session: Session, user_id: int | None) -> UserRef | None:
    return _ref(session.get(User, user_id)) if user_id is not None else None


def _shift(session: Session, shift: Shift) -> ShiftOut:
    return ShiftOut(
        index=shift.index,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        scheduled=_user(session, shift.scheduled),
        backup=_user(session, shift.backup),
    )


def _when(state: StateDep, at: datetime | None) -> datetime:
    return state.clock() if at is None else oncall.instant(at, "at")


def _on_call(session: Session, team: Team, at: datetime) -> OnCallOut:
    on = oncall.on_call(session, team, at)
    return OnCallOut(
        team=team.name,
        building=team.building,
        at=at,
        has_rota=on.rota is not None,
        primary=_ref(on.primary),
        backup=_ref(on.backup),
        supervisor=_ref(on.supervisor),
        manager=_ref(on.manager),
        shift=_shift(session, on.shift) if on.shift is not None else None,
        cover=CoverOut.model_validate(on.cover) if on.cover is not None else None,
        within_hours=oncall.hours_of(on.rota).within(at) if on.rota is not None else None,
    )


def _rota(session: Session, team: Team, rota: Rota, at: datetime, count: int) -> RotaOut:
    return RotaOut(
        team=team.name,
        building=team.building,
        rotation=rota.rotation,
        handover=rota.handover,
        timezone=rota.timezone,
        starts_on=rota.starts_on,
        members=[r for r in (_user(session, m) for m in rota.members) if r is not None],
        backup=_ref(rota.backup),
        supervisor=_ref(rota.supervisor),
        manager=_ref(rota.manager),
        routine=rota.routine,
        hours_start=rota.hours_start,
        hours_end=rota.hours_end,
        work_days=rota.work_days,
        digest_at=rota.digest_at,
        shifts=[_shift(session, s) for s in oncall.shifts(rota, at, count)],
        covers=[CoverOut.model_validate(c) for c in oncall.open_covers(session, rota, at)],
    )


@router.get("/oncall", response_model=list[OnCallOut])
def who_is_on_call(
    state: StateDep,
    session: SessionDep,
    caller: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    at: At = None,
) -> Response:
    """Who is on call for each team (of `building`, and teams of every building), or for
    `team`, now or `at`."""
    when = _when(state, at)
    if team is not None:
        teams = [get_team(session, team)]
    else:
        query = select(Team).where(team_of_sites(access_of(session).sites)).order_by(Team.name)
        if building is not None:
            query = query.where(or_(Team.building == building, Team.building.is_(None)))
        teams = list(session.scalars(query))
    return answer(session, [_on_call(session, t, when) for t in teams])


@router.get("/oncall/rotas/{team}", response_model=RotaOut)
def get_rota(
    team: TeamName,
    state: StateDep,
    session: SessionDep,
    caller: CurrentUser,
    at: At = None,
    count: Annotated[int, Query(ge=1, le=oncall.MAX_SHIFTS)] = 14,
) -> Response:
    """A team's rota: its settings, the shift under way at `at` (now) and the next ones, and
    the covers not yet over."""
    found = get_team(session, team)
    rota = oncall.require_rota(session, found)
    return answer(session, _rota(session, found, rota, _when(state, at), count))


@router.put("/oncall/rotas/{team}", response_model=RotaOut)
def put_rota(
    team: TeamName, body: RotaIn, state: StateDep, session: SessionDep, caller: OfficeUser
) -> Response:
    """Give a team its rota, replacing the one it has (supervisors and admins); its
    overrides and swaps stay."""
    found = get_team(session, team)
    now = state.clock()
    zone = state.sites.get(found.site).site.timezone if found.site in state.served_sites else None
    zone = zone or state.inventory.site.timezone  # a team of every site: the first site's
    rota = oncall.set_rota(session, found, body, now=now, site_zone=zone)
    session.commit()
    return answer(session, _rota(session, found, rota, now, 7))


@router.delete("/oncall/rotas/{team}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rota(team: TeamName, session: SessionDep, caller: OfficeUser) -> Response:
    """Remove a team's rota and its covers (supervisors and admins): its jobs go to the
    whole team again."""
    session.delete(oncall.require_rota(session, get_team(session, team)))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/oncall/rotas/{team}/overrides", response_model=CoverOut, status_code=status.HTTP_201_CREATED
)
def add_override(
    team: TeamName, body: CoverIn, state: StateDep, session: SessionDep, caller: OfficeUser
) -> Response:
    """Put someone on call for a time range (supervisors and admins); it comes before the
    rotation and every cover set before it."""
    rota = oncall.require_rota(session, get_team(session, team))
    cover = oncall.add_override(session, rota, body, by=caller, now=state.clock())
    session.commit()
    return answer(session, CoverOut.model_validate(cover), status.HTTP_201_CREATED)


@router.post(
    "/oncall/rotas/{team}/swaps",
    response_model=list[CoverOut],
    status_code=status.HTTP_201_CREATED,
)
def add_swap(
    team: TeamName, body: SwapIn, state: StateDep, session: SessionDep, caller: OfficeUser
) -> Response:
    """The people on duty at `first` and `second` exchange those shifts (supervisors and
    admins): two covers, each naming the other."""
    rows = oncall.swap(session, get_team(session, team), body, by=caller, now=state.clock())
    session.commit()
    return answer(session, [CoverOut.model_validate(r) for r in rows], status.HTTP_201_CREATED)


@router.delete("/oncall/rotas/{team}/covers/{cover_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_cover(
    team: TeamName,
    cover_id: IdPath,
    session: SessionDep,
    caller: OfficeUser,
) -> Response:
    """Remove an override, or a swap (both halves) (supervisors and admins)."""
    rota = oncall.require_rota(session, get_team(session, team))
    oncall.delete_cover(session, rota, cover_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
