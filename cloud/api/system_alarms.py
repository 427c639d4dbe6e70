"""System alarms: alarms about the service itself (an edge agent's clock, ...); anyone signed
in reads them, a supervisor or an admin acknowledges them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from cloud.alarms import system
from cloud.alarms.schemas import AcknowledgeIn, SystemAlarmDetail, SystemAlarmOut, SystemAlarmPage
from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, OfficeUser, SessionDep, StateDep, answer, one_writer
from cloud.enums import AlarmState
from cloud.schemas import ErrorBody

router = APIRouter(prefix="/system-alarms", tags=["alarms"], responses=AUTH_RESPONSES)

AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=SystemAlarmPage)
def list_system_alarms(
    session: SessionDep,
    user: CurrentUser,
    state: Annotated[AlarmState | None, Query()] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Response:
    """Active ones first, then the most recently raised."""
    items, total = system.search_system_alarms(
        session, state=state, code=code, subject=subject, limit=limit, offset=offset
    )
    page = SystemAlarmPage(
        items=[SystemAlarmOut.model_validate(a) for a in items],
        total=total,
        limit=limit,
        offset=offset,
    )
    return answer(session, page)


@router.get(
    "/{alarm_id}",
    response_model=SystemAlarmDetail,
    responses={404: {"model": ErrorBody, "description": "no such system alarm"}},
)
def get_system_alarm(alarm_id: AlarmId, session: SessionDep, user: CurrentUser) -> Response:
    """The alarm and its audit trail: raised, updated, acknowledged, cleared."""
    alarm = system.get_system_alarm(session, alarm_id)
    return answer(session, SystemAlarmDetail.model_validate(alarm))


@router.post(
    "/{alarm_id}/acknowledge",
    response_model=SystemAlarmOut,
    responses={
        404: {"model": ErrorBody, "description": "no such system alarm"},
        409: {"model": ErrorBody, "description": "already acknowledged"},
    },
)
def acknowledge_system_alarm(
    alarm_id: AlarmId,
    session: SessionDep,
    state: StateDep,
    user: OfficeUser,
    body: AcknowledgeIn | None = None,
) -> Response:
    """Record that the caller (a supervisor or an admin) has seen the alarm. It stays active
    until the part of the service that raised it finds the problem gone."""
    with one_writer(session):
        alarm = system.acknowledge_system_alarm(
            session, alarm_id, user=user, now=state.clock(), note=body.note if body else None
        )
        return answer(session, SystemAlarmOut.model_validate(alarm))
