"""Keeping reporters informed. A request's job changes through the work-order commands; each
change is an event in the job's audit trail, and `sync` turns the events a reporter has not
heard of into messages (`request_updates` rows) in the reporter's language:

    acknowledge, assign → assigned      start → started        hold → on_hold (reason)
    postpone → postponed (new date, reason)                    resolve → resolved ("fixed?")
    reopened → reopened, or not_fixed for the reporter who said so
    close → closed, confirmed for the reporter who confirmed, closed_unconfirmed on timeout
    cancel → cancelled (reason)

The tracking page reads the rows; the notification layer's delivery worker sends those not
yet delivered (`cloud.notify.reporters`): each row's `status` says how far its message got,

    pending ──claim──► sending ──► sent
       ▲                  ├──► pending again (refused; `next_attempt_at` after a backoff)
       │                  ├──► failed (refused too often, or the service stopped mid-send)
    no_channel / no_contact: nothing to send it through / nobody to send it to"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from cloud.enums import WorkOrderStatus
from cloud.requests.config import DeskConfig
from cloud.requests.messages import render
from cloud.requests.model import CONFIRMED, UNCONFIRMED, RepairRequest, RequestUpdate
from cloud.workorders.model import WorkOrder, WorkOrderEvent

BATCH = 500  # requests brought up to date per call
ENDED = (WorkOrderStatus.CLOSED, WorkOrderStatus.CANCELLED)
SIMPLE = {"acknowledge": "assigned", "assign": "assigned", "start": "started"}

# How far an update's message to its reporter got.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
NO_CHANNEL = "no_channel"  # the reporter's contact has no configured channel
NO_CONTACT = "no_contact"  # the reporter left no phone or e-mail, or it was erased
STOPPED = "unknown: the service stopped while sending"


def add_update(
    session: Session,
    request: RepairRequest,
    kind: str,
    at: datetime,
    params: dict[str, Any],
    config: DeskConfig,
) -> RequestUpdate:
    update = RequestUpdate(
        at=at,
        kind=kind,
        params=params,
        text=render(request.lang, kind, params, config.timezone),
    )
    request.updates.append(update)
    return update


def _kind(event: WorkOrderEvent, request: RepairRequest) -> tuple[str, dict[str, Any]] | None:
    """The update `event` means for `request`'s reporter, if any."""
    details = event.details or {}
    mine = details.get("request") == request.id
    reason = {"reason": event.note or "-"}
    action = event.action
    if action in SIMPLE:
        return SIMPLE[action], {}
    if action == "hold":
        return "on_hold", reason
    if action == "postpone":
        return "postponed", {"until": details.get("to"), **reason}
    if action == "resolve":
        return "resolved", {}
    if action == "reopened":
        return ("not_fixed" if mine else "reopened"), {}
    if action == "close":
        if details.get("confirmation") == UNCONFIRMED:
            return "closed_unconfirmed", {}
        if details.get("confirmation") == CONFIRMED and mine:
            return "confirmed", {}
        return "closed", {}
    if action == "cancel":
        return "cancelled", reason
    return None


def _apply(request: RepairRequest, event: WorkOrderEvent, kind: str) -> None:
    """What the event changes in the request's own state."""
    if kind == "resolved":
        request.confirm_asked_at = event.at
        request.confirmation = None
        request.answered_at = None
    elif kind in ("closed", "confirmed", "closed_unconfirmed", "cancelled"):
        request.done_at = event.at
    elif kind in ("reopened", "not_fixed"):
        request.done_at = None
        if kind == "reopened":
            request.confirm_asked_at = None


def sync(session: Session, config: DeskConfig, *, request_ids: Sequence[int] | None = None) -> int:
    """Turn the job events the reporters have not heard of into updates: for `request_ids`,
    or for up to `BATCH` requests whose job is not over. The number of updates added."""
    query = select(RepairRequest).join(WorkOrder, RepairRequest.work_order_id == WorkOrder.id)
    if request_ids is not None:
        query = query.where(RepairRequest.id.in_(request_ids))
    else:  # not over for the reporter, or over but the job has come back since
        query = query.where(or_(RepairRequest.done_at.is_(None), WorkOrder.status.not_in(ENDED)))
    requests = list(
        session.scalars(
            query.options(selectinload(RepairRequest.updates))
            .order_by(RepairRequest.id)
            .limit(BATCH)
        )
    )
    if not requests:
        return 0
    oldest = min(r.seen_event_id for r in requests)
    events = session.scalars(
        select(WorkOrderEvent)
        .where(
            WorkOrderEvent.work_order_id.in_({r.work_order_id for r in requests}),
            WorkOrderEvent.id > oldest,
        )
        .order_by(WorkOrderEvent.id)
    ).all()
    added = 0
    for request in requests:
        for event in events:
            if event.work_order_id != request.work_order_id or event.id <= request.seen_event_id:
                continue
            request.seen_event_id = event.id
            found = _kind(event, request)
            if found is None:
                continue
            kind, params = found
            last = request.updates[-1].kind if request.updates else None
            _apply(request, event, kind)
            if kind == "assigned" and last == "assigned":
                continue  # taken by one technician, then given to another: one message
            add_update(session, request, kind, event.at, params, config)
            added += 1
    session.flush()
    return added


