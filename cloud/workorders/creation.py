"""Raising work orders: a fault's job (or the same job reopened when the fault came back soon
after its fix), a job someone asked for, and any other kind; each numbered, routed to a team,
with its due times and its first audit event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.assets.kinds import routing_kind
from cloud.enums import Channel, Priority, WorkOrderKind
from cloud.equipment import Equipment
from cloud.equipment import key as equipment_key
from cloud.errors import InvalidInput
from cloud.locale import N_
from cloud.locale.composed import Composed, Label, Note, compose, labelled, paragraphs
from cloud.locale.shipped import FLOOR
from cloud.orm import Counter
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy
from cloud.users.model import Team, User
from cloud.workorders import queries
from cloud.workorders.audit import add_event, record_change
from cloud.workorders.model import WorkOrder
from cloud.workorders.routing import route_team
from cloud.workorders.rules import S, fault_key

NUMBER_COUNTER = "work_order_number"


_NEXT_NUMBER = (
    update(Counter)
    .where(Counter.name == NUMBER_COUNTER)
    .values(value=Counter.value + 1)
    .returning(Counter.value)
)


def next_number(session: Session) -> str:
    """WO-000001, WO-000002, …: an atomic counter, portable across SQLite and PostgreSQL.
    Run on the session's connection, as SQL alone: no counter is held as an object to keep in
    step, so the ORM's work on an UPDATE (a third of a fault's lookups' CPU) is skipped."""
    value = session.connection().execute(_NEXT_NUMBER).scalar()
    if value is None:
        session.add(Counter(name=NUMBER_COUNTER, value=1))
        session.flush()
        value = 1
    return f"WO-{value:06d}"


def set_due(wo: WorkOrder, sla: SlaPolicy, opened: datetime) -> None:
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
    note: Note,
    location: str | None = None,
    team: Team | None = None,
) -> WorkOrder:
    if location is None and equipment is not None:
        floor = FLOOR.format(floor=equipment.floor) if equipment.floor else None
        parts = (floor, equipment.zone)
        location = ", ".join(p for p in parts if p) or None
    if team is None:
        trade_kind = routing_kind(equipment.kind) if equipment is not None else None
        team = route_team(session, building, trade_kind, now=now)
    wo = WorkOrder(
        number=next_number(session),
        title=title[:256],
        description=description,
        kind=kind,
        equipment_id=equipment.id if equipment is not None else None,
        site=equipment.site if equipment is not None else None,  # else its building's
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
        sign_off_required=team is not None and team.contractor and team.sign_off_required,
    )
    set_due(wo, sla, now)
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
    note: Note = None,
    location: str | None = None,
    team: Team | None = None,
) -> WorkOrder:
    """A new work order of any kind, with its due times and team (`team`, else as routed);
    `building` defaults to the equipment's."""
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
        team=team,
    )


def raise_for_rule(
    session: Session,
    *,
    rule_id: str,
    key: str,
    title: str,
    kind: WorkOrderKind,
    priority: Priority,
    now: datetime,
    sla: SlaPolicy,
    equipment: Equipment | None = None,
    building: str | None = None,
    description: str | None,
    note: Note,
    checklist: Iterable[str | dict[str, Any]] = (),
    team: Team | None = None,
) -> WorkOrder:
    """A work order the system raises for `rule_id` on `key` (an equipment's key,
    `cloud.equipment.key`, or another name of what the rule watches): while it is open no
    other can be raised for the same rule and key (`open_key`); `checklist` is its list of
    items (a text, or an entry with its reading), none done; `team`, when given, takes the job
    instead of the routed one."""
    wo = create_work_order(
        session,
        title=title,
        kind=kind,
        priority=priority,
        now=now,
        sla=sla,
        channel=Channel.SYSTEM,
        equipment=equipment,
        building=building,
        description=description,
        note=note,
        team=team,
    )
    wo.rule_id = rule_id
    wo.open_key = fault_key(key, rule_id)
    wo.checklist = [
        {"item": item, "done": False, "by": None, "at": None} if isinstance(item, str) else item
        for item in checklist
    ]
    return wo


def describe_equipment(equipment: Equipment) -> str:
    return f"{equipment.name} ({equipment.id})" if equipment.name else equipment.id


def place(equipment: Equipment) -> Composed:
    """Where `equipment` is: its building, floor and zone, as far as they are known."""
    where = compose(N_("building %(building)s"), building=equipment.building)
    if equipment.floor:
        where = compose(N_("%(place)s, floor %(floor)s"), place=where, floor=equipment.floor)
    if equipment.zone:
        where = compose(N_("%(place)s, zone %(zone)s"), place=where, zone=equipment.zone)
    return where


def reopen(
    session: Session,
    wo: WorkOrder,
    *,
    alarm: Alarm | None,
    now: datetime,
    sla: SlaPolicy,
    note: Note,
    details: dict[str, Any] | None = None,
) -> WorkOrder:
    """The fault came back soon after its fix (`alarm`), or its reporter says it is not fixed
    (no alarm; `details` say so): the same job opens again, counted against the repair's
    quality. Its owner keeps it (and hears of it first); its clocks start again."""
    previous_fix = wo.resolved_at
    if alarm is not None:
        if alarm.site is None:  # set as it is raised (`cloud.alarms.service.open_alarm`)
            raise ValueError(f"alarm {alarm.rule_id} on {alarm.equipment_id}: no site")
        wo.alarm = alarm
        wo.open_key = fault_key(equipment_key(alarm.site, alarm.equipment_id), alarm.rule_id)
    wo.reopens += 1
    wo.reopened_at = now
    wo.acknowledged_at = None
    wo.started_at = None
    wo.resolved_at = None
    wo.closed_at = None
    set_due(wo, sla, now)
    record_change(
        session,
        wo,
        at=now,
        action="reopened",
        actor=None,
        channel=Channel.SYSTEM,
        to=S.OPEN,
        note=note,
        details={
            "reopens": wo.reopens,
            "fixed_at": previous_fix.isoformat() if previous_fix else None,
            **(details or {}),
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
    new one being raised. Its lookups (the recent fix, the team, the number) do not flush what
    the session holds (the new alarm): the caller's one flush writes the alarm, the job and
    its event together."""
    with session.no_autoflush:
        fixed = queries.recent_fix(session, equipment, rule.id, now=now, sla=sla)
        if fixed is not None:
            return reopen(
                session, fixed, alarm=alarm, now=now, sla=sla, note=labelled(alarm.message)
            )
        description, parts = paragraphs(
            Label(rule.description) if rule.description else None,
            compose(N_("Location: %(place)s."), place=place(equipment)),
        )
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
            note=labelled(alarm.message),
        )
        wo.description_message = parts
        wo.alarm = alarm
        wo.rule_id = rule.id
        wo.open_key = fault_key(equipment_key(equipment.site, equipment.id), rule.id)
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
    site: str | None = None,
) -> WorkOrder:
    """A work order someone asked for (a reported problem), not raised by a rule; `site`:
    the equipment's, when its id is used at several sites."""
    equipment = None
    if equipment_id is not None:
        query = select(Equipment).where(Equipment.id == equipment_id)
        if site is not None:
            query = query.where(Equipment.site == site)
        found = list(session.scalars(query.limit(2)))
        if len(found) > 1:
            raise InvalidInput(
                f"equipment {equipment_id!r} is at several sites; say which with site"
            )
        equipment = found[0] if found else None
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
