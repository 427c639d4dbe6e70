"""The reporter's "fixed?": once the job is resolved its reporters are asked. Yes closes it as
confirmed; no reopens it (counted against the repair, its clocks start again); no answer
within the site's timeout closes it as unconfirmed, counted apart from the confirmed ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import WorkOrderStatus
from cloud.errors import Conflict, NotFound
from cloud.locale import N_
from cloud.locale.composed import compose
from cloud.requests.config import DeskConfig
from cloud.requests.model import CONFIRMED, NOT_FIXED, UNCONFIRMED, RepairRequest
from cloud.requests.updates import BATCH, sync
from cloud.sla import SlaPolicy
from cloud.workorders.commands import close_verified
from cloud.workorders.creation import reopen
from cloud.workorders.load import load_for_change

S = WorkOrderStatus


def by_token(session: Session, token: str) -> RepairRequest:
    found = None
    if 10 <= len(token) <= 43:
        found = session.scalar(select(RepairRequest).where(RepairRequest.token == token))
    if found is None:
        raise NotFound("no request has this reference")
    return found


def _siblings(session: Session, work_order_id: int) -> list[int]:
    return list(
        session.scalars(
            select(RepairRequest.id).where(RepairRequest.work_order_id == work_order_id)
        )
    )


def answer(
    session: Session,
    token: str,
    *,
    fixed: bool,
    now: datetime,
    sla: SlaPolicy,
    config: DeskConfig,
) -> RepairRequest:
    """The reporter's answer to "fixed?"; Conflict when they were not asked or already
    answered."""
    request = by_token(session, token)
    if request.work_order_id is None:
        raise Conflict("this request has no job to confirm", code="no_job")
    sync(session, config, request_ids=[request.id])
    if request.confirm_asked_at is None:
        raise Conflict("the repair is not done yet; there is nothing to confirm", code="not_asked")
    if request.confirmation is not None:
        raise Conflict(
            f"this request was already answered ({request.confirmation})", code="already_answered"
        )
    wo = load_for_change(session, request.work_order_id)
    request.answered_at = now
    mark = {"request": request.id}
    if fixed:
        request.confirmation = CONFIRMED
        if wo.status is S.RESOLVED:
            close_verified(
                session,
                wo,
                now=now,
                note=compose(N_("the reporter confirmed the fix")),
                details={"confirmation": CONFIRMED, **mark},
            )
    else:
        request.confirmation = NOT_FIXED
        if wo.status in (S.RESOLVED, S.CLOSED):
            reopen(
                session,
                wo,
                alarm=None,
                now=now,
                sla=sla,
                note=compose(N_("the reporter says it is not fixed")),
                details={"confirmation": NOT_FIXED, **mark},
            )
    session.flush()
    sync(session, config, request_ids=_siblings(session, wo.id))
    return request


def close_unanswered(session: Session, config: DeskConfig, *, now: datetime) -> int:
    """Requests asked "fixed?" more than the timeout ago and not answered: marked unconfirmed,
    and their job, if still resolved, closed as unconfirmed. The number of jobs closed."""
    late = session.scalars(
        select(RepairRequest)
        .where(
            RepairRequest.confirm_asked_at <= now - config.confirm_timeout,
            RepairRequest.confirmation.is_(None),
            RepairRequest.work_order_id.is_not(None),
        )
        .order_by(RepairRequest.id)
        .limit(BATCH)
    ).all()
    closed = 0
    hours = config.confirm_timeout.total_seconds() / 3600
    for request in late:
        request.confirmation = UNCONFIRMED
        assert request.work_order_id is not None
        wo = load_for_change(session, request.work_order_id)
        if wo.status is S.RESOLVED:
            close_verified(
                session,
                wo,
                now=now,
                note=compose(
                    N_("closed unconfirmed: no answer from the reporter within %(hours)s h"),
                    hours=hours,
                ),
                details={"confirmation": UNCONFIRMED},
            )
            closed += 1
    session.flush()
    if late:
        ids = {i for r in late if r.work_order_id for i in _siblings(session, r.work_order_id)}
        sync(session, config, request_ids=sorted(ids))
    return closed
