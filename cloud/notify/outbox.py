"""The outbox: one row per (person, job, stage), written with the in-app notification.

    escalator ── Notification row ──► enqueue() ──► notification_outbox row (same transaction)
    delivery worker ── claim (queued → sending) ── send ── sent | queued again | failed

`enqueue` is the one hook the escalator calls after it adds a `Notification`: the row gets
the person's first verified contact point, or is failed at once ("no verified contact
point") so the job shows that nobody could be reached that way. The unique constraint on
(user, job, stage) is the backstop: a stage told twice would fail its transaction, so
`enqueue` looks first and writes nothing for a stage already there.

A stage is `<episode>:dispatch` or `<episode>:<clock>:<n>` (the escalation's clock and
stage), where the episode counts the job's reopens: a reopened job is told again.

A contractor team's jobs are also told to the team's own contact points (`enqueue_team`):
one row per (team, job, stage), with no person, failing over through the team's addresses.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.notify.model import ContactPoint, OutboxMessage, OutboxStatus
from cloud.users.model import Team
from cloud.workorders.model import Notification, WorkOrder, WorkOrderEvent

NO_CONTACT = "no verified contact point"
STOPPED = "unknown: the service stopped while sending"
BATCH_SETTLE = 500  # stopped rows failed per pass; the rest at the next


def stage_key(wo: WorkOrder, event: WorkOrderEvent | None) -> str:
    details = (event.details or {}) if event is not None else {}
    if event is None or event.action != "escalated":
        return f"{wo.reopens}:dispatch"
    return f"{wo.reopens}:{details.get('clock', 'clock')}:{details.get('stage', 0)}"[:32]


def verified_contacts(
    session: Session, user_id: int | None, *, team_id: int | None = None
) -> list[ContactPoint]:
    """A person's verified contact points, or (`team_id`) a contractor team's."""
    owner = ContactPoint.user_id == user_id if team_id is None else ContactPoint.team_id == team_id
    return list(
        session.scalars(
            select(ContactPoint)
            .where(owner, ContactPoint.verified.is_(True))
            .order_by(ContactPoint.position, ContactPoint.id)
        )
    )


def next_contact(session: Session, row: OutboxMessage) -> ContactPoint | None:
    """The person's (or team's) first verified contact point this message has not given up
    on."""
    tried = set(row.tried or [])
    found = verified_contacts(session, row.user_id, team_id=row.team_id)
    return next((c for c in found if c.id not in tried), None)


def _new_row(
    session: Session,
    wo: WorkOrder,
    *,
    stage: str,
    kind: str,
    now: datetime,
    user_id: int | None = None,
    team_id: int | None = None,
) -> OutboxMessage | None:
    """A queued row on its first contact point (or failed: none), added and flushed; None
    when the person (or team) was told of this stage already."""
    stage = stage[:32]
    owner = (
        OutboxMessage.user_id == user_id if team_id is None else OutboxMessage.team_id == team_id
    )
    there = session.scalar(
        select(OutboxMessage.id).where(
            owner, OutboxMessage.work_order_id == wo.id, OutboxMessage.stage == stage
        )
    )
    if there is not None:
        return None
    row = OutboxMessage(
        user_id=user_id,
        team_id=team_id,
        work_order_id=wo.id,
        incident_id=wo.incident_id,
        stage=stage,
        kind=kind,
        tried=[],
        status=OutboxStatus.QUEUED,
        attempts=0,
        channel_attempts=0,
        created_at=now,
        next_attempt_at=now,
        link_jti=secrets.token_hex(12),
    )
    contact = next_contact(session, row)
    if contact is None:
        row.status = OutboxStatus.FAILED
        row.last_error = NO_CONTACT
    else:
        point_at(row, contact)
    session.add(row)
    session.flush()  # the row's id, for the notification's link
    return row


def enqueue_team(
    session: Session, wo: WorkOrder, team: Team, *, stage: str, kind: str, now: datetime
) -> OutboxMessage | None:
    """The outbox row telling contractor `team`'s own contact points of `wo` at `stage`, or
    None when that stage was already told to the team."""
    return _new_row(session, wo, stage=stage, kind=kind, now=now, team_id=team.id)


def enqueue(session: Session, notification: Notification) -> OutboxMessage | None:
    """The outbox row for `notification` (added to `session`), or None when its stage was
    already told to that person."""
    wo = session.get(WorkOrder, notification.work_order_id)
    if wo is None:
        raise ValueError(f"notification for work order {notification.work_order_id}: no such job")
    event = session.get(WorkOrderEvent, notification.event_id) if notification.event_id else None
    # the escalator names the stage (`dispatch`, `acknowledge:2`, `r1/dispatch`, `digest`);
    # a notification written before it did is keyed from its audit event
    row = _new_row(
        session,
        wo,
        stage=notification.stage or stage_key(wo, event),
        kind=notification.kind,
        now=notification.at,
        user_id=notification.user_id,
    )
    if row is None:
        return None
    row.notification_id = notification.id
    return row


def point_at(row: OutboxMessage, contact: ContactPoint) -> None:
    row.contact_point_id = contact.id
    row.channel = contact.channel
    row.address = contact.address
    row.channel_attempts = 0


def settle_stopped(session: Session, *, now: datetime, stale_before: datetime) -> int:
    """Rows left `sending` since before `stale_before` (their process died mid-send) are
    failed with the reason, never sent again blindly; the count.

    It looks before it writes: the delivery worker asks every pass and almost always finds
    none, and a read takes no write lock (SQLite), so the pass does not queue behind the
    telemetry's transactions for nothing."""
    stale = (
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.sending_at < stale_before,
    )
    ids = session.scalars(select(OutboxMessage.id).where(*stale).limit(BATCH_SETTLE)).all()
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), *stale)
        .values(status=OutboxStatus.FAILED, last_error=STOPPED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def due(session: Session, *, now: datetime, limit: int) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.QUEUED,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
    )


class Taken(Exception):
    """Another process claimed one of the rows first."""


def claim(session: Session, ids: Sequence[int], *, by: str, now: datetime) -> None:
    """Mark the rows `sending` by `by`, all or none: Taken (roll the transaction back) when
    another process has one of them."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.QUEUED)
        .values(status=OutboxStatus.SENDING, claimed_by=by, sending_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != len(ids):
        raise Taken(f"outbox rows {list(ids)}: claimed by another process")


def for_work_order(
    session: Session, work_order_id: int, *, limit: int = 500
) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.work_order_id == work_order_id)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
