"""The service desk, signed in: log a phone call, read requests (reporters' contacts masked
unless the caller is a dispatcher, supervisor or admin), the follow-up call list, and the
complaint register."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.params import Limit
from cloud.api.public_requests import DeskDep
from cloud.api.workorders import _id as work_order_id
from cloud.deps import (
    CurrentUser,
    SessionDep,
    SiteQuery,
    StateDep,
    answer,
    one_writer,
    require,
)
from cloud.enums import Channel, Role
from cloud.errors import InvalidInput, NotFound
from cloud.orm import Counter
from cloud.requests import complaints, followups, intake
from cloud.requests.desk import HONEYPOT_COUNTER
from cloud.requests.model import CONFIRMED, NOT_FIXED, UNCONFIRMED, FollowUp, RepairRequest
from cloud.requests.schemas import (
    CallIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    DeskStatsOut,
    FollowUpIn,
    FollowUpOut,
    FollowUpPage,
    RequestOut,
    RequestPage,
    ResolveIn,
    complaint_out,
    follow_up_out,
    request_out,
)
from cloud.users.model import User
from cloud.users.sites import access_of, check_place, of_sites
from cloud.workorders.model import WorkOrder

router = APIRouter(tags=["service desk"], responses=AUTH_RESPONSES)
DeskUser = Annotated[User, Depends(require(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN))]
MAX_CALL_AGE_S = 86_400  # a call is logged within a day of coming in
Offset = Annotated[int, Query(ge=0, le=2**31)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the row's id")]
CONFLICT = errors({404: "no such follow-up or complaint", 409: "already recorded or resolved"})


def _out(session: SessionDep, r: RepairRequest, user: User) -> RequestOut:
    count = intake.reporters(session, r.work_order_id) if r.work_order_id else 1
    return request_out(r, user.role, count)


def _page(
    session: SessionDep,
    page: type[RequestPage | FollowUpPage | ComplaintPage],
    items: list[Any],
    total: int,
    limit: int,
    offset: int,
) -> Response:
    """One page of a listing, `items` already shaped for the caller."""
    return answer(session, page(items=items, total=total, limit=limit, offset=offset))


@router.post("/desk/calls", response_model=RequestOut, status_code=201)
def log_call(
    body: CallIn, state: StateDep, session: SessionDep, desk: DeskDep, user: DeskUser
) -> Response:
    """A phone call to the service desk: triaged like a public report (joined to the job
    already open for it, or a new job routed by category); a new job's SLA clocks start at
    `called_at`."""
    now = state.clock()
    called_at = body.called_at or now
    if called_at.tzinfo is None:
        raise InvalidInput("called_at: give a time zone (e.g. Z or +08:00)")
    if called_at > now or (now - called_at).total_seconds() > MAX_CALL_AGE_S:
        raise InvalidInput("called_at: must be within the last 24 hours, not in the future")
    report = intake.Report(
        code=body.code,
        site=body.site,
        what=body.what,
        category=body.category,
        place=body.place,
        name=body.caller,
        phone=body.phone,
        email=body.email,
        lang=body.lang,
        urgency=body.urgency,
    )
    intake.check_contact(report, contact="phone_or_email", name_required=True)
    check_place(session, body.code, body.code, body.site)  # a place of another site: none
    with one_writer(session):
        created = intake.submit(
            session,
            report,
            now=now,
            sla=state.sla,
            config=desk.config,
            user=user,
            called_at=called_at,
            channel=Channel.CONSOLE,
        )
        return answer(session, _out(session, created, user), 201)


@router.get("/requests", response_model=RequestPage)
def list_requests(
    session: SessionDep,
    user: CurrentUser,
    work_order: Annotated[str | None, Query(description="a job's id or number")] = None,
    building: Annotated[str | None, Query(max_length=64)] = None,
    site: SiteQuery = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """Requests, newest first; a job's reporters with `work_order`."""
    query = select(RepairRequest).where(
        of_sites(access_of(session).narrow(site).sites, RepairRequest.site)
    )
    if work_order is not None:
        query = query.where(RepairRequest.work_order_id == work_order_id(session, work_order, user))
    if building is not None:
        query = query.where(RepairRequest.building == building)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(RepairRequest.updates))  # each one's messages
        .order_by(RepairRequest.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return _page(session, RequestPage, [_out(session, r, user) for r in rows], total, limit, offset)


def _request(session: SessionDep, request_id: int) -> RepairRequest:
    found = session.get(RepairRequest, request_id)
    if found is None or not access_of(session).sees(found.site):  # another site's: none
        raise NotFound(f"request {request_id} does not exist")
    return found


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: RowId, session: SessionDep, user: CurrentUser) -> Response:
    return answer(session, _out(session, _request(session, request_id), user))


