"""Maintenance windows: creating, listing and ending them; and what a running window does to
an alarm its equipment raises (held: recorded and shelved, no work order, no notification).

Every change is an event in the window's audit trail (`maintenance_events`), with who, when
and why, as a work order's changes are in its own."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload

from cloud.alarms import service as alarms
from cloud.alarms.messages import IN_MAINTENANCE
from cloud.alarms.model import Alarm
from cloud.enums import Role
from cloud.equipment import Equipment
from cloud.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloud.locale.composed import Note, labelled, stored
from cloud.maintenance.model import MaintenanceEvent, MaintenanceWindow, running_at
from cloud.maintenance.window import Window, check_reason, check_times
from cloud.rules.engine import Transition
from cloud.siting import site_for
from cloud.users.model import User
from cloud.users.sites import access_of, find_equipment, of_sites
from cloud.workorders import queries
from cloud.workorders.rules import SYSTEM_ACTOR

log = logging.getLogger(__name__)

# who may put equipment in maintenance and end it: the office and the service desk
MAY_SET = frozenset({Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN})
MAX_LIST = 500
MAX_UNSETTLED = 10_000  # windows the board holds at most (a site has far fewer)


def add_event(
    session: Session,
    window: MaintenanceWindow,
    action: str,
    *,
    at: datetime,
    actor: User | None = None,
    note: Note = None,
    details: dict[str, Any] | None = None,
) -> MaintenanceEvent:
    text, message = stored(note)
    event = MaintenanceEvent(
        at=at,
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor=actor.username if actor is not None else SYSTEM_ACTOR,
        note=text[:2000] if text else None,
        note_message=message,
        details=details,
    )
    window.events.append(event)
    return event


def may_set(user: User) -> None:
    if user.role not in MAY_SET:
        allowed = ", ".join(sorted(r.value for r in MAY_SET))
        raise Forbidden(
            f"the {user.role.value} role may not put equipment in maintenance (allowed: {allowed})"
        )


def create(
    session: Session,
    *,
    user: User | None,
    equipment_id: str | None,
    site: str | None = None,
    building: str | None,
    starts_at: datetime | None,
    ends_at: datetime,
    reason: str,
    now: datetime,
    max_duration: timedelta,
    past_skew: timedelta,
    work_order_id: int | None = None,
) -> MaintenanceWindow:
    """A new window for one piece of equipment or one building (exactly one of the two);
    `starts_at` None: now. `user` None: the service itself (a PM job). `site`: the
    equipment's, when its id is used at several sites."""
    if user is not None:
        may_set(user)
    if (equipment_id is None) == (building is None):
        raise InvalidInput("give equipment_id or building, exactly one of the two")
    if equipment_id is not None:
        try:
            equipment: Equipment | None = find_equipment(session, equipment_id, site)
        except NotFound:
            equipment = None
        if equipment is None or not equipment.in_inventory:
            raise InvalidInput(f"equipment_id: {equipment_id!r} is not in the registry")
        site = equipment.site
    elif building is not None:
        known = session.scalar(
            select(Equipment.id)
            .where(Equipment.building == building, Equipment.in_inventory.is_(True))
            .limit(1)
        )
        if known is None:
            raise InvalidInput(f"building: {building!r} has no equipment in the registry")
        site = site_for(session.connection(), None, building)
    text = check_reason(reason)
    start = starts_at if starts_at is not None else now
    check_times(start, ends_at, now=now, max_duration=max_duration, past_skew=past_skew)
    start = max(start, now)  # a start within the skew is now: nothing before it is undone
    window = MaintenanceWindow(
        equipment_id=equipment_id,
        site=site,
        building=building,
        starts_at=start,
        ends_at=ends_at,
        reason=text,
        created_at=now,
        created_by=user.username if user is not None else SYSTEM_ACTOR,
        created_by_id=user.id if user is not None else None,
        work_order_id=work_order_id,
    )
    session.add(window)
    add_event(
        session,
        window,
        "created",
        at=now,
        actor=user,
        note=text,
        details={"starts_at": start.isoformat(), "ends_at": ends_at.isoformat()},
    )
    session.flush()
    log.info(
        "maintenance window %d: %s in maintenance %s .. %s by %s: %s",
        window.id,
        equipment_id or f"building {building}",
        start.isoformat(),
        ends_at.isoformat(),
        window.created_by,
        text,
    )
    return window


def _of_access(session: Session) -> Any:
    """SQL: a window of the caller's sites (another site's does not exist for them)."""
    return of_sites(
        access_of(session).sites, MaintenanceWindow.site, building=MaintenanceWindow.building
    )


