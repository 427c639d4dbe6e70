"""A work order's audit trail: every change adds an event with who, when, through which
channel and why. The trail is also the outbox the notifier and the console's event stream
read (`cloud.notify.events`, `cloud.api.events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import Channel, WorkOrderStatus
from cloud.errors import CloudError, Conflict
from cloud.locale.composed import Note, stored
from cloud.users.model import User
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from cloud.workorders.rules import SYSTEM_ACTOR

ACTION_ID = "plantroom.action_id"  # key of Session.info: the client's action under way


def add_event(
    session: Session,
    wo: WorkOrder,
    *,
    at: datetime,
    action: str,
    actor: User | None,
    channel: Channel,
    from_status: WorkOrderStatus | None = None,
    to_status: WorkOrderStatus | None = None,
    note: Note = None,
    details: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    text, message = stored(note)
    event = WorkOrderEvent(
        at=at,
        actor_id=actor.id if actor is not None else None,
        actor=actor.username if actor is not None else SYSTEM_ACTOR,
        action=action,
        from_status=from_status,
        to_status=to_status,
        channel=channel,
        note=text,
        note_message=message,
        details=details,
        action_id=session.info.pop(ACTION_ID, None),
    )
    wo.events.append(event)
    return event


class AlreadyApplied(CloudError):
    """The client's action (its Idempotency-Key) was applied before: `event` recorded it."""

    code = "already_applied"

    def __init__(self, event: WorkOrderEvent) -> None:
        super().__init__(f"action {event.action_id!r} was already applied")
        self.event = event


def applying(session: Session, action_id: str | None) -> None:
    """The next change in `session` is the client's action `action_id`: its first event
    carries the id, and the action is applied once however often it is sent."""
    if action_id is None:
        session.info.pop(ACTION_ID, None)
    else:
        session.info[ACTION_ID] = action_id


def already_applied(session: Session, work_order_id: int) -> None:
    """Raise AlreadyApplied if the action under way was applied before (call with the job's
    row locked, so that one of two copies sent at once waits for the other to finish)."""
    action_id = session.info.get(ACTION_ID)
    if action_id is None:
        return
    event = session.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action_id == action_id))
    if event is None:
        return
    session.info.pop(ACTION_ID, None)
    if event.work_order_id != work_order_id:
        raise Conflict(
            f"Idempotency-Key {action_id!r} was used for another work order; send a new key "
            "for a new action",
            code="action_id_reused",
        )
    raise AlreadyApplied(event)


def system_event(
    session: Session,
    wo: WorkOrder,
    action: str,
    note: Note,
    *,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    """An event the service records itself: no actor, channel `system`."""
    return add_event(
        session,
        wo,
        at=at,
        action=action,
        actor=None,
        channel=Channel.SYSTEM,
        note=note,
        details=details,
    )


def record_change(
    session: Session,
    wo: WorkOrder,
    *,
    at: datetime,
    action: str,
    actor: User | None,
    channel: Channel,
    to: WorkOrderStatus | None = None,
    note: Note = None,
    details: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    """Stamp the job as changed at `at` and add the change's event; with `to`, the job moves
    to that status and the event says from which one it came."""
    source = wo.status if to is not None else None
    if to is not None:
        wo.status = to
    wo.updated_at = at
    return add_event(
        session,
        wo,
        at=at,
        action=action,
        actor=actor,
        channel=channel,
        from_status=source,
        to_status=to,
        note=note,
        details=details,
    )
