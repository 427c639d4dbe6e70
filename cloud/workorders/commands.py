"""Changing work orders: everything people do to them. Each command opens the same way
(`_opening`): the row is loaded for change (locked until the transaction ends where the
database can), the rules in `cloud.workorders.rules` decide whether the change is allowed,
the change is applied and an event joins the audit trail; a change someone else made at the
same moment is refused (`concurrent_change`), never overwritten."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cloud.enums import FINISHED, AlarmState, Channel, Role, WorkOrderKind
from cloud.errors import Conflict, InvalidInput
from cloud.locale import N_
from cloud.locale.composed import Note, compose
from cloud.sla import SlaPolicy, load_sla
from cloud.users.model import User
from cloud.users.service import get_user
from cloud.users.sites import who_see
from cloud.workorders.audit import already_applied, record_change
from cloud.workorders.load import load_for_change
from cloud.workorders.model import WorkOrder, WorkOrderAttachment, WorkOrderEvent
from cloud.workorders.rules import (
    Action,
    S,
    checklist_done,
    clock_stopped,
    is_verified,
    may_assign,
    may_follow_up,
    missing_steps,
    plan,
    plan_assign,
    plan_follow_up,
    plan_postpone,
)

shipped_sla = functools.cache(load_sla)


@dataclass(slots=True)
class _Change:
    """One person's change under way: the work order, and who changes it, when and how."""

    session: Session
    wo: WorkOrder
    user: User
    now: datetime
    channel: Channel

    def record(
        self,
        action: str,
        *,
        note: Note = None,
        details: dict[str, Any] | None = None,
        to: S | None = None,
    ) -> WorkOrderEvent:
        """Stamp the job as changed now and add the change's event to its trail; with `to`,
        the job moves to that status."""
        return record_change(
            self.session,
            self.wo,
            at=self.now,
            action=action,
            actor=self.user,
            channel=self.channel,
            to=to,
            note=note,
            details=details,
        )


@contextmanager
def _opening(
    session: Session, work_order_id: int, *, user: User, now: datetime, channel: Channel
) -> Iterator[_Change]:
    """A person's change to one work order: check the channel, load the row for change, let
    the caller check and apply the change and record its event, then write it, refusing it
    if someone else changed the row meanwhile (its version moved)."""
    if channel is Channel.SYSTEM:
        raise InvalidInput("channel 'system' is reserved for changes the service makes itself")
    wo = load_for_change(session, work_order_id)
    already_applied(session, wo.id)  # a client's action sent again: answered, not redone
    yield _Change(session, wo, user, now, channel)
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"work order {wo.number} was changed by someone else at the same time; reload it "
            "and try again",
            code="concurrent_change",
        ) from exc


