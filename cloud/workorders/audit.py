"""A work order's audit trail: every change adds an event with who, when, through which
channel and why. The trail is also the outbox the notifier and the console's event stream
read (`cloud.notify.events`, `cloud.api.events`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.enums import Channel, WorkOrderStatus
from cloud.users.model import User
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from cloud.workorders.rules import SYSTEM_ACTOR


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
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    event = WorkOrderEvent(
        at=at,
        actor_id=actor.id if actor is not None else None,
        actor=actor.username if actor is not None else SYSTEM_ACTOR,
        action=action,
        from_status=from_status,
        to_status=to_status,
        channel=channel,
        note=note,
        details=details,
    )
    wo.events.append(event)
    return event


def system_event(
    session: Session,
    wo: WorkOrder,
    action: str,
    note: str,
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
    note: str | None = None,
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
