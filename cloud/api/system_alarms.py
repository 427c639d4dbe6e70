"""System alarms: alarms about the service itself (an edge agent's clock, ...); anyone signed
in reads them, a supervisor or an admin acknowledges them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response

from cloud.alarms import system
from cloud.alarms.edge_clock import EDGE_CLOCK_WRONG
from cloud.alarms.edge_clock import message as edge_clock_message
from cloud.alarms.intake import TELEMETRY_INTAKE_BEHIND
from cloud.alarms.intake import message as intake_message
from cloud.alarms.model import SystemAlarm
from cloud.alarms.schemas import AcknowledgeIn, SystemAlarmDetail, SystemAlarmOut, SystemAlarmPage
from cloud.alarms.unwatched import UNWATCHED
from cloud.alarms.unwatched import message as unwatched_message
from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.language import reader
from cloud.api.params import Limit, Offset
from cloud.deps import CurrentUser, IdPath, OfficeUser, SessionDep, StateDep, answer, one_writer
from cloud.enums import AlarmState
from cloud.locale import RECORD, Text
from cloud.notify.delivery import CHANNEL_FAILING, channel_failing_message
from cloud.schemas import READER

router = APIRouter(prefix="/system-alarms", tags=["alarms"], responses=AUTH_RESPONSES)


# how each system alarm's message is written again in the reader's language
MESSAGES: dict[str, Callable[[Mapping[str, Any], Text], str]] = {
    EDGE_CLOCK_WRONG: edge_clock_message,
    CHANNEL_FAILING: channel_failing_message,
    TELEMETRY_INTAKE_BEHIND: intake_message,
    UNWATCHED: unwatched_message,
}


Out = TypeVar("Out", bound=SystemAlarmOut)


def shown(model: type[Out], alarm: SystemAlarm, text: Text) -> Out:
    """`alarm` as `model` with its message in `text`'s language; as stored (in English) when
    its code has no written message or its details lack what the message needs (an older
    alarm)."""
    out = model.model_validate(alarm, context={READER: text})
    write = MESSAGES.get(alarm.code)
    if write is None or text.language == RECORD.language:
        return out
    try:
        return out.model_copy(update={"message": write(alarm.details, text)})
    except (KeyError, TypeError, ValueError):
        return out


@router.get("", response_model=SystemAlarmPage)
def list_system_alarms(
    session: SessionDep,
    app: StateDep,
    user: CurrentUser,
    state: Annotated[AlarmState | None, Query()] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Active ones first, then the most recently raised; messages in the caller's language."""
    items, total = system.search_system_alarms(
        session, state=state, code=code, subject=subject, limit=limit, offset=offset
    )
    text = reader(app, user)
    page = SystemAlarmPage(
        items=[shown(SystemAlarmOut, a, text) for a in items],
        total=total,
        limit=limit,
        offset=offset,
    )
    return answer(session, page)


@router.get(
    "/{alarm_id}",
    response_model=SystemAlarmDetail,
    responses=errors({404: "no such system alarm"}),
)
def get_system_alarm(
    alarm_id: IdPath, session: SessionDep, state: StateDep, user: CurrentUser
) -> Response:
    """The alarm and its audit trail: raised, updated, acknowledged, cleared; its message in
    the caller's language."""
    alarm = system.get_system_alarm(session, alarm_id)
    return answer(session, shown(SystemAlarmDetail, alarm, reader(state, user)))


@router.post(
    "/{alarm_id}/acknowledge",
    response_model=SystemAlarmOut,
    responses=errors({404: "no such system alarm", 409: "already acknowledged"}),
)
def acknowledge_system_alarm(
    alarm_id: IdPath,
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
        return answer(session, shown(SystemAlarmOut, alarm, reader(state, user)))
