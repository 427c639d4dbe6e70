"""Alarms: what the rule engine's transitions do to the database.

An alarm has two sides: **active** or **cleared** (what the equipment says) and
**unacknowledged** or **acknowledged** (whether a person has seen it). There is one alarm per
equipment and rule at a time: a re-trigger updates the same row (re-activating it counts an
occurrence and makes it unacknowledged again) rather than adding one. Each alarm keeps when it
was raised, last raised, cleared and acknowledged, and by whom.

A rule firing on a piece of equipment makes an alarm active and raises exactly one work order.
While that work order is open, the same fault raises nothing new: a re-trigger re-activates
and updates the same alarm (and notes it on the work order). When the condition clears, the
alarm clears; the work order stays for the technician. An alarm folded into a building
incident (`cloud.incidents`) raises no work order of its own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud import workorders
from cloud.enums import AlarmState, Channel
from cloud.errors import Conflict, NotFound
from cloud.models import Alarm, Equipment, Incident, User, WorkOrder
from cloud.rules.engine import Change, Transition
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy

log = logging.getLogger(__name__)


def _active(session: Session, equipment_id: str, rule_id: str) -> Alarm | None:
    return session.scalar(
        select(Alarm)
        .where(
            Alarm.equipment_id == equipment_id,
            Alarm.rule_id == rule_id,
            Alarm.state == AlarmState.ACTIVE,
        )
        .order_by(Alarm.id.desc())
        .limit(1)
    )


def lifecycle(alarm: Alarm) -> str:
    """`active_unacknowledged`, `active_acknowledged`, `cleared_unacknowledged` or
    `cleared_acknowledged`."""
    ack = "acknowledged" if alarm.acknowledged else "unacknowledged"
    return f"{alarm.state.value}_{ack}"


def raise_alarm(
    session: Session,
    *,
    equipment: Equipment,
    rule: Rule,
    values: dict[str, Any],
    message: str,
    now: datetime,
    sla: SlaPolicy,
    incident: Incident | None = None,
) -> tuple[Alarm, WorkOrder | None]:
    """Make the alarm active; returns it and the work order raised for it (None if one was
    already open, or if the alarm is folded into `incident`)."""
    open_wo = workorders.open_for_fault(session, equipment.id, rule.id)
    if open_wo is not None and open_wo.alarm is not None:
        alarm = open_wo.alarm
        recurred = alarm.state is AlarmState.CLEARED
        _update(alarm, rule, values, message, now)
        if recurred:
            alarm.occurrences += 1
            workorders.add_event(
                session,
                open_wo,
                at=now,
                action="fault_recurred",
                actor=None,
                channel=Channel.SYSTEM,
                note=message,
            )
        log.info(
            "%s on %s re-triggered; work order %s still open", rule.id, equipment.id, open_wo.number
        )
        return alarm, None
    active = _active(session, equipment.id, rule.id)
    if active is not None:
        # Active, but its work order was cancelled or resolved by hand: the fault is known
        # and being dealt with, so only the alarm is refreshed.
        _update(active, rule, values, message, now)
        return active, None
    alarm = Alarm(
        equipment_id=equipment.id,
        rule_id=rule.id,
        severity=rule.severity,
        state=AlarmState.ACTIVE,
        message=message[:512],
        last_value=dict(values),
        raised_at=now,
        last_raised_at=now,
        occurrences=1,
        acknowledged=False,
        incident_id=incident.id if incident is not None else None,
    )
    session.add(alarm)
    if incident is not None:
        session.flush()
        log.warning(
            "alarm %s on %s raised: %s; folded into incident %d (building %s)",
            rule.id,
            equipment.id,
            message,
            incident.id,
            incident.building,
        )
        return alarm, None
    wo = workorders.raise_fault(
        session, equipment=equipment, alarm=alarm, rule=rule, now=now, sla=sla
    )
    session.flush()
    log.warning(
        "alarm %s on %s raised: %s; work order %s (%s)",
        rule.id,
        equipment.id,
        message,
        wo.number,
        wo.priority.value,
    )
    return alarm, wo


def _update(alarm: Alarm, rule: Rule, values: dict[str, Any], message: str, now: datetime) -> None:
    if alarm.state is AlarmState.CLEARED:
        # back again: a person has to see it again
        alarm.acknowledged = False
        alarm.acknowledged_at = None
        alarm.acknowledged_by_id = None
    alarm.state = AlarmState.ACTIVE
    alarm.cleared_at = None
    alarm.severity = rule.severity
    alarm.message = message[:512]
    alarm.last_value = dict(values)
    alarm.last_raised_at = now


def clear_alarm(
    session: Session,
    *,
    equipment_id: str,
    rule_id: str,
    values: dict[str, Any],
    message: str,
    now: datetime,
) -> Alarm | None:
    alarm = _active(session, equipment_id, rule_id)
    if alarm is None:
        return None
    alarm.state = AlarmState.CLEARED
    alarm.cleared_at = now
    alarm.last_value = dict(values)
    wo = session.scalar(
        select(WorkOrder).where(WorkOrder.alarm_id == alarm.id, WorkOrder.open_key.is_not(None))
    )
    if wo is not None:
        workorders.add_event(
            session,
            wo,
            at=now,
            action="fault_cleared",
            actor=None,
            channel=Channel.SYSTEM,
            note=message,
        )
    log.info("alarm %s on %s cleared", rule_id, equipment_id)
    return alarm


def apply(
    session: Session,
    transition: Transition,
    *,
    equipment: Equipment,
    now: datetime,
    sla: SlaPolicy,
    incident: Incident | None = None,
) -> Alarm | None:
    """Raise or clear the alarm of one transition; returns the alarm it touched."""
    if transition.change is Change.RAISED:
        alarm, _ = raise_alarm(
            session,
            equipment=equipment,
            rule=transition.rule,
            values=transition.values,
            message=transition.message,
            now=now,
            sla=sla,
            incident=incident,
        )
        return alarm
    return clear_alarm(
        session,
        equipment_id=equipment.id,
        rule_id=transition.rule.id,
        values=transition.values,
        message=transition.message,
        now=now,
    )


def acknowledge(
    session: Session,
    alarm_id: int,
    *,
    user: User,
    now: datetime,
    note: str | None = None,
    channel: Channel = Channel.API,
) -> Alarm:
    """A person has seen the alarm: who and when are kept. Acknowledging does not clear it
    (only the equipment can) and does not take the work order (acknowledging that does)."""
    alarm = get(session, alarm_id)
    if alarm.acknowledged:
        who = alarm.acknowledged_by.username if alarm.acknowledged_by else "someone"
        when = alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else "earlier"
        raise Conflict(
            f"alarm {alarm_id} was already acknowledged by {who} at {when}",
            code="already_acknowledged",
        )
    alarm.acknowledged = True
    alarm.acknowledged_at = now
    alarm.acknowledged_by_id = user.id
    alarm.acknowledged_by = user
    wo = session.scalar(
        select(WorkOrder).where(WorkOrder.alarm_id == alarm.id, WorkOrder.open_key.is_not(None))
    )
    if wo is not None:
        workorders.add_event(
            session,
            wo,
            at=now,
            action="alarm_acknowledged",
            actor=user,
            channel=channel,
            note=note,
        )
    session.flush()
    log.info(
        "alarm %d (%s on %s) acknowledged by %s",
        alarm.id,
        alarm.rule_id,
        alarm.equipment_id,
        user.username,
    )
    return alarm


def active_alarms(session: Session) -> list[Alarm]:
    return list(session.scalars(select(Alarm).where(Alarm.state == AlarmState.ACTIVE)).all())


def get(session: Session, alarm_id: int) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(f"alarm {alarm_id} does not exist")
    return alarm


def search(
    session: Session,
    *,
    state: AlarmState | None = None,
    equipment_id: str | None = None,
    building: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Alarm], int]:
    """A page of alarms, newest raised first, and how many match in all."""
    query = select(Alarm)
    if state is not None:
        query = query.where(Alarm.state == state)
    if equipment_id is not None:
        query = query.where(Alarm.equipment_id == equipment_id)
    if building is not None:
        query = query.join(Equipment, Alarm.equipment_id == Equipment.id).where(
            Equipment.building == building
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(Alarm.last_raised_at.desc(), Alarm.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(items), total
