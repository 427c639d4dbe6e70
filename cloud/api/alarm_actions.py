"""Acting on alarms: acknowledging one; and the building incidents alarms are folded into."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud import faults
from cloud.alarms import service as alarms
from cloud.alarms.schemas import AcknowledgeIn, AlarmAckOut, AlarmOut, ShelveIn
from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.deps import CurrentUser, IdPath, SessionDep, SiteQuery, StateDep
from cloud.incidents import service as incidents
from cloud.incidents.schemas import IncidentOut
from cloud.users.sites import access_of

router = APIRouter(tags=["alarms"], responses=AUTH_RESPONSES)


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    response_model=AlarmAckOut,
    responses=errors({404: "no such alarm", 409: "already acknowledged"}),
)
def acknowledge_alarm(
    alarm_id: IdPath,
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


@router.post(
    "/alarms/{alarm_id}/shelve",
    response_model=AlarmOut,
    responses=errors({404: "no such alarm", 409: "cleared, or already shelved"}),
)
def shelve_alarm(
    alarm_id: IdPath,
    body: ShelveIn,
    session: SessionDep,
    state: StateDep,
    user: CurrentUser,
) -> AlarmOut:
    """Set an active alarm aside for 5 minutes to 24 hours with a reason: it stays active,
    and lists asked for `shelved=false` leave it out until then."""
    alarm = alarms.shelve(
        session, alarm_id, user=user, now=state.clock(), minutes=body.minutes, reason=body.reason
    )
    session.commit()
    return AlarmOut.model_validate(alarm)


@router.post(
    "/alarms/{alarm_id}/unshelve",
    response_model=AlarmOut,
    responses=errors({404: "no such alarm"}),
)
def unshelve_alarm(alarm_id: IdPath, session: SessionDep, user: CurrentUser) -> AlarmOut:
    """Put a shelved alarm back before its time (nothing happens if it was not shelved)."""
    alarm = alarms.get(session, alarm_id)
    alarms.unshelve(alarm)
    session.commit()
    return AlarmOut.model_validate(alarm)


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    building: Annotated[str | None, Query(max_length=64)] = None,
    site: SiteQuery = None,
) -> list[IncidentOut]:
    """Building outages, newest first, with the alarms folded into each and its work orders."""
    sites = access_of(session).narrow(site).sites
    found = incidents.incidents(session, building=building, sites=sites)
    return [IncidentOut.model_validate(i) for i in found]
