"""Work orders: list, read, ask for one, move one through its life, assign, postpone,
comment, attach, tick a checklist and record follow-up visits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response, status
from sqlalchemy import select

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.idempotency import ActionId, once
from cloud.api.language import reader
from cloud.api.params import Limit, Offset
from cloud.api.times import query_time
from cloud.deps import AnyUser, CurrentUser, SessionDep, SiteQuery, StateDep, answer, one_writer
from cloud.enums import Channel, Priority, WorkOrderKind, WorkOrderStatus
from cloud.errors import InvalidInput, NotFound
from cloud.locale import Text
from cloud.schemas import READER
from cloud.users.contractors import visible_teams
from cloud.users.model import User
from cloud.users.sites import access_of, act_at, check_place
from cloud.workorders import commands, creation, queries, steps
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import Action, moves_in_progress
from cloud.workorders.schemas import (
    ActionIn,
    AssignIn,
    AttachmentIn,
    AttachmentOut,
    AuditEventOut,
    CheckIn,
    CommentIn,
    CommentOut,
    FollowUpIn,
    PostponeIn,
    RequestIn,
    WorkOrderDetail,
    WorkOrderOut,
    WorkOrderPage,
)

MAX_ID_DIGITS = 18  # fits a 64-bit integer column on every database

router = APIRouter(prefix="/work-orders", tags=["work orders"], responses=AUTH_RESPONSES)

ACTION_ERRORS = errors(
    {
        403: "the caller's role or ownership does not allow it",
        404: "no such work order",
        409: "not allowed in the work order's current status",
    }
)
NOT_FOUND = errors({404: "no such work order"})

Ref = Annotated[
    str,
    Path(description="the work order's id (`42`) or number (`WO-000042`)", examples=["WO-000042"]),
]


def _id(session: SessionDep, ref: str, user: User) -> int:
    """A work order by id (`42`) or number (`WO-000042`) that `user` may see: a contractor
    is told that another team's job does not exist (404, so ids do not leak)."""
    found: int | None = None
    if ref.isascii() and ref.isdigit() and len(ref) <= MAX_ID_DIGITS:
        found = int(ref)
    else:
        upper = ref.upper()
        if upper.startswith("WO-") and upper[3:].isdigit():
            found = queries.by_number(session, upper)
    if found is None:
        raise NotFound(f"work order {ref!r} does not exist")
    teams = visible_teams(session, user)
    sites = access_of(session).sites  # another site's job does not exist either
    if (teams is not None or sites is not None) and not queries.of_teams(
        session, found, teams, sites
    ):
        raise NotFound(f"work order {ref!r} does not exist")
    if access_of(session).roles:  # a person of some sites acts with their role at the job's
        act_at(session, user, session.scalar(select(WorkOrder.site).where(WorkOrder.id == found)))
    return found


def _detail(session: SessionDep, wo: WorkOrder, text: Text, status_code: int = 200) -> Response:
    """Answer with the work order as it now is (the service functions keep its relationships
    current), committing first so that a failed commit is the answer; the shipped plans' and
    rules' texts in the language of `text`."""
    session.flush()
    return answer(session, WorkOrderDetail.model_validate(wo, context={READER: text}), status_code)


