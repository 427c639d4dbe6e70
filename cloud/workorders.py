"""Work orders: raising them, their life (open → acknowledged → in progress → on hold →
resolved → closed, or cancelled), everything people do to them and their audit trail.

The rules of the life are data (`ACTIONS`) checked by pure functions (`plan`,
`plan_postpone`):
- acknowledging takes ownership: the caller becomes the assignee (first responder owns it);
  a job a supervisor assigned is acknowledged by its assignee (or a supervisor);
- a technician works only on jobs assigned to them; supervisors and admins on any;
- a job may be put on hold once by its technician; only a supervisor may hold it again;
- a promised completion may be postponed once, never twice, and never past `max_promise`;
- a fault job resolves only once telemetry shows the fault cleared, and closes only once it
  stayed cleared for the verification window (the ticker closes it then by itself);
- a PM job resolves only with its checklist done, and closes with it;
- the same fault again within `reopen_within` of its fix reopens the job (not a new one);
- closing (the reporter's confirmation) and cancelling are for supervisors and admins.
Every change adds an event with who, when, through which channel and why.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from cloud.enums import (
    FINISHED,
    TRADE_OF_KIND,
    AlarmState,
    Channel,
    Priority,
    Role,
    WorkOrderKind,
    WorkOrderStatus,
)
from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.models import (
    Alarm,
    Counter,
    Equipment,
    Team,
    User,
    WorkOrder,
    WorkOrderAttachment,
    WorkOrderEvent,
)
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy, load_sla
from cloud.users import get_user

S = WorkOrderStatus
shipped_sla = functools.cache(load_sla)
NUMBER_COUNTER = "work_order_number"
SYSTEM_ACTOR = "system"
REPAIRS = frozenset({WorkOrderKind.FAULT, WorkOrderKind.REQUEST})
LIVE = frozenset({S.OPEN, S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD})


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


FIELD = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})
OFFICE = frozenset({Role.SUPERVISOR, Role.ADMIN})

ACTIONS: dict[Action, ActionRule] = {
    Action.ACKNOWLEDGE: ActionRule(frozenset({S.OPEN}), S.ACKNOWLEDGED, FIELD, False),
    Action.START: ActionRule(frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS, FIELD, True),
    Action.HOLD: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.ON_HOLD, FIELD, True, note_required=True
    ),
    Action.RESUME: ActionRule(frozenset({S.ON_HOLD}), S.IN_PROGRESS, FIELD, True),
    Action.RESOLVE: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.RESOLVED, FIELD, True, note_required=True
    ),
    Action.CLOSE: ActionRule(frozenset({S.RESOLVED}), S.CLOSED, OFFICE, False),
    Action.CANCEL: ActionRule(LIVE, S.CANCELLED, OFFICE, False, note_required=True),
}


def _roles(roles: frozenset[Role]) -> str:
    return ", ".join(sorted(r.value for r in roles))


def plan(
    action: Action,
    *,
    status: WorkOrderStatus,
    role: Role,
    is_assignee: bool,
    assigned: bool = False,
    holds: int = 0,
    fault_active: bool = False,
    verified: bool = True,
    checklist_done: bool = True,
    note: str | None = None,
) -> WorkOrderStatus:
    """The status `action` leads to, or the error that forbids it. Pure: no database.

    `assigned`: the job has an assignee (a technician acknowledging someone else's job is
    refused); `verified`: a fault job's fault stayed cleared for the verification window;
    `checklist_done`: a PM job's checklist is complete."""
    rule = ACTIONS[action]
    if role not in rule.roles:
        raise Forbidden(
            f"the {role.value} role may not {action.value} a work order "
            f"(allowed: {_roles(rule.roles)})"
        )
    if status not in rule.sources:
        sources = ", ".join(sorted(s.value for s in rule.sources))
        raise Conflict(
            f"cannot {action.value} a work order that is {status.value} (only when {sources})",
            code="invalid_transition",
        )
    if role is Role.TECHNICIAN and not is_assignee:
        if rule.assignee_only:
            raise Forbidden(
                f"only the technician who owns this work order may {action.value} it",
                code="not_assignee",
            )
        if action is Action.ACKNOWLEDGE and assigned:
            raise Forbidden(
                "this work order is assigned to another technician; only they or a supervisor "
                "may acknowledge it",
                code="not_assignee",
            )
    if action is Action.HOLD and holds >= 1 and role is Role.TECHNICIAN:
        raise Conflict(
            "this work order was already put on hold once; only a supervisor may hold it again",
            code="already_held",
        )
    if action is Action.RESOLVE and fault_active:
        raise Conflict(
            "the fault is still active; a fault work order resolves only once telemetry shows "
            "it cleared",
            code="fault_active",
        )
    if action is Action.CLOSE and not verified:
        raise Conflict(
            "the fault has not yet stayed cleared for the verification window; the work order "
            "closes by itself once it has",
            code="not_verified",
        )
    if action in (Action.RESOLVE, Action.CLOSE) and not checklist_done:
        raise Conflict(
            f"the checklist is not done; a PM work order may {action.value} only with every "
            "item checked",
            code="checklist_incomplete",
        )
    if rule.note_required and not (note and note.strip()):
        raise InvalidInput(f"a note saying why is required to {action.value} a work order")
    return rule.target