@dataclass(frozen=True, slots=True)
class ReporterMessage:
    """One message for the outbox to send to a reporter."""

    update_id: int
    reference: str
    kind: str
    text: str
    link: str
    lang: str
    name: str | None
    phone: str | None
    email: str | None
    at: datetime


def _has_contact() -> Any:
    return RepairRequest.contact_erased_at.is_(None) & (
        RepairRequest.reporter_phone.is_not(None) | RepairRequest.reporter_email.is_not(None)
    )


def pending_reporter_messages(
    session: Session, config: DeskConfig, *, limit: int = 100, now: datetime | None = None
) -> list[ReporterMessage]:
    """Reporter messages not yet delivered, oldest first, for reporters who left a phone or
    an e-mail (and whose contact is not erased); with `now`, only those due by then (not
    waiting out a retry). The caller sends them and then calls `mark_delivered` with their
    `update_id`s in the same or a later transaction."""
    query = (
        select(RequestUpdate, RepairRequest)
        .join(RepairRequest, RequestUpdate.request_id == RepairRequest.id)
        .where(
            RequestUpdate.status == PENDING,
            RequestUpdate.delivered_at.is_(None),
            _has_contact(),
        )
    )
    if now is not None:
        query = query.where(
            or_(RequestUpdate.next_attempt_at.is_(None), RequestUpdate.next_attempt_at <= now)
        )
    rows = session.execute(query.order_by(RequestUpdate.id).limit(limit)).all()
    return [
        ReporterMessage(
            update_id=u.id,
            reference=r.token,
            kind=u.kind,
            text=u.text,
            link=config.link(r.token),
            lang=r.lang,
            name=r.reporter_name,
            phone=r.reporter_phone,
            email=r.reporter_email,
            at=u.at,
        )
        for u, r in rows
    ]


def mark_delivered(session: Session, update_ids: Sequence[int], *, at: datetime) -> int:
    """Record that these updates were delivered; the number marked."""
    updates = session.scalars(
        select(RequestUpdate).where(
            RequestUpdate.id.in_(update_ids), RequestUpdate.delivered_at.is_(None)
        )
    ).all()
    for u in updates:
        u.delivered_at = at
        u.status = SENT
        u.last_error = None
    return len(updates)


def settle_no_contact(session: Session, *, limit: int = BATCH) -> int:
    """Pending updates whose reporter left no contact, or had it erased, are `no_contact`:
    there is nobody to send them to. The count."""
    ids = session.scalars(
        select(RequestUpdate.id)
        .join(RepairRequest, RequestUpdate.request_id == RepairRequest.id)
        .where(RequestUpdate.status == PENDING, ~_has_contact())
        .limit(limit)
    ).all()
    return set_status(session, ids, NO_CONTACT) if ids else 0


def set_status(
    session: Session, update_ids: Sequence[int], status: str, *, error: str | None = None
) -> int:
    """Pending updates given a final `status` (no_channel, no_contact) and why; the count."""
    result = session.execute(
        update(RequestUpdate)
        .where(RequestUpdate.id.in_(update_ids), RequestUpdate.status == PENDING)
        .values(status=status, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim(session: Session, update_id: int, *, channel: str, now: datetime) -> bool:
    """Mark a pending update `sending` through `channel` at `now`; False when another process
    has it (or it is no longer pending). Commit before sending."""
    result = session.execute(
        update(RequestUpdate)
        .where(RequestUpdate.id == update_id, RequestUpdate.status == PENDING)
        .values(status=SENDING, claimed_at=now, channel=channel)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def settle_stopped(session: Session, *, stale_before: datetime) -> int:
    """Updates left `sending` since before `stale_before` (their process died mid-send) are
    failed with the reason, never sent again blindly; the count. It looks before it writes
    (asked every pass of the delivery worker, it almost always finds none; a read takes no
    write lock)."""
    stale = (RequestUpdate.status == SENDING, RequestUpdate.claimed_at < stale_before)
    ids = session.scalars(select(RequestUpdate.id).where(*stale).limit(BATCH)).all()
    if not ids:
        return 0
    result = session.execute(
        update(RequestUpdate)
        .where(RequestUpdate.id.in_(ids), *stale)
        .values(status=FAILED, last_error=STOPPED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