def get(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.scalar(
        select(MaintenanceWindow)
        .where(MaintenanceWindow.id == window_id, _of_access(session))
        .options(selectinload(MaintenanceWindow.events))
    )
    if window is None:
        raise NotFound(f"maintenance window {window_id} does not exist")
    return window


def end_early(
    session: Session,
    window_id: int,
    *,
    user: User | None,
    now: datetime,
    note: str | None = None,
) -> MaintenanceWindow:
    """End a window before its planned end (a coming one is called off). Its alarms still
    active go the normal way at the next settling, within seconds."""
    if user is not None:
        may_set(user)
    window = get(session, window_id)
    if window.ended_at is not None:
        raise Conflict(
            f"maintenance window {window_id} was already ended by {window.ended_by} at "
            f"{window.ended_at.isoformat()}",
            code="already_ended",
        )
    if window.ends_at <= now:
        raise Conflict(
            f"maintenance window {window_id} is over (it ended at {window.ends_at.isoformat()})",
            code="already_ended",
        )
    window.ended_at = max(now, window.starts_at)
    window.ended_by = user.username if user is not None else SYSTEM_ACTOR
    add_event(session, window, "ended_early", at=now, actor=user, note=note)
    session.flush()
    log.info("maintenance window %d ended early by %s", window.id, window.ended_by)
    return window


def search(
    session: Session,
    *,
    now: datetime,
    current: bool | None = None,
    equipment_id: str | None = None,
    building: str | None = None,
    site: str | None = None,
    limit: int = 100,
) -> list[MaintenanceWindow]:
    """Windows, the latest starting first. `current`: only those running now (True), or only
    the others (False). `equipment_id`: those covering it (its own and its building's);
    `building`: that building's (its own and its equipment's). `site`: the equipment's, when
    its id is used at several of the caller's sites."""
    query = select(MaintenanceWindow).where(_of_access(session))
    if current is not None:
        query = query.where(running_at(now) if current else ~running_at(now))
    if equipment_id is not None:
        equipment = find_equipment(session, equipment_id, site)
        query = query.where(
            or_(
                and_(
                    MaintenanceWindow.site == equipment.site,
                    MaintenanceWindow.equipment_id == equipment_id,
                ),
                MaintenanceWindow.building == equipment.building,
            )
        )
    if building is not None:
        members = select(Equipment.site, Equipment.id).where(Equipment.building == building)
        mine = tuple_(MaintenanceWindow.site, MaintenanceWindow.equipment_id).in_(members)
        query = query.where(or_(MaintenanceWindow.building == building, mine))
    query = query.order_by(MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc())
    query = query.options(selectinload(MaintenanceWindow.events)).limit(min(limit, MAX_LIST))
    return list(session.scalars(query).all())


def unsettled(session: Session) -> list[Window]:
    """Every window whose end is still to be applied: what the board holds."""
    rows = session.scalars(
        select(MaintenanceWindow)
        .where(MaintenanceWindow.settled_at.is_(None))
        .order_by(MaintenanceWindow.id)
        .limit(MAX_UNSETTLED)
    ).all()
    return [Window.of(row) for row in rows]


def hold(
    session: Session, transition: Transition, *, equipment: Equipment, window: Window, now: datetime
) -> Alarm:
    """A rule fired on equipment in maintenance: the alarm is recorded, shelved until the
    window's end and marked with it; no work order is raised and nobody is told. A job already
    open for the fault is left as it is (its alarm is refreshed, nothing is added to its
    trail)."""
    rule = transition.rule
    open_wo = queries.open_for_fault(session, equipment, rule.id)
    existing = open_wo.alarm if open_wo is not None else None
    if existing is None:
        existing = alarms.active(session, equipment, rule.id)
    if existing is not None:
        if alarms.retrigger(existing, rule, transition.values, transition.message, now):
            existing.occurrences += 1
        return existing
    alarm = alarms.open_alarm(
        session,
        equipment=equipment,
        rule=rule,
        values=transition.values,
        message=transition.message,
        now=now,
    )
    alarm.maintenance_id = window.id
    alarm.shelved_until = window.until
    alarm.shelved_reason = IN_MAINTENANCE.format(reason=window.reason)[:500]
    alarm.shelved_by = window.created_by
    session.flush()
    row = session.get(MaintenanceWindow, window.id)
    if row is not None:
        add_event(
            session,
            row,
            "alarm_held",
            at=now,
            note=labelled(transition.message),
            details={"alarm_id": alarm.id, "equipment_id": equipment.id, "rule_id": rule.id},
        )
    log.info(
        "alarm %s on %s held: in maintenance until %s (window %d)",
        rule.id,
        equipment.id,
        window.until.isoformat(),
        window.id,
    )
    return alarm


MAX_ANNOTATED = 1000


def annotated(
    session: Session, *, since: datetime
) -> list[tuple[MaintenanceWindow, list[tuple[str, str]]]]:
    """The windows that ended after `since` or have not ended (at most `MAX_ANNOTATED`, the
    latest), each with the (equipment, building) it covers: a building's window covers the
    building's equipment in the inventory."""
    until = func.coalesce(MaintenanceWindow.ended_at, MaintenanceWindow.ends_at)
    rows = session.scalars(
        select(MaintenanceWindow)
        .where(until >= since)
        .order_by(MaintenanceWindow.id.desc())
        .limit(MAX_ANNOTATED)
    ).all()
    buildings = {r.building for r in rows if r.building is not None}
    ids = {r.equipment_id for r in rows if r.equipment_id is not None}
    members: dict[str, list[tuple[str, str]]] = {}
    where: dict[tuple[str, str], str] = {}
    if buildings or ids:
        for site, equipment_id, building in session.execute(
            select(Equipment.site, Equipment.id, Equipment.building)
            .where(
                Equipment.in_inventory.is_(True),
                or_(Equipment.building.in_(buildings), Equipment.id.in_(ids)),
            )
            .order_by(Equipment.id)
        ).all():
            members.setdefault(building, []).append((equipment_id, building))
            where[site, equipment_id] = building
    out: list[tuple[MaintenanceWindow, list[tuple[str, str]]]] = []
    for row in rows:
        found = where.get((row.site or "", row.equipment_id or ""))
        if row.equipment_id is None:
            covered = members.get(row.building or "", [])
        elif found is not None:
            covered = [(row.equipment_id, found)]
        else:
            covered = []
        out.append((row, covered))
    return out