def plan_postpone(
    *,
    status: WorkOrderStatus,
    role: Role,
    is_assignee: bool,
    postponements: int,
    current: datetime | None,
    until: datetime,
    latest: datetime,
    note: str | None,
) -> None:
    """Whether the promised completion may move from `current` to `until`. Pure."""
    if role not in FIELD:
        raise Forbidden(
            f"the {role.value} role may not postpone a work order (allowed: {_roles(FIELD)})"
        )
    if status not in LIVE:
        raise Conflict(
            f"cannot postpone a work order that is {status.value}", code="invalid_transition"
        )
    if role is Role.TECHNICIAN and not is_assignee:
        raise Forbidden(
            "only the technician who owns this work order may postpone it", code="not_assignee"
        )
    if postponements >= 1:
        raise Conflict(
            "this work order was already postponed once; the same job may not be postponed twice",
            code="already_postponed",
        )
    if not (note and note.strip()):
        raise InvalidInput("a note saying why is required to postpone a work order")
    if current is not None and until <= current:
        raise InvalidInput(
            f"until: {until.isoformat()} is not later than the promised completion "
            f"{current.isoformat()}"
        )
    if until > latest:
        raise InvalidInput(
            f"until: {until.isoformat()} is later than {latest.isoformat()}; a completion is "
            "never promised more than a week after the job was raised"
        )


# -- checklists (the PM plan's list of items, stored on the work order) ----------------------


def checklist_of(wo: WorkOrder | Any) -> list[dict[str, Any]] | None:
    """The job's checklist (`[{"item", "done", "by", "at"}]`, from its PM plan), or None when
    it has none."""
    items = [entry for entry in wo.checklist or [] if isinstance(entry, dict)]
    return items or None


def checklist_done(wo: WorkOrder) -> bool:
    """True when the job has no checklist or every item is done."""
    items = checklist_of(wo)
    return items is None or all(bool(entry.get("done")) for entry in items)


def is_verified(wo: WorkOrder, now: datetime, sla: SlaPolicy) -> bool:
    """A fault job is verified once its alarm cleared and stayed cleared for the window. A
    job without an alarm has nothing to verify."""
    if wo.kind is not WorkOrderKind.FAULT or wo.alarm is None:
        return True
    alarm = wo.alarm
    if alarm.state is not AlarmState.CLEARED or alarm.cleared_at is None:
        return False
    return alarm.cleared_at + timedelta(seconds=sla.verification) <= now


# -- numbers, events, routing --------------------------------------------------------------


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


