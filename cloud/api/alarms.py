"""Alarms: what the rules have raised."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cloud.alarms import service as alarms
from cloud.alarms.schemas import AlarmOut, AlarmPage
from cloud.api.errors import AUTH_RESPONSES
from cloud.api.language import reader
from cloud.api.params import Limit, Offset
from cloud.deps import CurrentUser, IdPath, SessionDep, SiteQuery, StateDep, answer
from cloud.enums import AlarmState
from cloud.schemas import READER
from cloud.users.sites import access_of

router = APIRouter(prefix="/alarms", tags=["alarms"], responses=AUTH_RESPONSES)


@router.get("", response_model=AlarmPage)
def list_alarms(
    session: SessionDep,
    app_state: StateDep,
    user: CurrentUser,
    state: Annotated[AlarmState | None, Query()] = None,
    equipment_id: Annotated[str | None, Query()] = None,
    building: Annotated[str | None, Query()] = None,
    shelved: Annotated[
        bool | None, Query(description="true: only shelved now; false: only the others")
    ] = None,
    site: SiteQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    items, total = alarms.search(
        session,
        state=state,
        equipment_id=equipment_id,
        building=building,
        shelved=shelved,
        now=app_state.clock(),
        sites=access_of(session).narrow(site).sites,
        limit=limit,
        offset=offset,
    )
    context = {READER: reader(app_state, user)}
    page = AlarmPage(
        items=[AlarmOut.model_validate(a, context=context) for a in items],
        total=total,
        limit=limit,
        offset=offset,
    )
    return answer(session, page)


@router.get("/{alarm_id}", response_model=AlarmOut)
def get_alarm(
    alarm_id: IdPath,
    session: SessionDep,
    app_state: StateDep,
    user: CurrentUser,
) -> Response:
    """One alarm; a shipped rule's title in its message is in the caller's language."""
    found = alarms.get(session, alarm_id)
    return answer(
        session, AlarmOut.model_validate(found, context={READER: reader(app_state, user)})
    )
