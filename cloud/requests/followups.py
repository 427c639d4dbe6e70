"""Follow-up calls after repairs. Each closed repair (fault or request job) is decided once:
on the call list or not. The decision is a hash of the job's number: the first 8 bytes of
SHA-256(number) as a fraction of 2^64, below the share → sampled. So it is

- deterministic: the same job always gets the same answer, on every process and restart,
  and anyone can check it;
- fair: it does not depend on the team, the technician, the outcome or the time of closing
  (the number is given when the job is raised, before anyone knows how it will go), and
  over many jobs the share sampled converges on the setting.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.enums import Channel, Role, WorkOrderStatus
from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.locale import N_
from cloud.locale.composed import compose
from cloud.requests.model import FollowUp
from cloud.users.model import User
from cloud.users.sites import access_of, of_sites
from cloud.workorders.audit import record_change
from cloud.workorders.load import load_for_change
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import REPAIRS

CALLERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
BATCH = 500
MAX_COMMENT = 2000


def sampled(number: str, share_pct: float) -> bool:
    """Whether job `number` is on the call list when `share_pct` percent are."""
    fraction = int.from_bytes(hashlib.sha256(number.encode()).digest()[:8], "big") / 2**64
    return fraction < share_pct / 100


def sample_closed(session: Session, *, now: datetime, share_pct: float) -> int:
    """Decide the closed repairs not yet decided (up to `BATCH`); the number put on the list."""
    jobs = session.execute(
        select(WorkOrder.id, WorkOrder.number)
        .outerjoin(FollowUp, FollowUp.work_order_id == WorkOrder.id)
        .where(
            WorkOrder.status == WorkOrderStatus.CLOSED,
            WorkOrder.kind.in_(REPAIRS),
            FollowUp.id.is_(None),
        )
        .order_by(WorkOrder.id)
        .limit(BATCH)
    ).all()
    chosen = 0
    for wo_id, number in jobs:
        pick = sampled(number, share_pct)
        session.add(FollowUp(work_order_id=wo_id, decided_at=now, sampled=pick, attempts=0))
        chosen += pick
    session.flush()
    return chosen


def record(
    session: Session,
    follow_up_id: int,
    *,
    user: User,
    reached: bool,
    satisfaction: int | None,
    comment: str | None,
    now: datetime,
) -> FollowUp:
    """What a follow-up call found. Reaching the reporter (with a score of 1 to 5) records a
    follow-up visit on the job; not reaching them counts an attempt and leaves it listed."""
    if user.role not in CALLERS:
        allowed = ", ".join(sorted(r.value for r in CALLERS))
        raise Forbidden(f"the {user.role.value} role may not record follow-ups ({allowed})")
    follow_up = session.get(FollowUp, follow_up_id)
    sites = access_of(session).sites
    if follow_up is not None and sites is not None:  # another site's: not on their list
        site = session.scalar(select(WorkOrder.site).where(WorkOrder.id == follow_up.work_order_id))
        follow_up = follow_up if site in sites else None
    if follow_up is None or not follow_up.sampled:
        raise NotFound(f"follow-up {follow_up_id} is not on the call list")
    if follow_up.reached:
        raise Conflict(f"follow-up {follow_up_id} was already recorded", code="already_recorded")
    if reached and satisfaction is None:
        raise InvalidInput("satisfaction: required (1 to 5) when the reporter was reached")
    if not reached and satisfaction is not None:
        raise InvalidInput("satisfaction: only when the reporter was reached")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidInput(f"comment: more than {MAX_COMMENT} characters")
    follow_up.attempts += 1
    follow_up.reached = reached
    follow_up.satisfaction = satisfaction
    follow_up.comment = (comment or "").strip() or None
    follow_up.caller = user
    follow_up.recorded_at = now
    if reached and satisfaction is not None:  # one goes with the other (checked above)
        wo = load_for_change(session, follow_up.work_order_id)
        wo.follow_up = True
        wo.follow_up_at = now
        record_change(
            session,
            wo,
            at=now,
            action="follow_up",
            actor=user,
            channel=Channel.API,
            note=compose(
                N_("satisfaction %(score)s/5: %(comment)s"),
                score=satisfaction,
                comment=follow_up.comment,
            )
            if follow_up.comment
            else compose(N_("satisfaction %(score)s/5"), score=satisfaction),
            details={"satisfaction": satisfaction},
        )
    session.flush()
    return follow_up


def call_list(
    session: Session, *, pending: bool, limit: int, offset: int
) -> tuple[list[FollowUp], int]:
    """Sampled follow-ups, oldest first: only those not yet reached when `pending`."""
    query = select(FollowUp).where(
        FollowUp.sampled.is_(True),
        of_sites(access_of(session).sites, work_order=FollowUp.work_order_id),
    )
    if pending:
        query = query.where(FollowUp.reached.is_not(True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(FollowUp.id).limit(limit).offset(offset)).all()
    return list(items), total