def close_verified(
    session: Session,
    wo: WorkOrder,
    *,
    now: datetime,
    note: Note,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Close a resolved job whose fix is confirmed (verified telemetry, a done checklist, or
    its reporter's answer, which `details` records)."""
    wo.closed_at = now
    wo.open_key = None
    record_change(
        session,
        wo,
        to=S.CLOSED,
        at=now,
        action="close",
        actor=actor,
        channel=Channel.SYSTEM,
        note=note,
        details=details,
    )


def act(
    session: Session,
    work_order_id: int,
    action: Action,
    *,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
    sla: SlaPolicy | None = None,
) -> WorkOrder:
    """Apply `action` by `user`; raises NotFound, Forbidden, Conflict or InvalidInput. `sla`
    gives the verification window (closing a fault job); without it the shipped one."""
    sla = sla or shipped_sla()
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        target = plan(
            action,
            status=wo.status,
            role=user.role,
            is_assignee=wo.assignee_id == user.id,
            assigned=wo.assignee_id is not None,
            holds=wo.holds,
            fault_active=wo.alarm is not None and wo.alarm.state is AlarmState.ACTIVE,
            verified=is_verified(wo, now, sla),
            checklist_done=wo.kind is not WorkOrderKind.PM or checklist_done(wo),
            note=note,
            missing=missing_steps(wo),
            signed=not wo.sign_off_required or wo.signed_at is not None,
        )
        change.record(action.value, note=note, to=target)
        _apply(wo, action, user=user, now=now, note=note)
        if target in FINISHED:
            wo.open_key = None
        if wo.escalation_clock is not None and clock_stopped(wo, wo.escalation_clock):
            wo.escalation_clock = None
            wo.escalation_stage = 0
        outsider = user.role is Role.CONTRACTOR
        if action is Action.RESOLVE and wo.kind is WorkOrderKind.PM and not outsider:
            # what a contractor did is verified and closed by the in-house supervisor
            close_verified(session, wo, now=now, note=compose(N_("checklist done")))
    return wo


def _apply(wo: WorkOrder, action: Action, *, user: User, now: datetime, note: str | None) -> None:
    """What `action` records besides the status: who owns the job, when each step happened."""
    if action is Action.ACKNOWLEDGE:
        wo.assignee = user
        wo.acknowledged_at = now
        if wo.alarm is not None and not wo.alarm.acknowledged:
            wo.alarm.acknowledged = True
            wo.alarm.acknowledged_at = now
            wo.alarm.acknowledged_by_id = user.id
    elif action is Action.START and wo.started_at is None:
        wo.started_at = now
    elif action is Action.HOLD:
        wo.holds += 1
    elif action is Action.RESOLVE:
        wo.resolved_at = now
        wo.resolution = note
    elif action is Action.CLOSE:
        wo.closed_at = now
    elif action is Action.CANCEL:
        wo.cancelled_at = now


def _field_user(session: Session, username: str, wo: WorkOrder) -> User:
    found = get_user(session, username)
    if found is None:
        raise InvalidInput(f"assignee: user {username!r} does not exist")
    if not found.active:
        raise InvalidInput(f"assignee: user {username!r} is deactivated")
    if found.role is Role.CONTRACTOR:
        if wo.team_id is None or wo.team_id not in {t.id for t in found.teams}:
            raise InvalidInput(
                f"assignee: {username!r} is a contractor and {wo.number} is not their team's job"
            )
    elif found.role not in (Role.TECHNICIAN, Role.SUPERVISOR):
        raise InvalidInput(
            f"assignee: {username!r} is a {found.role.value}; jobs go to technicians, "
            "supervisors and the contractors of the job's team"
        )
    if found.id not in who_see(session, {found.id}, wo.site):
        raise InvalidInput(f"assignee: {username!r} does not work at site {wo.site!r}")
    return found


def assign(
    session: Session,
    work_order_id: int,
    assignee: str,
    *,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """A supervisor gives the job to someone (or takes it from one technician to another).
    An unacknowledged job is dispatched to its new assignee, who acknowledges it."""
    may_assign(user.role)
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        plan_assign(wo.status)
        to = _field_user(session, assignee, wo)
        previous = wo.assignee
        if previous is not None and previous.id == to.id:
            raise Conflict(
                f"work order {wo.number} is already assigned to {assignee}", code="no_change"
            )
        wo.assignee = to
        if wo.status is S.OPEN:
            wo.dispatched_at = None  # the ticker sends it to the new assignee
        assigned = (
            compose(N_("assigned to %(user)s"), user=to.username)
            if previous is None
            else compose(
                N_("assigned to %(user)s (was %(previous)s)"),
                user=to.username,
                previous=previous.username,
            )
        )
        change.record(
            "assign",
            note=note or assigned,
            details={"assignee": to.username, "previous": previous.username if previous else None},
        )
    return wo


def postpone(
    session: Session,
    work_order_id: int,
    until: datetime,
    *,
    user: User,
    now: datetime,
    sla: SlaPolicy,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """Move the promised completion, once: a job may not be postponed twice."""
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        plan_postpone(
            status=wo.status,
            role=user.role,
            is_assignee=wo.assignee_id == user.id,
            postponements=wo.postponements,
            current=wo.resolve_due_at,
            until=until,
            latest=sla.latest_promise(wo.created_at),
            note=note,
        )
        previous = wo.resolve_due_at
        wo.resolve_due_at = until
        wo.postponements += 1
        if wo.escalation_clock == "complete":
            wo.escalation_clock = None
            wo.escalation_stage = 0
        change.record(
            "postpone",
            note=note,
            details={
                "from": previous.isoformat() if previous else None,
                "to": until.isoformat(),
            },
        )
    return wo


def comment(
    session: Session,
    work_order_id: int,
    text: str,
    *,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
) -> WorkOrderEvent:
    """A remark on the job, by anyone signed in, in any status; it joins the audit trail."""
    if not text.strip():
        raise InvalidInput("text: a comment must not be empty")
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        event = change.record("comment", note=text.strip())
    return event


def attach(
    session: Session,
    work_order_id: int,
    *,
    url: str,
    name: str,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
) -> WorkOrderAttachment:
    """Attach a photo or document kept elsewhere, by its http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"url: {url[:200]!r} is not an http(s) URL")
    if not name.strip():
        raise InvalidInput("name: an attachment needs a name")
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        attachment = WorkOrderAttachment(
            url=url, name=name.strip(), added_by=user.username, added_at=now
        )
        change.wo.attachments.append(attachment)
        change.record(
            "attachment",
            note=name.strip(),
            details={"url": url, "name": name.strip()},
        )
    return attachment


def record_follow_up(
    session: Session,
    work_order_id: int,
    *,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """A post-repair visit (or call) to the reporter: counts towards the follow-up rate."""
    may_follow_up(user.role, note)
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        plan_follow_up(wo.number, wo.kind, wo.status)
        wo.follow_up = True
        wo.follow_up_at = now
        change.record("follow_up", note=note)
    return wo
