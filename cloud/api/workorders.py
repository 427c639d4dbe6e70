"""Work orders: list, read, ask for one, and move one through its life."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from cloud import workorders
from cloud.api.errors import AUTH_RESPONSES
from cloud.deps import CurrentUser, SessionDep, StateDep
from cloud.enums import Channel, Priority, WorkOrderKind, WorkOrderStatus
from cloud.errors import NotFound
from cloud.models import User
from cloud.schemas import ActionIn, ErrorBody, RequestIn, WorkOrderDetail, WorkOrderPage
from cloud.schemas import WorkOrderOut as Out
from cloud.state import AppState
from cloud.workorders import Action

MAX_ID_DIGITS = 18  # fits a 64-bit integer column on every database

router = APIRouter(prefix="/work-orders", tags=["work orders"], responses=AUTH_RESPONSES)

ACTION_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorBody, "description": "the caller's role or ownership does not allow it"},
    404: {"model": ErrorBody, "description": "no such work order"},
    409: {"model": ErrorBody, "description": "not allowed in the work order's current status"},
}


def _id(session: SessionDep, ref: str) -> int:
    """A work order by id (`42`) or number (`WO-000042`)."""
    if ref.isdigit() and len(ref) <= MAX_ID_DIGITS:
        return int(ref)
    upper = ref.upper()
    if upper.startswith("WO-") and upper[3:].isdigit():
        found = workorders.by_number(session, upper)
        if found is not None:
            return found
    raise NotFound(f"work order {ref!r} does not exist")


@router.get("", response_model=WorkOrderPage)
def list_work_orders(
    session: SessionDep,
    user: CurrentUser,
    status_: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    building: Annotated[str | None, Query()] = None,
    equipment_id: Annotated[str | None, Query()] = None,
    kind: Annotated[WorkOrderKind | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="username")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WorkOrderPage:
    filters = workorders.Filters(
        status=status_,
        priority=priority,
        building=building,
        equipment_id=equipment_id,
        kind=kind,
        assignee=assignee,
    )
    items, total = workorders.search(session, filters, limit=limit, offset=offset)
    return WorkOrderPage(items=[Out.of(w) for w in items], total=total, limit=limit, offset=offset)


@router.post("", response_model=WorkOrderDetail, status_code=status.HTTP_201_CREATED)
def create_request(
    body: RequestIn, state: StateDep, session: SessionDep, user: CurrentUser
) -> WorkOrderDetail:
    wo = workorders.create_request(
        session,
        user=user,
        title=body.title,
        description=body.description,
        priority=body.priority,
        equipment_id=body.equipment_id,
        building=body.building,
        now=state.clock(),
        sla=state.sla,
        channel=Channel(body.channel),
    )
    session.commit()
    return WorkOrderDetail.of(workorders.get(session, wo.id, with_events=True))


@router.get("/{ref}", response_model=WorkOrderDetail, responses={404: {"model": ErrorBody}})
def get_work_order(ref: str, session: SessionDep, user: CurrentUser) -> WorkOrderDetail:
    return WorkOrderDetail.of(workorders.get(session, _id(session, ref), with_events=True))


def _act(
    action: Action,
    ref: str,
    body: ActionIn | None,
    state: AppState,
    session: SessionDep,
    user: User,
) -> WorkOrderDetail:
    body = body or ActionIn()
    wo = workorders.act(
        session,
        _id(session, ref),
        action,
        user=user,
        now=state.clock(),
        channel=Channel(body.channel),
        note=body.note,
    )
    session.commit()
    return WorkOrderDetail.of(workorders.get(session, wo.id, with_events=True))


OptionalBody = Annotated[ActionIn | None, Body()]


@router.post("/{ref}/acknowledge", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def acknowledge(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """Take the job: the caller becomes its assignee (technician or supervisor)."""
    return _act(Action.ACKNOWLEDGE, ref, body, state, session, user)


@router.post("/{ref}/start", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def start(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """Work has begun on site."""
    return _act(Action.START, ref, body, state, session, user)


@router.post("/{ref}/hold", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def hold(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """Postpone (a note saying why is required; a technician may postpone a job once)."""
    return _act(Action.HOLD, ref, body, state, session, user)


@router.post("/{ref}/resume", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def resume(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    return _act(Action.RESUME, ref, body, state, session, user)


@router.post("/{ref}/resolve", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def resolve(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """The work is done; a fault job only once telemetry shows the fault cleared."""
    return _act(Action.RESOLVE, ref, body, state, session, user)


@router.post("/{ref}/close", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def close(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """Confirmed done (supervisor or admin)."""
    return _act(Action.CLOSE, ref, body, state, session, user)


@router.post("/{ref}/cancel", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def cancel(
    ref: str, state: StateDep, session: SessionDep, user: CurrentUser, body: OptionalBody = None
) -> WorkOrderDetail:
    """Not needed after all (supervisor or admin; a note saying why is required)."""
    return _act(Action.CANCEL, ref, body, state, session, user)
