"""Alarms: what a rule firing does to the alarms table, and what people do to alarms.

An alarm has two sides: **active** or **cleared** (what the equipment says) and
**unacknowledged** or **acknowledged** (whether a person has seen it). There is one alarm per
equipment and rule at a time: a re-trigger updates the same row (re-activating it counts an
occurrence and makes it unacknowledged again) rather than adding one. Each alarm keeps when it
was raised, last raised, cleared and acknowledged, and by whom.

This module knows alarms only; what an alarm does to work orders is the fault path,
`cloud.faults`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.enums import AlarmState
from cloud.equipment import Equipment
from cloud.errors import Conflict, InvalidInput, existing
from cloud.incidents.model import Incident
from cloud.paging import page, where_equal
from cloud.rules.model import Rule
from cloud.users.model import User
from cloud.users.sites import access_of

log = logging.getLogger(__name__)


# built once: every raise and clear runs it, and building it costs as much as running it
_ACTIVE = (
    select(Alarm)
    .where(
        Alarm.site == bindparam("b_site"),
        Alarm.equipment_id == bindparam("b_id"),
        Alarm.rule_id == bindparam("b_rule"),
        Alarm.state == AlarmState.ACTIVE,
    )
    .order_by(Alarm.id.desc())
    .limit(1)
)


def active(session: Session, equipment: Equipment, rule_id: str) -> Alarm | None:
    """The active alarm of this rule on this equipment, if any."""
    return session.scalar(
        _ACTIVE, {"b_site": equipment.site, "b_id": equipment.id, "b_rule": rule_id}
    )


def lifecycle(alarm: Alarm) -> str:
    """`active_unacknowledged`, `active_acknowledged`, `cleared_unacknowledged` or
    `cleared_acknowledged`."""
    ack = "acknowledged" if alarm.acknowledged else "unacknowledged"
    return f"{alarm.state.value}_{ack}"


def open_alarm(
    session: Session,
    *,
    equipment: Equipment,
    rule: Rule,
    values: dict[str, Any],
    message: str,
    now: datetime,
    incident: Incident | None = None,
) -> Alarm:
    """A new active alarm, unacknowledged, folded into `incident` when one is given."""
    alarm = Alarm(
        equipment_id=equipment.id,
        site=equipment.site,
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
    return alarm


def retrigger(
    alarm: Alarm, rule: Rule, values: dict[str, Any], message: str, now: datetime
) -> bool:
    """The rule fired again on an existing alarm: it is active with the new values. Returns
    True when it had cleared (the fault recurred: a person has to see it again)."""
    recurred = alarm.state is AlarmState.CLEARED
    if recurred:
        alarm.acknowledged = False
        alarm.acknowledged_at = None
        alarm.acknowledged_by_id = None
        unshelve(alarm)
    alarm.state = AlarmState.ACTIVE
    alarm.cleared_at = None
    alarm.severity = rule.severity
    alarm.message = message[:512]
    alarm.last_value = dict(values)
    alarm.last_raised_at = now
    return recurred


def clear(
    session: Session, *, equipment: Equipment, rule_id: str, values: dict[str, Any], now: datetime
) -> Alarm | None:
    """Clear the active alarm of this rule on this equipment; None if none was active."""
    alarm = active(session, equipment, rule_id)
    if alarm is None:
        return None
    alarm.state = AlarmState.CLEARED
    alarm.cleared_at = now
    alarm.last_value = dict(values)
    log.info("alarm %s on %s/%s cleared", rule_id, equipment.site, equipment.id)
    return alarm


def acknowledge(session: Session, alarm_id: int, *, user: User, now: datetime) -> Alarm:
    """A person has seen the alarm: who and when are kept. Acknowledging does not clear it
    (only the equipment can)."""
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
    return alarm


def shelved(alarm: Alarm, now: datetime) -> bool:
    return alarm.shelved_until is not None and alarm.shelved_until > now


def shelve(
    session: Session, alarm_id: int, *, user: User, now: datetime, minutes: int, reason: str
) -> Alarm:
    """Set an active alarm aside until `now + minutes`, saying why. It stays active (only
    the equipment clears it); lists can leave it out until then. A fault that clears and comes
    back is no longer shelved."""
    alarm = get(session, alarm_id)
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput("reason: say why the alarm is shelved (at least 3 characters)")
    if alarm.state is not AlarmState.ACTIVE:
        raise Conflict(f"alarm {alarm_id} has cleared; only an active alarm can be shelved")
    if shelved(alarm, now):
        until = alarm.shelved_until.isoformat() if alarm.shelved_until else ""
        raise Conflict(
            f"alarm {alarm_id} is already shelved by {alarm.shelved_by} until {until}",
            code="already_shelved",
        )
    alarm.shelved_until = now + timedelta(minutes=minutes)
    alarm.shelved_reason = reason
    alarm.shelved_by = user.username
    log.info("alarm %d shelved by %s for %d min: %s", alarm.id, user.username, minutes, reason)
    return alarm


def unshelve(alarm: Alarm) -> None:
    alarm.shelved_until = None
    alarm.shelved_reason = None
    alarm.shelved_by = None


def get(session: Session, alarm_id: int) -> Alarm:
    alarm = existing(session.get(Alarm, alarm_id), f"alarm {alarm_id}")
    access_of(session).check(alarm.site, f"alarm {alarm_id}")  # another site's: not found
    return alarm


def search(
    session: Session,
    *,
    state: AlarmState | None = None,
    equipment_id: str | None = None,
    building: str | None = None,
    shelved: bool | None = None,
    now: datetime | None = None,
    sites: frozenset[str] | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Alarm], int]:
    """A page of alarms, newest raised first, and how many match in all. `shelved` keeps
    only the alarms shelved at `now` (True) or only the others (False)."""
    query = select(Alarm)
    if shelved is not None:
        if now is None:
            raise ValueError("search(shelved=...) needs now")
        is_shelved = Alarm.shelved_until.is_not(None) & (Alarm.shelved_until > now)
        query = query.where(is_shelved if shelved else ~is_shelved)
    query = where_equal(query, (Alarm.state, state), (Alarm.equipment_id, equipment_id))
    if sites is not None:
        query = query.where(Alarm.site.in_(sorted(sites)))
    if building is not None:
        query = query.join(Alarm.equipment).where(Equipment.building == building)
    return page(
        session, query, Alarm.last_raised_at.desc(), Alarm.id.desc(), limit=limit, offset=offset
    )