def route_team(session: Session, building: str | None, equipment_kind: str | None) -> Team | None:
    """The team a job goes to: its building's team of the equipment's trade, else a team of
    that trade serving every building."""
    trade = TRADE_OF_KIND.get(equipment_kind or "")
    if trade is None:
        return None
    teams = session.scalars(
        select(Team)
        .where(Team.trade == trade, or_(Team.building == building, Team.building.is_(None)))
        .order_by(Team.building.is_(None), Team.id)
    ).all()
    return teams[0] if teams else None


def _set_due(wo: WorkOrder, sla: SlaPolicy, opened: datetime) -> None:
    due = sla.due(wo.priority, opened)
    wo.opened_at = opened
    wo.respond_due_at = due.respond
    wo.start_due_at = due.on_site
    wo.resolve_due_at = due.resolve
    wo.dispatched_at = None
    wo.escalation_clock = None
    wo.escalation_stage = 0
    wo.escalated_at = None


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
    location: str | None = None,
) -> WorkOrder:
    if location is None and equipment is not None:
        parts = (f"floor {equipment.floor}" if equipment.floor else None, equipment.zone)
        location = ", ".join(p for p in parts if p) or None
    team = route_team(session, building, equipment.kind if equipment is not None else None)
    wo = WorkOrder(
        number=next_number(session),
        title=title[:256],
        description=description,
        kind=kind,
        equipment_id=equipment.id if equipment is not None else None,
        building=building,
        location=location,
        priority=priority,
        status=S.OPEN,
        created_at=now,
        updated_at=now,
        holds=0,
        postponements=0,
        reopens=0,
        follow_up=False,
        team=team,
        created_by=created_by,
    )
    _set_due(wo, sla, now)
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
        details={"team": team.name} if team is not None else None,
    )
    return wo


def create_work_order(
    session: Session,
    *,
    title: str,
    kind: WorkOrderKind,
    priority: Priority,
    now: datetime,
    sla: SlaPolicy,
    channel: Channel,
    equipment: Equipment | None = None,
    building: str | None = None,
    description: str | None = None,
    created_by: User | None = None,
    note: str | None = None,
    location: str | None = None,
) -> WorkOrder:
    """A new work order of any kind, with its due times and team; `building` defaults to the
    equipment's."""
    if equipment is not None:
        building = equipment.building
    return _new(
        session,
        title=title,
        description=description,
        kind=kind,
        priority=priority,
        equipment=equipment,
        building=building,
        now=now,
        sla=sla,
        created_by=created_by,
        channel=channel,
        note=note,
        location=location,
    )


def describe_equipment(equipment: Equipment) -> str:
    return f"{equipment.name} ({equipment.id})" if equipment.name else equipment.id


def recent_fix(
    session: Session, equipment_id: str, rule_id: str, *, now: datetime, sla: SlaPolicy
) -> WorkOrder | None:
    """The fault job for this equipment and rule fixed within `reopen_within`, if any."""
    since = now - timedelta(seconds=sla.reopen_within)
    return session.scalar(
        select(WorkOrder)
        .where(
            WorkOrder.equipment_id == equipment_id,
            WorkOrder.rule_id == rule_id,
            WorkOrder.kind == WorkOrderKind.FAULT,
            WorkOrder.status.in_((S.RESOLVED, S.CLOSED)),
            WorkOrder.resolved_at >= since,
        )
        .order_by(WorkOrder.resolved_at.desc(), WorkOrder.id.desc())
        .limit(1)
    )