@router.get("", response_model=WorkOrderPage)
def list_work_orders(
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    status_: Annotated[
        list[WorkOrderStatus] | None,
        Query(alias="status", description="repeat for several: `?status=open&status=on_hold`"),
    ] = None,
    priority: Annotated[list[Priority] | None, Query(description="may repeat")] = None,
    building: Annotated[str | None, Query()] = None,
    equipment_id: Annotated[str | None, Query()] = None,
    kind: Annotated[WorkOrderKind | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="username")] = None,
    team: Annotated[str | None, Query(description="team name")] = None,
    created_from: Annotated[
        datetime | None, Query(alias="from", description="raised at or after (ISO 8601)")
    ] = None,
    created_to: Annotated[
        datetime | None, Query(alias="to", description="raised before (ISO 8601)")
    ] = None,
    overdue: Annotated[bool, Query(description="only live jobs with a clock past due now")] = False,
    at_risk: Annotated[
        bool,
        Query(description="only live jobs not yet overdue with a clock in its last 20 % now"),
    ] = False,
    unassigned: Annotated[bool, Query(description="only jobs without an assignee")] = False,
    site: SiteQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Work orders, newest first, `limit` at a time from `offset`; `total` counts them all.
    A contractor gets their own teams' only; a person of some sites, those sites' only."""
    bounds = [query_time(v, n) for v, n in ((created_from, "from"), (created_to, "to"))]
    if bounds[0] and bounds[1] and bounds[1] <= bounds[0]:
        raise InvalidInput("query.to: must be later than `from`")
    filters = queries.Filters(
        status=status_,
        priority=priority,
        building=building,
        equipment_id=equipment_id,
        kind=kind,
        assignee=assignee,
        team=team,
        created_from=bounds[0],
        created_to=bounds[1],
        overdue_at=state.clock() if overdue else None,
        at_risk_at=state.clock() if at_risk else None,
        unassigned=unassigned,
        team_ids=None if (mine := visible_teams(session, user)) is None else frozenset(mine),
        sites=access_of(session).narrow(site).sites,
    )
    found = queries.search(session, filters, limit=limit, offset=offset)
    context = {READER: reader(state, user)}
    items = [WorkOrderOut.model_validate(item, context=context) for item in found.items]
    page = WorkOrderPage(items=items, total=found.total, limit=limit, offset=offset)
    return answer(session, page)


@router.post("", response_model=WorkOrderDetail, status_code=status.HTTP_201_CREATED)
def create_request(
    body: RequestIn, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Ask for work (a reported problem): anyone signed in. Due times come from the priority;
    the job goes to the team of its building and its equipment's trade."""
    equipment = check_place(session, body.equipment_id, body.building, body.site)
    wo = creation.create_request(
        session,
        user=user,
        title=body.title,
        description=body.description,
        priority=body.priority,
        equipment_id=body.equipment_id,
        site=equipment.site if equipment is not None else None,
        building=body.building,
        now=state.clock(),
        sla=state.sla,
        channel=Channel(body.channel),
        location=body.location,
    )
    return _detail(session, wo, reader(state, user), status.HTTP_201_CREATED)


@router.get("/{ref}", response_model=WorkOrderDetail, responses=NOT_FOUND)
def get_work_order(ref: Ref, state: StateDep, session: SessionDep, user: AnyUser) -> Response:
    """One work order with its alarm, attachments, comments and audit trail."""
    return answer(
        session,
        WorkOrderDetail.model_validate(
            queries.get(session, _id(session, ref, user), with_events=True),
            context={READER: reader(state, user)},
        ),
    )


@router.get("/{ref}/audit", response_model=list[AuditEventOut], responses=NOT_FOUND)
def audit_trail(ref: Ref, state: StateDep, session: SessionDep, user: AnyUser) -> Response:
    """The complete audit trail, oldest first, with each event's structured details (an
    escalation's recipients, a postponement's times, …), in the caller's language."""
    wo = queries.get(session, _id(session, ref, user), with_events=True)
    context = {READER: reader(state, user)}
    return answer(session, [AuditEventOut.model_validate(e, context=context) for e in wo.events])


OptionalBody = Annotated[ActionIn | None, Body()]

ACTION_DOCS: dict[Action, str] = {  # each action route's description, as FastAPI cleans it
    Action.ACKNOWLEDGE: """
    Take the job: the caller becomes its owner (first responder) and the acknowledgement
    clock stops. A job a supervisor assigned is acknowledged by its assignee.""",
    Action.START: "Work has begun on site (stops the on-site clock).",
    Action.HOLD: """
    Pause the work (a note saying why is required; a technician may hold a job once).""",
    Action.RESUME: "",
    Action.RESOLVE: """
    The work is done (a note saying what was done is required). A fault job only once
    telemetry shows the fault cleared; a PM job only with its checklist done (it then closes
    at once).""",
    Action.CLOSE: """
    Confirmed done (supervisor or admin). A fault job closes by itself once its fault has
    stayed cleared for the verification window, and not before.""",
    Action.CANCEL: "Not needed after all (supervisor or admin; a note saying why is required).",
}


