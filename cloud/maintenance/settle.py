"""The end of a maintenance window: the equipment is looked at again.

Each alarm the window held that is still active now goes the normal way: unshelved, and a
work order raised for it (or folded into its building's outage incident, or the recent fix
reopened, as any raised alarm would be) — exactly once, because the window is marked settled
in the same transaction. An alarm that cleared during the window raises nothing. An alarm
whose equipment is still in another window (its building's, say) moves to that window and
waits for its end.

Runs on the telemetry thread (`cloud.maintenance.runner`), in turn with the telemetry batches,
so no batch changes an alarm while it is being settled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.alarms import service as alarms
from cloud.alarms.model import Alarm
from cloud.enums import AlarmState
from cloud.incidents.service import IncidentManager
from cloud.locale import N_
from cloud.locale.composed import compose, labelled
from cloud.maintenance.model import MaintenanceWindow
from cloud.maintenance.service import add_event
from cloud.maintenance.window import Board, Window
from cloud.rules.engine import Change, Transition
from cloud.rules.model import Rule
from cloud.sla import SlaPolicy
from cloud.workorders import creation, queries

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Settled:
    windows: list[int]
    released: int = 0  # alarms that went the normal way
    raised: int = 0  # work orders raised or reopened for them
    carried: int = 0  # alarms moved to another window still running


def settle(
    session: Session,
    board: Board,
    *,
    now: datetime,
    sla: SlaPolicy,
    rule_of: Callable[[str], Rule | None],
    incidents: IncidentManager | None = None,
    windows: Collection[int] | None = None,
) -> Settled:
    """Apply the end of every window of `board` that is over at `now` (of them, those whose id
    is in `windows`, when given). The caller commits, then drops `Settled.windows` from the
    board."""
    due = board.due(now)
    done = Settled(windows=[])
    skip = frozenset(w.id for w in due)  # no alarm is carried to a window ending too
    for view in due if windows is None else [w for w in due if w.id in windows]:
        window = session.get(MaintenanceWindow, view.id, with_for_update=True)
        if window is None or window.settled_at is not None:
            done.windows.append(view.id)  # settled already (another process): only forget it
            continue
        window.settled_at = now
        held = session.scalars(
            select(Alarm)
            .where(Alarm.maintenance_id == window.id, Alarm.state == AlarmState.ACTIVE)
            .order_by(Alarm.id)
        ).all()
        for alarm in held:
            _one(
                session,
                board,
                window,
                alarm,
                now=now,
                sla=sla,
                rule_of=rule_of,
                incidents=incidents,
                skip=skip,
                done=done,
            )
        add_event(
            session,
            window,
            "settled",
            at=now,
            note=compose(N_("%(count)s alarm(s) still active at the end"), count=len(held)),
            details={"alarms": [a.id for a in held]},
        )
        done.windows.append(window.id)
    session.flush()
    return done


def _one(
    session: Session,
    board: Board,
    window: MaintenanceWindow,
    alarm: Alarm,
    *,
    now: datetime,
    sla: SlaPolicy,
    rule_of: Callable[[str], Rule | None],
    incidents: IncidentManager | None,
    skip: frozenset[int],
    done: Settled,
) -> None:
    equipment = alarm.equipment
    other: Window | None = board.covering(
        equipment.id, equipment.building, now, site=equipment.site, skip=skip
    )
    if other is not None:
        alarm.maintenance_id = other.id
        alarm.shelved_until = other.until
        add_event(
            session,
            window,
            "alarm_carried",
            at=now,
            note=compose(
                N_("still in maintenance: window %(window)s until %(until)s"),
                window=str(other.id),
                until=other.until.isoformat(),
            ),
            details={"alarm_id": alarm.id, "window_id": other.id},
        )
        done.carried += 1
        return
    alarms.unshelve(alarm)
    done.released += 1
    rule = rule_of(alarm.rule_id)
    number = None
    if rule is not None and queries.open_for_fault(session, equipment, rule.id) is None:
        incident = None
        if incidents is not None:
            transition = Transition(
                rule,
                equipment.id,
                Change.RAISED,
                now.timestamp(),
                dict(alarm.last_value),
                alarm.message,
            )
            incident = incidents.incident_for(
                session, transition, equipment=equipment, now=now, sla=sla
            )
        if incident is not None:
            alarm.incident_id = incident.id
        else:
            wo = creation.raise_fault(
                session, equipment=equipment, alarm=alarm, rule=rule, now=now, sla=sla
            )
            session.flush()
            number = wo.number
            done.raised += 1
    add_event(
        session,
        window,
        "alarm_released",
        at=now,
        note=labelled(alarm.message),
        details={"alarm_id": alarm.id, "rule_id": alarm.rule_id, "work_order": number},
    )
    log.warning(
        "maintenance window %d over: alarm %s on %s still active; %s",
        window.id,
        alarm.rule_id,
        equipment.id,
        f"work order {number}" if number else "no new work order (one is open, or none applies)",
    )