def reopen(
    session: Session, wo: WorkOrder, *, alarm: Alarm, now: datetime, sla: SlaPolicy, note: str
) -> WorkOrder:
    """The fault came back soon after its fix: the same job opens again, counted against the
    repair's quality. Its owner keeps it (and hears of it first); its clocks start again."""
    source = wo.status
    previous_fix = wo.resolved_at
    wo.status = S.OPEN
    wo.alarm = alarm
    wo.open_key = fault_key(alarm.equipment_id, alarm.rule_id)
    wo.reopens += 1
    wo.reopened_at = now
    wo.updated_at = now
    wo.acknowledged_at = None
    wo.started_at = None
    wo.resolved_at = None
    wo.closed_at = None
    _set_due(wo, sla, now)
    add_event(
        session,
        wo,
        at=now,
        action="reopened",
        actor=None,
        channel=Channel.SYSTEM,
        from_status=source,
        to_status=S.OPEN,
        note=note,
        details={
            "reopens": wo.reopens,
            "fixed_at": previous_fix.isoformat() if previous_fix else None,
        },
    )
    return wo


def raise_fault(
    session: Session,
    *,
    equipment: Equipment,
    alarm: Alarm,
    rule: Rule,
    now: datetime,
    sla: SlaPolicy,
) -> WorkOrder:
    """The work order for a new occurrence of a fault. The caller has checked none is open for
    it. If the same fault was fixed within `reopen_within`, that job is reopened instead of a
    new one being raised."""
    fixed = recent_fix(session, equipment.id, rule.id, now=now, sla=sla)
    if fixed is not None:
        return reopen(session, fixed, alarm=alarm, now=now, sla=sla, note=alarm.message)
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
    location: str | None = None,
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
        location=location,
    )


# -- reading ----------------------------------------------------------------------------------


def get(session: Session, work_order_id: int, *, with_events: bool = False) -> WorkOrder:
    query = select(WorkOrder).where(WorkOrder.id == work_order_id)
    if with_events:
        query = query.options(selectinload(WorkOrder.events), selectinload(WorkOrder.attachments))
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
    status: Sequence[WorkOrderStatus] | None = None
    priority: Sequence[Priority] | None = None
    building: str | None = None
    equipment_id: str | None = None
    kind: WorkOrderKind | None = None
    assignee: str | None = None
    team: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue_at: datetime | None = None  # only jobs with a clock past due at this time


def overdue_clause(now: datetime) -> Any:
    """SQL: a live job with a clock due at or before `now` and not stopped (not acknowledged
    by its respond time, not started by its on-site time, or not done by its promised
    completion)."""
    return WorkOrder.status.in_(LIVE) & or_(
        (WorkOrder.acknowledged_at.is_(None) & (WorkOrder.respond_due_at <= now)),
        (WorkOrder.started_at.is_(None) & (WorkOrder.start_due_at <= now)),
        WorkOrder.resolve_due_at <= now,
    )


@dataclass(frozen=True, slots=True)
class Page:
    """A page of work orders as table rows (read without the ORM: a list page is read
    often), with the users and teams they name, and how many match in all."""

    rows: list[Row[Any]]
    users: dict[int, User]
    teams: dict[int, str]
    total: int