def _action_route(action: Action) -> Callable[..., Response]:
    """The route that moves a work order through `action` (one per action, same shape)."""

    def route(
        ref: Ref,
        state: StateDep,
        session: SessionDep,
        user: AnyUser,
        body: OptionalBody = None,
        key: ActionId = None,
    ) -> Response:
        body = body or ActionIn()
        work_order_id = _id(session, ref, user)
        with one_writer(session):
            wo = once(
                session,
                key,
                lambda: commands.act(
                    session,
                    work_order_id,
                    action,
                    user=user,
                    now=state.clock(),
                    channel=Channel(body.channel),
                    note=body.note,
                    sla=state.sla,
                ),
                lambda _event: queries.get(session, work_order_id, with_events=True),
            )
            is_pm = wo.kind is WorkOrderKind.PM
            response = _detail(session, wo, reader(state, user))
        if state.maintenance is not None and is_pm and moves_in_progress(action):
            state.maintenance.wake()  # a PM job in or out of progress: its maintenance window
        return response

    route.__name__ = route.__qualname__ = action.value
    route.__doc__ = ACTION_DOCS[action]
    return route


for _action in Action:
    router.add_api_route(
        f"/{{ref}}/{_action.value}",
        _action_route(_action),
        methods=["POST"],
        response_model=WorkOrderDetail,
        responses=ACTION_ERRORS,
    )


@router.post("/{ref}/assign", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def assign(
    ref: Ref, body: AssignIn, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Give the job to a technician or supervisor, or take it from one to another
    (supervisor or admin). An unacknowledged job is dispatched to the new assignee."""
    wo = commands.assign(
        session,
        _id(session, ref, user),
        body.assignee,
        user=user,
        now=state.clock(),
        channel=Channel(body.channel),
        note=body.note,
    )
    return _detail(session, wo, reader(state, user))


@router.post("/{ref}/postpone", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def postpone(
    ref: Ref, body: PostponeIn, state: StateDep, session: SessionDep, user: AnyUser
) -> Response:
    """Move the promised completion to `until`, with a reason: once per job (a second
    postponement is `409 already_postponed`), never more than a week after the job was raised."""
    wo = commands.postpone(
        session,
        _id(session, ref, user),
        body.until,
        user=user,
        now=state.clock(),
        sla=state.sla,
        channel=Channel(body.channel),
        note=body.note,
    )
    return _detail(session, wo, reader(state, user))


@router.post(
    "/{ref}/comments",
    response_model=CommentOut,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def add_comment(
    ref: Ref,
    body: CommentIn,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    key: ActionId = None,
) -> Response:
    """A remark on the job, by anyone signed in; it joins the audit trail."""
    work_order_id = _id(session, ref, user)
    event = once(
        session,
        key,
        lambda: commands.comment(
            session,
            work_order_id,
            body.text,
            user=user,
            now=state.clock(),
            channel=Channel(body.channel),
        ),
        lambda done: done,
    )
    return answer(session, CommentOut.model_validate(event), status.HTTP_201_CREATED)


@router.post(
    "/{ref}/attachments",
    response_model=AttachmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def add_attachment(
    ref: Ref, body: AttachmentIn, state: StateDep, session: SessionDep, user: AnyUser
) -> Response:
    """Attach a photo or document by reference: its http(s) URL and a name."""
    attachment = commands.attach(
        session,
        _id(session, ref, user),
        url=body.url,
        name=body.name,
        user=user,
        now=state.clock(),
        channel=Channel(body.channel),
    )
    return answer(session, AttachmentOut.model_validate(attachment), status.HTTP_201_CREATED)


@router.post("/{ref}/follow-up", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def follow_up(
    ref: Ref, body: FollowUpIn, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """Record a post-repair visit (or call) on a resolved or closed repair; sets its
    follow-up flag, which the follow-up rate counts."""
    wo = commands.record_follow_up(
        session,
        _id(session, ref, user),
        user=user,
        now=state.clock(),
        channel=Channel(body.channel),
        note=body.note,
    )
    return _detail(session, wo, reader(state, user))


@router.post("/{ref}/checklist/{index}", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def check_item(
    ref: Ref,
    index: Annotated[int, Path(ge=0, le=999, description="the item's position, from 0")],
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    body: Annotated[CheckIn | None, Body()] = None,
) -> Response:
    """Tick (`{"done": true}`, the default) or untick an item of a PM job's checklist."""
    body = body or CheckIn()
    wo = steps.check_item(
        session,
        _id(session, ref, user),
        index,
        done=body.done,
        user=user,
        now=state.clock(),
        channel=Channel(body.channel),
        note=body.note,
    )
    return _detail(session, wo, reader(state, user))
