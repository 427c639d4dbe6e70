"""The daily digest: a team whose rota keeps routine jobs for a digest hears of them once a
day, one notification per person listing the jobs held for it (the first job is the one the
notification refers to; each job's audit trail records it was told in the digest)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.enums import WorkOrderStatus
from cloud.locale import N_, RECORD
from cloud.locale.composed import compose
from cloud.notify import outbox
from cloud.oncall.model import Routine
from cloud.sla import recipients, sentences
from cloud.sla.recipients import Recipient
from cloud.workorders import audit
from cloud.workorders.model import Notification, WorkOrder


def _held(now: datetime) -> ColumnElement[bool]:
    return (
        (WorkOrder.status == WorkOrderStatus.OPEN)
        & WorkOrder.dispatched_at.is_(None)
        & (WorkOrder.held_for == Routine.DIGEST.value)
        & (WorkOrder.held_until <= now)
    )


def due(session: Session, now: datetime, batch: int) -> list[int]:
    """The teams with a digest to send now."""
    return [
        team_id
        for team_id in session.scalars(
            select(WorkOrder.team_id)
            .where(_held(now), WorkOrder.team_id.is_not(None))
            .distinct()
            .order_by(WorkOrder.team_id)
            .limit(batch)
        )
        if team_id is not None
    ]


def send(session: Session, team_id: int, *, now: datetime, batch: int) -> int:
    """Send team `team_id`'s digest: the number of jobs told."""
    jobs = list(
        session.scalars(
            select(WorkOrder)
            .where(_held(now), WorkOrder.team_id == team_id)
            .order_by(WorkOrder.id)
            .limit(batch)
        )
    )
    by_person: dict[int, tuple[Recipient, list[WorkOrder]]] = {}
    first_stage: dict[int, str] = {}
    for wo in jobs:
        first_stage[wo.id] = recipients.stage_key(session, wo, "digest")
        told = recipients.first_told(session, wo, now)
        audit.system_event(
            session,
            wo,
            "dispatched",
            compose(N_("told in the daily digest")),
            at=now,
            details={
                "digest": True,
                "notify_stage": first_stage[wo.id],
                "recipients": [r.user.username for r in told],
                "reasons": {r.user.username: r.reason for r in told},
            },
        )
        wo.dispatched_at = now
        wo.held_for = None
        for r in told:
            by_person.setdefault(r.user.id, (r, []))[1].append(wo)
    for r, held in by_person.values():
        facts = sentences.digest_facts(held)
        notification = Notification(
            user_id=r.user.id,
            work_order_id=held[0].id,
            at=now,
            kind="digest",
            message=sentences.sentence("digest", facts, RECORD)[:512],
            stage=first_stage[held[0].id],
            reason=f"digest: {r.reason}"[:64],
            facts=facts,
        )
        session.add(notification)
        session.flush()
        outbox.enqueue(session, notification)  # and by e-mail, chat, SMS
    session.flush()
    return len(jobs)
