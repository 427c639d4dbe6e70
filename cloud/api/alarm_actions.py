"""Acting on alarms: acknowledging one; and the building incidents alarms are folded into."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud import alarms, incidents
from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, SessionDep, StateDep
from cloud.enums import AlarmState
from cloud.models import Incident
from cloud.schemas import AlarmOut, ErrorBody

router = APIRouter(tags=["alarms"], responses=AUTH_RESPONSES)


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class AlarmAckOut(AlarmOut):
    lifecycle: str


class IncidentOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    building: str
    kind: str
    state: AlarmState
    title: str
    devices_lost: int
    started_at: datetime
    cleared_at: datetime | None
    alarm_ids: list[int]
    work_orders: list[str]

    @classmethod
    def of(cls, i: Incident) -> IncidentOut:
        return cls(
            id=i.id,
            building=i.building,
            kind=i.kind,
            state=i.state,
            title=i.title,
            devices_lost=i.devices_lost,
            started_at=i.started_at,
            cleared_at=i.cleared_at,
            alarm_ids=[a.id for a in i.alarms],
            work_orders=[w.number for w in i.work_orders],
        )


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
    alarm = alarms.acknowledge(
        session, alarm_id, user=user, now=state.clock(), note=body.note if body else None
    )
    session.commit()
    out = AlarmOut.of(alarm)
    return AlarmAckOut(**out.model_dump(), lifecycle=alarms.lifecycle(alarm))


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
) -> list[IncidentOut]:
    """Building outages, newest first, with the alarms folded into each and its work orders."""
    return [IncidentOut.of(i) for i in incidents.incidents(session, building=building)]
