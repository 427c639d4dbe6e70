"""System alarms: alarms about the service itself, for any part of it to raise and clear.

A system alarm names what is wrong (`code`, e.g. `edge_clock_wrong`) and what it is wrong
with (`subject`, e.g. `edge:b01`). At most one alarm per code and subject is active at a time,
which the database enforces (`SystemAlarm.active_key`): raising it again while it is active
updates that alarm (message, severity, details) rather than adding one, and raising it after
it cleared starts a new one. Acknowledging records who has seen it; only the part of the
service that raised it clears it. Every change adds a row to its audit trail
(`system_alarm_events`), with who (a username, or `system`) and when.

    raise_system_alarm(session, "edge_clock_wrong", "edge:b01", "clock 600 s ahead",
                       severity=Severity.MAJOR, details={"skew_s": -600.0}, now=now)
    clear_system_alarm(session, "edge_clock_wrong", "edge:b01", now=now)

The functions add to the caller's session and flush; the caller commits.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.alarms.model import SystemAlarm, SystemAlarmEvent
from cloud.enums import AlarmState, Severity
from cloud.errors import Conflict, existing
from cloud.locale.composed import Note, stored
from cloud.paging import page, where_equal
from cloud.users.model import User

log = logging.getLogger(__name__)

CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_SUBJECT = 128
MAX_MESSAGE = 512
MAX_DETAILS = 8192  # characters of the details as JSON text
SYSTEM_ACTOR = "system"  # the actor of what the service does itself


def active_key(code: str, subject: str) -> str:
    return f"{code}|{subject}"


def _check(code: str, subject: str, details: dict[str, Any] | None = None) -> None:
    if not CODE.fullmatch(code):
        raise ValueError(f"system alarm code {code!r}: lower-case letters, digits and _, 1-64")
    if not subject or len(subject) > MAX_SUBJECT:
        raise ValueError(f"system alarm subject {subject!r}: 1 to {MAX_SUBJECT} characters")
    if details is not None and len(json.dumps(details, default=str)) > MAX_DETAILS:
        raise ValueError(f"system alarm {code} on {subject}: details over {MAX_DETAILS} chars")


def active_system_alarm(session: Session, code: str, subject: str) -> SystemAlarm | None:
    return session.scalar(
        select(SystemAlarm).where(SystemAlarm.active_key == active_key(code, subject))
    )


def _event(
    alarm: SystemAlarm,
    action: str,
    *,
    at: datetime,
    actor: User | None = None,
    note: Note = None,
    details: dict[str, Any] | None = None,
) -> None:
    text, message = stored(note)
    alarm.events.append(
        SystemAlarmEvent(
            at=at,
            action=action,
            actor_id=actor.id if actor is not None else None,
            actor=actor.username if actor is not None else SYSTEM_ACTOR,
            note=text,
            note_message=message,
            details=details,
        )
    )


def raise_system_alarm(
    session: Session,
    code: str,
    subject: str,
    message: str,
    *,
    severity: Severity,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> SystemAlarm:
    """The active alarm `code` on `subject`: raised now, or (already active) updated with
    this message, severity and details."""
    _check(code, subject, details)
    message = message[:MAX_MESSAGE]
    alarm = active_system_alarm(session, code, subject)
    if alarm is None:
        alarm = SystemAlarm(
            code=code,
            subject=subject,
            active_key=active_key(code, subject),
            severity=severity,
            state=AlarmState.ACTIVE,
            message=message,
            details=dict(details or {}),
            raised_at=now,
            last_raised_at=now,
        )
        try:
            with session.begin_nested():
                session.add(alarm)
                _event(alarm, "raised", at=now, note=message, details=details)
                session.flush()
        except IntegrityError:
            # raised at the same moment by another process: update theirs
            alarm = active_system_alarm(session, code, subject)
            if alarm is None:
                raise
        else:
            log.warning("system alarm %s on %s raised: %s", code, subject, message)
            return alarm
    alarm.severity = severity
    alarm.message = message
    alarm.details = dict(details or {})
    alarm.last_raised_at = now
    _event(alarm, "updated", at=now, note=message, details=details)
    session.flush()
    return alarm


def clear_system_alarm(
    session: Session,
    code: str,
    subject: str,
    now: datetime,
    *,
    note: Note = None,
    details: dict[str, Any] | None = None,
) -> SystemAlarm | None:
    """Clear the active alarm `code` on `subject`; None if none was active."""
    _check(code, subject, details)
    alarm = active_system_alarm(session, code, subject)
    if alarm is None:
        return None
    alarm.state = AlarmState.CLEARED
    alarm.active_key = None
    alarm.cleared_at = now
    if details is not None:
        alarm.details = dict(details)
    _event(alarm, "cleared", at=now, note=note, details=details)
    session.flush()
    log.info("system alarm %s on %s cleared%s", code, subject, f": {note}" if note else "")
    return alarm


def acknowledge_system_alarm(
    session: Session, alarm_id: int, *, user: User, now: datetime, note: str | None = None
) -> SystemAlarm:
    """A person has seen the alarm: who and when are kept. It stays active until the part of
    the service that raised it clears it."""
    alarm = get_system_alarm(session, alarm_id)
    if alarm.acknowledged_at is not None:
        who = alarm.acknowledged_by.username if alarm.acknowledged_by else "someone"
        raise Conflict(
            f"system alarm {alarm_id} was already acknowledged by {who} at "
            f"{alarm.acknowledged_at.isoformat()}",
            code="already_acknowledged",
        )
    alarm.acknowledged_at = now
    alarm.acknowledged_by_id = user.id
    alarm.acknowledged_by = user
    _event(alarm, "acknowledged", at=now, actor=user, note=note)
    session.flush()
    log.info(
        "system alarm %d (%s on %s) acknowledged by %s",
        alarm_id,
        alarm.code,
        alarm.subject,
        user.username,
    )
    return alarm


def get_system_alarm(session: Session, alarm_id: int) -> SystemAlarm:
    return existing(session.get(SystemAlarm, alarm_id), f"system alarm {alarm_id}")


def active_subjects(session: Session, code: str) -> list[str]:
    """The subjects with an active alarm `code`."""
    return list(
        session.scalars(
            select(SystemAlarm.subject)
            .where(SystemAlarm.code == code, SystemAlarm.state == AlarmState.ACTIVE)
            .order_by(SystemAlarm.subject)
        )
    )


def search_system_alarms(
    session: Session,
    *,
    state: AlarmState | None = None,
    code: str | None = None,
    subject: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[SystemAlarm], int]:
    """A page of system alarms, active first, then newest raised first; and how many match."""
    query = where_equal(
        select(SystemAlarm),
        (SystemAlarm.state, state),
        (SystemAlarm.code, code),
        (SystemAlarm.subject, subject),
    )
    active_first = (SystemAlarm.state == AlarmState.ACTIVE).desc()
    return page(
        session,
        query,
        active_first,
        SystemAlarm.last_raised_at.desc(),
        SystemAlarm.id.desc(),
        limit=limit,
        offset=offset,
    )
