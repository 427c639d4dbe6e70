"""The fault path, top down: what one rule transition does, step by step.

    rule transition (cloud.rules.engine, from Monitor.process in cloud.monitor)
      → building incident?   cloud.incidents.service  (an outage folds many lost devices)
      → alarm raised/cleared cloud.alarms.service
      → work order           cloud.workorders.creation (raised, or reopened after a recent fix)
      → events published     cloud.workorders.audit    (the audit trail is the outbox)

A rule firing on a piece of equipment makes an alarm active and raises exactly one work order.
While that work order is open, the same fault raises nothing new: a re-trigger re-activates
and updates the same alarm and notes it on the work order. When the condition clears, the
alarm clears and the work order hears of it; the job stays for the technician, and the SLA
ticker (`cloud.sla.escalator`) closes it once the fault has stayed cleared for the verification
window. An alarm folded into a building incident raises no work order of its own. An alarm
raised while its equipment is in maintenance is held (`cloud.maintenance`): recorded and
shelved, no work order, until the window's end, when it goes this way if still active.

Each step is a call into its domain; no domain calls back up into this module, and the alarms
domain knows nothing of work orders.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.alarms import service as alarms
from cloud.alarms.model import Alarm
from cloud.enums import Channel
from cloud.equipment import Equipment
from cloud.incidents.model import Incident
from cloud.incidents.service import IncidentManager
from cloud.locale.composed import labelled
from cloud.maintenance import service as maintenance
from cloud.maintenance.window import Board
from cloud.rules.engine import Change, Transition
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy
from cloud.users.model import User
from cloud.workorders import creation, queries
from cloud.workorders.audit import add_event, system_event
from cloud.workorders.model import WorkOrder

log = logging.getLogger(__name__)


def apply(
    session: Session,
    transition: Transition,
    *,
    equipment: Equipment,
    now: datetime,
    sla: SlaPolicy,
    incidents: IncidentManager,
    held: Board | None = None,
) -> Alarm | None:
    """Everything one transition does; returns the alarm it touched. `held`: the maintenance
    windows, whose equipment's alarms are held rather than raised."""
    if transition.change is Change.RAISED:
        window = (
            held.covering(equipment.id, equipment.building, now, site=equipment.site)
            if held
            else None
        )
        if window is not None:
            return maintenance.hold(
                session, transition, equipment=equipment, window=window, now=now
            )
        incident = incidents.incident_for(
            session, transition, equipment=equipment, now=now, sla=sla
        )
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
    cleared = clear_alarm(
        session,
        equipment=equipment,
        rule_id=transition.rule.id,
        values=transition.values,
        message=transition.message,
        now=now,
    )
    if cleared is not None and cleared.incident_id is not None:
        incidents.after_clear(session, cleared.incident_id, now=now)
    return cleared


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
    open_wo = queries.open_for_fault(session, equipment, rule.id)
    if open_wo is not None and open_wo.alarm is not None:
        alarm = open_wo.alarm
        if alarms.retrigger(alarm, rule, values, message, now):
            alarm.occurrences += 1
            system_event(session, open_wo, "fault_recurred", labelled(message), at=now)
        log.info(
            "%s on %s re-triggered; work order %s still open", rule.id, equipment.id, open_wo.number
        )
        return alarm, None
    active = alarms.active(session, equipment, rule.id)
    if active is not None:
        # Active, but its work order was cancelled or resolved by hand: the fault is known
        # and being dealt with, so only the alarm is refreshed.
        alarms.retrigger(active, rule, values, message, now)
        return active, None
    alarm = alarms.open_alarm(
        session,
        equipment=equipment,
        rule=rule,
        values=values,
        message=message,
        now=now,
        incident=incident,
    )
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
    wo = creation.raise_fault(
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


def clear_alarm(
    session: Session,
    *,
    equipment: Equipment,
    rule_id: str,
    values: dict[str, Any],
    message: str,
    now: datetime,
) -> Alarm | None:
    """Clear the alarm; its open work order (if any) hears that telemetry shows the fault
    gone, the first step of its verification."""
    alarm = alarms.clear(session, equipment=equipment, rule_id=rule_id, values=values, now=now)
    if alarm is None:
        return None
    wo = queries.open_for_alarm(session, alarm.id)
    if wo is not None:
        system_event(session, wo, "fault_cleared", labelled(message), at=now)
    return alarm


def acknowledge(
    session: Session,
    alarm_id: int,
    *,
    user: User,
    now: datetime,
    note: str | None = None,
    channel: Channel = Channel.API,
) -> Alarm:
    """A person has seen the alarm; its open work order's trail says so. Acknowledging an
    alarm does not take the work order (acknowledging that does)."""
    alarm = alarms.acknowledge(session, alarm_id, user=user, now=now)
    wo = queries.open_for_alarm(session, alarm.id)
    if wo is not None:
        add_event(
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