@router.get("/requests/{request_id}/photo", response_class=Response)
def request_photo(request_id: RowId, session: SessionDep, user: CurrentUser) -> Response:
    """The report's photo (JPEG, metadata stripped)."""
    found = _request(session, request_id)
    if found.photo is None:
        raise NotFound(f"request {request_id} has no photo")
    data = found.photo
    session.commit()
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})


@router.get("/desk/stats", response_model=DeskStatsOut)
def stats(session: SessionDep, user: DeskUser) -> Response:
    """Counts of the service desk: requests by source, merged, honeypot drops, answers to
    "fixed?", and follow-ups still to call."""
    n = RepairRequest.id
    sites = access_of(session).sites  # of the caller's sites only

    def count(*where: object) -> int:
        query = select(func.count(n)).where(of_sites(sites, RepairRequest.site), *where)  # type: ignore[arg-type]
        return session.scalar(query) or 0

    honeypot = session.scalar(select(Counter.value).where(Counter.name == HONEYPOT_COUNTER))
    body = DeskStatsOut(
        requests=count(),
        public=count(RepairRequest.source == "public"),
        desk=count(RepairRequest.source == "desk"),
        merged=count(RepairRequest.merged.is_(True)),
        honeypot_dropped=honeypot or 0,
        confirmed=count(RepairRequest.confirmation == CONFIRMED),
        not_fixed=count(RepairRequest.confirmation == NOT_FIXED),
        unconfirmed=count(RepairRequest.confirmation == UNCONFIRMED),
        follow_ups_pending=session.scalar(
            select(func.count(FollowUp.id)).where(
                FollowUp.sampled.is_(True),
                FollowUp.reached.is_not(True),
                of_sites(sites, work_order=FollowUp.work_order_id),
            )
        )
        or 0,
    )
    return answer(session, body)


@router.get("/follow-ups", response_model=FollowUpPage)
def call_list(
    session: SessionDep,
    user: DeskUser,
    pending: Annotated[bool, Query(description="only those not yet reached")] = True,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The follow-up call list: closed repairs sampled for a call, oldest first."""
    items, total = followups.call_list(session, pending=pending, limit=limit, offset=offset)
    return _page(session, FollowUpPage, [follow_up_out(f) for f in items], total, limit, offset)


@router.post("/follow-ups/{follow_up_id}", response_model=FollowUpOut, responses=CONFLICT)
def record_follow_up(
    follow_up_id: RowId, body: FollowUpIn, state: StateDep, session: SessionDep, user: DeskUser
) -> Response:
    """What the call found: reached (with satisfaction 1 to 5 and a comment) or not reached."""
    with one_writer(session):
        found = followups.record(
            session,
            follow_up_id,
            user=user,
            reached=body.reached,
            satisfaction=body.satisfaction,
            comment=body.comment,
            now=state.clock(),
        )
        return answer(session, follow_up_out(found))


@router.post("/complaints", response_model=ComplaintOut, status_code=201)
def log_complaint(
    body: ComplaintIn, state: StateDep, session: SessionDep, user: DeskUser
) -> Response:
    """Register a complaint, about a job or standalone, with the person who owns it."""
    wo = None
    if body.work_order is not None:
        wo = session.get(WorkOrder, work_order_id(session, body.work_order, user))
    if body.building is not None and body.building not in state.sites.buildings():
        raise InvalidInput(f"building: {body.building!r} is not in the inventory")
    check_place(session, None, body.building)
    with one_writer(session):
        complaint = complaints.log_complaint(
            session,
            user=user,
            summary=body.summary,
            owner=body.owner,
            now=state.clock(),
            work_order=wo,
            building=body.building,
            complainant=body.complainant,
            contact=body.contact,
            received_at=body.received_at,
        )
        return answer(session, complaint_out(complaint, user.role), 201)


@router.get("/complaints", response_model=ComplaintPage)
def list_complaints(
    session: SessionDep,
    user: CurrentUser,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """The register, newest first; complainants' contacts masked outside the desk."""
    items, total = complaints.search(session, open_only=open_only, limit=limit, offset=offset)
    shown = [complaint_out(c, user.role) for c in items]
    return _page(session, ComplaintPage, shown, total, limit, offset)


@router.post("/complaints/{complaint_id}/resolve", response_model=ComplaintOut, responses=CONFLICT)
def resolve_complaint(
    complaint_id: RowId, body: ResolveIn, state: StateDep, session: SessionDep, user: DeskUser
) -> Response:
    """Close a complaint with its resolution and whether it was upheld."""
    with one_writer(session):
        complaint = complaints.resolve(
            session,
            complaint_id,
            user=user,
            resolution=body.resolution,
            valid=body.valid,
            now=state.clock(),
        )
        return answer(session, complaint_out(complaint, user.role))
