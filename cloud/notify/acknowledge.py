"""Acknowledging a job through the link in its message (`cloud.notify.links`).

The link acts as the person it was sent to, once: the job is acknowledged by them with the
audit note "via <channel> link", the outbox row is marked `acknowledged` and the link used.

An incident's message carries several rows (`group_id` names its leading row). Its leading
row's link acknowledges every job the message carried that is still open and not someone
else's (an SMS has room for one link only); each of those rows is marked `acknowledged` and
its own link used, so a row is never sent without a link that acknowledges it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import Channel, WorkOrderStatus
from cloud.errors import CloudError, Forbidden
from cloud.notify.links import Gone, LinkSigner
from cloud.notify.model import OutboxMessage, OutboxStatus
from cloud.sla import SlaPolicy
from cloud.users.model import User
from cloud.workorders import commands
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import Action


def open_link(
    session: Session, links: LinkSigner, token: str, *, now: datetime
) -> tuple[OutboxMessage, User, WorkOrder]:
    """The row, person and job of a good link; Forbidden or Gone with the reason."""
    claim = links.check(token, now=now)
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == claim.outbox_id).with_for_update()
    )
    if (
        row is None
        or row.link_jti != claim.jti
        or row.user_id != claim.user_id
        or row.work_order_id != claim.work_order_id
    ):
        raise Forbidden("this link is not valid (no such message)", code="link_invalid")
    if row.link_used_at is not None:
        raise Gone(
            f"this link was already used at {row.link_used_at.isoformat()}", code="link_used"
        )
    user = session.get(User, row.user_id)
    wo = session.get(WorkOrder, row.work_order_id)
    if user is None or not user.active or wo is None:
        raise Forbidden("this link's person or job is gone", code="link_invalid")
    if wo.assignee_id is not None and wo.assignee_id != user.id:
        owner = wo.assignee.username if wo.assignee is not None else "someone else"
        raise Forbidden(
            f"{wo.number} is {owner}'s job; this link was for {user.username}",
            code="link_not_yours",
        )
    return row, user, wo


def carried(session: Session, row: OutboxMessage) -> list[OutboxMessage]:
    """The other rows the message led by `row` carried (an incident's jobs), by id."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.group_id == row.id, OutboxMessage.user_id == row.user_id)
            .order_by(OutboxMessage.id)
        )
    )


def acknowledge_by_link(
    session: Session, links: LinkSigner, token: str, *, now: datetime, sla: SlaPolicy
) -> list[WorkOrder]:
    """The jobs acknowledged: the link's own, then those its message carried along."""
    row, user, wo = open_link(session, links, token, now=now)
    via = f"via {row.channel or 'message'} link"
    done = [_acknowledge(session, row, user, wo.id, via=via, now=now, sla=sla)]
    for other in carried(session, row):
        if other.link_used_at is None and any(w.id == other.work_order_id for w in done):
            _used(other, now)  # another stage of a job this link just acknowledged
            continue
        job = session.get(WorkOrder, other.work_order_id)
        if (
            other.link_used_at is not None
            or job is None
            or job.status is not WorkOrderStatus.OPEN
            or job.assignee_id not in (None, user.id)
        ):
            continue  # acknowledged meanwhile, or someone else's: left as it is
        try:
            done.append(_acknowledge(session, other, user, job.id, via=via, now=now, sla=sla))
        except CloudError:
            continue  # not this person's to acknowledge (their role): the lead's still counts
    return done


def _acknowledge(
    session: Session,
    row: OutboxMessage,
    user: User,
    work_order_id: int,
    *,
    via: str,
    now: datetime,
    sla: SlaPolicy,
) -> WorkOrder:
    wo = commands.act(
        session,
        work_order_id,
        Action.ACKNOWLEDGE,
        user=user,
        now=now,
        channel=Channel.API,
        note=via,
        sla=sla,
    )
    _used(row, now)
    return wo


def _used(row: OutboxMessage, now: datetime) -> None:
    row.link_used_at = now
    row.acknowledged_at = now
    row.status = OutboxStatus.ACKNOWLEDGED