def search(session: Session, filters: Filters, *, limit: int, offset: int) -> Page:
    """A page of work orders, newest first, and how many match in all."""
    query = select(WorkOrder.id)
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
    if filters.team is not None:
        query = query.join(Team, WorkOrder.team_id == Team.id).where(Team.name == filters.team)
    if filters.created_from is not None:
        query = query.where(WorkOrder.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(WorkOrder.created_at < filters.created_to)
    if filters.overdue_at is not None:
        query = query.where(overdue_clause(filters.overdue_at))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    # The page's ids first (a narrow sort, often straight from an index), then their rows.
    ids = list(
        session.scalars(
            query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    if not ids:
        return Page([], {}, {}, total)
    table = WorkOrder.__table__
    by_id = {row.id: row for row in session.execute(select(table).where(table.c.id.in_(ids)))}
    rows = [by_id[i] for i in ids]
    user_ids = {r.assignee_id for r in rows} | {r.created_by_id for r in rows}
    user_ids.discard(None)
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    teams = (
        {i: n for i, n in session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    return Page(rows, users, teams, total)


# -- changing ---------------------------------------------------------------------------------


def _person(channel: Channel) -> None:
    if channel is Channel.SYSTEM:
        raise InvalidInput("channel 'system' is reserved for changes the service makes itself")


def _flush(session: Session, wo: WorkOrder) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            f"work order {wo.number} was changed by someone else at the same time; reload it "
            "and try again",
            code="concurrent_change",
        ) from exc


def close_verified(
    session: Session, wo: WorkOrder, *, now: datetime, note: str, actor: User | None = None
) -> None:
    """Close a resolved job whose fix is confirmed (verified telemetry or a done checklist)."""
    source = wo.status
    wo.status = S.CLOSED
    wo.closed_at = now
    wo.updated_at = now
    wo.open_key = None
    add_event(
        session,
        wo,
        at=now,
        action="close",
        actor=actor,
        channel=Channel.SYSTEM,
        from_status=source,
        to_status=S.CLOSED,
        note=note,
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
    _person(channel)
    sla = sla or shipped_sla()
    wo = get(session, work_order_id, with_events=True)
    fault_active = wo.alarm is not None and wo.alarm.state is AlarmState.ACTIVE
    target = plan(
        action,
        status=wo.status,
        role=user.role,
        is_assignee=wo.assignee_id == user.id,
        assigned=wo.assignee_id is not None,
        holds=wo.holds,
        fault_active=fault_active,
        verified=is_verified(wo, now, sla),
        checklist_done=wo.kind is not WorkOrderKind.PM or checklist_done(wo),
        note=note,
    )
    source = wo.status
    wo.status = target
    wo.updated_at = now
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
    if target in FINISHED:
        wo.open_key = None
    if wo.escalation_clock is not None and _clock_stopped(wo, wo.escalation_clock):
        wo.escalation_clock = None
        wo.escalation_stage = 0
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
    if action is Action.RESOLVE and wo.kind is WorkOrderKind.PM:
        close_verified(session, wo, now=now, note="checklist done")
    _flush(session, wo)
    return wo


def _clock_stopped(wo: WorkOrder, clock: str) -> bool:
    stops = {
        "acknowledge": wo.acknowledged_at,
        "on_site": wo.started_at,
        "complete": wo.resolved_at,
    }
    return wo.status not in LIVE or stops.get(clock) is not None


def _field_user(session: Session, username: str) -> User:
    found = get_user(session, username)
    if found is None:
        raise InvalidInput(f"assignee: user {username!r} does not exist")
    if not found.active:
        raise InvalidInput(f"assignee: user {username!r} is deactivated")
    if found.role not in (Role.TECHNICIAN, Role.SUPERVISOR):
        raise InvalidInput(
            f"assignee: {username!r} is a {found.role.value}; jobs go to technicians and "
            "supervisors"
        )
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
    _person(channel)
    if user.role not in OFFICE:
        raise Forbidden(
            f"the {user.role.value} role may not assign work orders (allowed: {_roles(OFFICE)})"
        )
    wo = get(session, work_order_id, with_events=True)
    if wo.status not in LIVE:
        raise Conflict(
            f"cannot assign a work order that is {wo.status.value}", code="invalid_transition"
        )
    to = _field_user(session, assignee)
    previous = wo.assignee
    if previous is not None and previous.id == to.id:
        raise Conflict(
            f"work order {wo.number} is already assigned to {assignee}", code="no_change"
        )
    wo.assignee = to
    wo.updated_at = now
    if wo.status is S.OPEN:
        wo.dispatched_at = None  # the ticker sends it to the new assignee
    was = f" (was {previous.username})" if previous is not None else ""
    add_event(
        session,
        wo,
        at=now,
        action="assign",
        actor=user,
        channel=channel,
        note=note or f"assigned to {to.username}{was}",
        details={"assignee": to.username, "previous": previous.username if previous else None},
    )
    _flush(session, wo)
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
    _person(channel)
    wo = get(session, work_order_id, with_events=True)
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
    wo.updated_at = now
    if wo.escalation_clock == "complete":
        wo.escalation_clock = None
        wo.escalation_stage = 0
    add_event(
        session,
        wo,
        at=now,
        action="postpone",
        actor=user,
        channel=channel,
        note=note,
        details={
            "from": previous.isoformat() if previous else None,
            "to": until.isoformat(),
        },
    )
    _flush(session, wo)
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
    _person(channel)
    if not text.strip():
        raise InvalidInput("text: a comment must not be empty")
    wo = get(session, work_order_id, with_events=True)
    wo.updated_at = now
    event = add_event(
        session, wo, at=now, action="comment", actor=user, channel=channel, note=text.strip()
    )
    _flush(session, wo)
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
    _person(channel)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"url: {url[:200]!r} is not an http(s) URL")
    if not name.strip():
        raise InvalidInput("name: an attachment needs a name")
    wo = get(session, work_order_id, with_events=True)
    attachment = WorkOrderAttachment(
        url=url, name=name.strip(), added_by=user.username, added_at=now
    )
    wo.attachments.append(attachment)
    wo.updated_at = now
    add_event(
        session,
        wo,
        at=now,
        action="attachment",
        actor=user,
        channel=channel,
        note=name.strip(),
        details={"url": url, "name": name.strip()},
    )
    _flush(session, wo)
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
    _person(channel)
    if user.role not in FIELD:
        raise Forbidden(
            f"the {user.role.value} role may not record follow-up visits (allowed: {_roles(FIELD)})"
        )
    if not (note and note.strip()):
        raise InvalidInput("a note saying what the follow-up found is required")
    wo = get(session, work_order_id, with_events=True)
    if wo.kind not in REPAIRS:
        raise Conflict(
            f"follow-up visits are for repairs; {wo.number} is a {wo.kind.value} work order",
            code="not_a_repair",
        )
    if wo.status not in (S.RESOLVED, S.CLOSED):
        raise Conflict(
            f"a follow-up visit comes after the repair; {wo.number} is {wo.status.value}",
            code="invalid_transition",
        )
    wo.follow_up = True
    wo.follow_up_at = now
    wo.updated_at = now
    add_event(session, wo, at=now, action="follow_up", actor=user, channel=channel, note=note)
    _flush(session, wo)
    return wo


def check_item(
    session: Session,
    work_order_id: int,
    index: int,
    *,
    done: bool,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """Tick (or untick) item `index` (from 0) of a PM job's checklist."""
    _person(channel)
    wo = get(session, work_order_id, with_events=True)
    items = checklist_of(wo)
    if items is None:
        raise Conflict(f"work order {wo.number} has no checklist", code="no_checklist")
    if not 0 <= index < len(items):
        raise NotFound(f"work order {wo.number} has no checklist item {index}")
    if user.role not in FIELD:
        raise Forbidden(
            f"the {user.role.value} role may not tick checklists (allowed: {_roles(FIELD)})"
        )
    if wo.status not in (S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD):
        raise Conflict(
            f"the checklist is ticked while the work is under way; {wo.number} is "
            f"{wo.status.value}",
            code="invalid_transition",
        )
    if user.role is Role.TECHNICIAN and wo.assignee_id != user.id:
        raise Forbidden(
            "only the technician who owns this work order may tick its checklist",
            code="not_assignee",
        )
    entry = dict(items[index])
    entry["done"] = done
    entry["by"] = user.username if done else None
    entry["at"] = now.isoformat() if done else None
    items[index] = entry
    wo.checklist = items  # a new list: the JSON column is saved
    wo.updated_at = now
    label = str(entry.get("item") or entry.get("text") or f"item {index}")
    add_event(
        session,
        wo,
        at=now,
        action="check" if done else "uncheck",
        actor=user,
        channel=channel,
        note=note or label,
        details={"index": index, "item": label, "done": done},
    )
    _flush(session, wo)
    return wo
