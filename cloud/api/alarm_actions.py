"""Acting on alarms: acknowledging one; and the building incidents alarms are folded into."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud import faults
from cloud.alarms import service as alarms
from cloud.alarms.schemas import AcknowledgeIn, AlarmAckOut, AlarmOut
from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, SessionDep, StateDep
from cloud.incidents import service as incidents
from cloud.incidents.schemas import IncidentOut
from cloud.schemas import ErrorBody

router = APIRouter(tags=["alarms"], responses=AUTH_RESPONSES)


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    response_model=AlarmAckOut,
    responses={
        404: {"model": ErrorBody, "description": "no such alarm"},
        409: {"model": ErrorBody, "description": "already acknowledged"},
    },
)
def acknowledge_alarm(
    alarm_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    session: SessionDep,
    state: StateDep,
    user: CurrentUser,
    body: AcknowledgeIn | None = None,
) -> AlarmAckOut:
    """Record that the caller has seen the alarm (who and when). It stays active until the
    equipment says the fault is gone."""
    alarm = faults.acknowledge(
        session, alarm_id, user=user, now=state.clock(), note=body.note if body else None
    )
    session.commit()
    out = AlarmOut.model_validate(alarm)
    return AlarmAckOut(**out.model_dump(), lifecycle=alarms.lifecycle(alarm))


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
) -> list[IncidentOut]:
    """Building outages, newest first, with the alarms folded into each and its work orders."""
    return [IncidentOut.model_validate(i) for i in incidents.incidents(session, building=building)]
