"""Work orders: raising them, their life (open → acknowledged → in progress → resolved → closed,
or on hold, or cancelled) and their audit trail.

The rules of the life are data (`ACTIONS`) checked by one pure function, `plan`:
- acknowledging takes ownership: the caller becomes the assignee (first responder owns it);
- a technician works only on jobs assigned to them; supervisors and admins on any;
- a job may be put on hold once by its technician; only a supervisor may postpone it again;
- a fault job resolves only once telemetry shows the fault cleared;
- closing (the reporter's confirmation) and cancelling are for supervisors and admins.
Every change adds an event with who, when, through which channel and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from cloud.enums import (
    FINISHED,
    AlarmState,
    Channel,
    Priority,
    Role,
    WorkOrderKind,
    WorkOrderStatus,
)
from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.models import Alarm, Counter, Equipment, User, WorkOrder, WorkOrderEvent
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy

S = WorkOrderStatus
NUMBER_COUNTER = "work_order_number"
SYSTEM_ACTOR = "system"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class ActionRule:
    sources: frozenset[WorkOrderStatus]
    target: WorkOrderStatus
    roles: frozenset[Role]
    assignee_only: bool  # technicians must own the job; supervisors and admins need not
    note_required: bool = False


_FIELD = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})
_OFFICE = frozenset({Role.SUPERVISOR, Role.ADMIN})

ACTIONS: dict[Action, ActionRule] = {
    Action.ACKNOWLEDGE: ActionRule(frozenset({S.OPEN}), S.ACKNOWLEDGED, _FIELD, False),
    Action.START: ActionRule(frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS, _FIELD, True),
    Action.HOLD: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.ON_HOLD, _FIELD, True, note_required=True
    ),
    Action.RESUME: ActionRule(frozenset({S.ON_HOLD}), S.IN_PROGRESS, _FIELD, True),
    Action.RESOLVE: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.RESOLVED, _FIELD, True
    ),
    Action.CLOSE: ActionRule(frozenset({S.RESOLVED}), S.CLOSED, _OFFICE, False),
    Action.CANCEL: ActionRule(
        frozenset({S.OPEN, S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD}),
        S.CANCELLED,
        _OFFICE,
        False,
        note_required=True,
    ),
}


def plan(
    action: Action,
    *,
    status: WorkOrderStatus,
    role: Role,
    is_assignee: bool,
    holds: int = 0,
    fault_active: bool = False,
    note: str | None = None,
) -> WorkOrderStatus:
    """The status `action` leads to, or the error that forbids it. Pure: no database."""
    rule = ACTIONS[action]
    if role not in rule.roles:
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        raise Forbidden(
            f"the {role.value} role may not {action.value} a work order (allowed: {allowed})"
        )
    if status not in rule.sources:
        sources = ", ".join(sorted(s.value for s in rule.sources))
        raise Conflict(
            f"cannot {action.value} a work order that is {status.value} (only when {sources})",
            code="invalid_transition",
        )
    if rule.assignee_only and role is Role.TECHNICIAN and not is_assignee:
        raise Forbidden(
            f"only the technician who owns this work order may {action.value} it",
            code="not_assignee",
        )
    if rule.note_required and not (note and note.strip()):
        raise InvalidInput(f"a note saying why is required to {action.value} a work order")
    if action is Action.HOLD and holds >= 1 and role is Role.TECHNICIAN:
        raise Conflict(
            "this work order was already put on hold once; only a supervisor may postpone it again",
            code="already_postponed",
        )
    if action is Action.RESOLVE and fault_active:
        raise Conflict(
            "the fault is still active; a fault work order resolves only once telemetry shows "
            "it cleared",
            code="fault_active",
        )
    return rule.target


def fault_key(equipment_id: str, rule_id: str) -> str:
    return f"{equipment_id}:{rule_id}"


def next_number(session: Session) -> str:
    """WO-000001, WO-000002, …: an atomic counter, portable across SQLite and PostgreSQL."""
    value = session.scalar(
        update(Counter)
        .where(Counter.name == NUMBER_COUNTER)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    if value is None:
        session.add(Counter(name=NUMBER_COUNTER, value=1))
        session.flush()
        value = 1
    return f"WO-{value:06d}"


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
    )
    wo.events.append(event)
    return event


def _new(
    session: Session,
    *,
    title: str,
    description: str | None,
    kind: WorkOrderKind,
    priority: Priority,
    equipment: Equipment | None,
    building: str | None,
    now: datetime,
    sla: SlaPolicy,
    created_by: User | None,
    channel: Channel,
    note: str | None,
) -> WorkOrder:
    respond_due, resolve_due = sla.due(priority, now)
    wo = WorkOrder(
        number=next_number(session),
        title=title[:256],
        description=description,
        kind=kind,
        equipment_id=equipment.id if equipment is not None else None,
        building=building,
        priority=priority,
        status=S.OPEN,
        created_at=now,
        updated_at=now,
        respond_due_at=respond_due,
        resolve_due_at=resolve_due,
        holds=0,
        created_by_id=created_by.id if created_by is not None else None,
    )
    session.add(wo)
    add_event(
        session,
        wo,
        at=now,
        action="created",
        actor=created_by,
        channel=channel,
        to_status=S.OPEN,
        note=note,
    )
    return wo


def describe_equipment(equipment: Equipment) -> str:
    return f"{equipment.name} ({equipment.id})" if equipment.name else equipment.id


def raise_fault(
    session: Session,
    *,
    equipment: Equipment,
    alarm: Alarm,
    rule: Rule,
    now: datetime,
    sla: SlaPolicy,
) -> WorkOrder:
    """The one work order for a new fault. The caller has checked none is open for it."""
    where = ", ".join(
        part
        for part in (
            f"building {equipment.building}",
            f"floor {equipment.floor}" if equipment.floor else None,
            f"zone {equipment.zone}" if equipment.zone else None,
        )
        if part
    )
    description = "\n\n".join(p for p in (rule.description, f"Location: {where}.") if p)
    wo = _new(
        session,
        title=f"{rule.title}: {describe_equipment(equipment)}",
        description=description,
        kind=WorkOrderKind.FAULT,
        priority=rule.priority,
        equipment=equipment,
        building=equipment.building,
        now=now,
        sla=sla,
        created_by=None,
        channel=Channel.SYSTEM,
        note=alarm.message,
    )
    wo.alarm = alarm
    wo.rule_id = rule.id
    wo.open_key = fault_key(equipment.id, rule.id)
    return wo


def create_request(
    session: Session,
    *,
    user: User,
    title: str,
    description: str | None,
    priority: Priority,
    equipment_id: str | None,
    building: str | None,
    now: datetime,
    sla: SlaPolicy,
    channel: Channel,
) -> WorkOrder:
    """A work order someone asked for (a reported problem), not raised by a rule."""
    equipment = None
    if equipment_id is not None:
        equipment = session.get(Equipment, equipment_id)
        if equipment is None:
            raise InvalidInput(f"equipment {equipment_id!r} is not in the registry")
        if building is not None and building != equipment.building:
            raise InvalidInput(
                f"equipment {equipment_id!r} is in building {equipment.building!r}, "
                f"not {building!r}"
            )
        building = equipment.building
    if not title.strip():
        raise InvalidInput("title must not be empty")
    return _new(
        session,
        title=title.strip(),
        description=description,
        kind=WorkOrderKind.REQUEST,
        priority=priority,
        equipment=equipment,
        building=building,
        now=now,
        sla=sla,
        created_by=user,
        channel=channel,
        note=None,
    )


def get(session: Session, work_order_id: int, *, with_events: bool = False) -> WorkOrder:
    query = select(WorkOrder).where(WorkOrder.id == work_order_id)
    if with_events:
        query = query.options(selectinload(WorkOrder.events))
    wo = session.scalar(query)
    if wo is None:
        raise NotFound(f"work order {work_order_id} does not exist")
    return wo


def by_number(session: Session, number: str) -> int | None:
    """The id of the work order with this number (WO-000042), or None."""
    return session.scalar(select(WorkOrder.id).where(WorkOrder.number == number))


def open_for_fault(session: Session, equipment_id: str, rule_id: str) -> WorkOrder | None:
    return session.scalar(
        select(WorkOrder).where(WorkOrder.open_key == fault_key(equipment_id, rule_id))
    )


@dataclass(frozen=True, slots=True)
class Filters:
    status: list[WorkOrderStatus] | None = None
    priority: list[Priority] | None = None
    building: str | None = None
    equipment_id: str | None = None
    kind: WorkOrderKind | None = None
    assignee: str | None = None


def search(
    session: Session, filters: Filters, *, limit: int, offset: int
) -> tuple[list[WorkOrder], int]:
    """A page of work orders, newest first, and how many match in all."""
    query = select(WorkOrder)
    if filters.status:
        query = query.where(WorkOrder.status.in_(filters.status))
    if filters.priority:
        query = query.where(WorkOrder.priority.in_(filters.priority))
    if filters.building is not None:
        query = query.where(WorkOrder.building == filters.building)
    if filters.equipment_id is not None:
        query = query.where(WorkOrder.equipment_id == filters.equipment_id)
    if filters.kind is not None:
        query = query.where(WorkOrder.kind == filters.kind)
    if filters.assignee is not None:
        query = query.join(User, WorkOrder.assignee_id == User.id).where(
            User.username == filters.assignee
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(items), total


def act(
    session: Session,
    work_order_id: int,
    action: Action,
    *,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """Apply `action` by `user`; raises NotFound, Forbidden, Conflict or InvalidInput."""
    if channel is Channel.SYSTEM:
        raise InvalidInput("channel 'system' is reserved for changes the service makes itself")
    wo = get(session, work_order_id, with_events=True)
    fault_active = wo.alarm is not None and wo.alarm.state is AlarmState.ACTIVE
    target = plan(
        action,
        status=wo.status,
        role=user.role,
        is_assignee=wo.assignee_id == user.id,
        holds=wo.holds,
        fault_active=fault_active,
        note=note,
    )
    source = wo.status
    wo.status = target
    wo.updated_at = now
    if action is Action.ACKNOWLEDGE:
        wo.assignee_id = user.id
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
    elif action is Action.CLOSE:
        wo.closed_at = now
    if target in FINISHED:
        wo.open_key = None
    add_event(
        session,
        wo,
        at=now,
        action=action.value,
        actor=user,
        channel=channel,
        from_status=source,
        to_status=target,
        note=note,
    )
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"work order {wo.number} was changed by someone else at the same time; reload it "
            "and try again",
            code="concurrent_change",
        ) from exc
    return wo
