"""What the SLA ticker has to look at now: new jobs to dispatch, late jobs with a stage of
escalation to fire, resolved fault jobs whose fix may be verified.

Each query reads an index range that holds only what can need the ticker, so an idle cloud with
tens of thousands of open jobs reads next to nothing at each tick (migration
0024):

- new jobs: `(status, dispatched_at)`: the open jobs nobody was told of yet;
- late jobs: `(status, respond_due_at)`, `(status, start_due_at)`, `(status, resolve_due_at)`:
  the live jobs with a clock due by now, one range per clock, leaving out the jobs whose every
  stage has fired on that clock (they wait for the clock to stop);
- verified fixes: `(status, kind, alarm_id)`: the resolved fault jobs with an alarm.

The ticker then decides on each job as before (`cloud.sla.escalator`): these queries find a
superset of what it acts on, never less.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.alarms.model import Alarm
from cloud.enums import AlarmState, WorkOrderKind, WorkOrderStatus
from cloud.oncall.model import Routine
from cloud.sla.clocks import CLOCKS
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import LIVE

# Each clock's due time and what stops it, in the order of `cloud.sla.clocks.CLOCKS`.
_CLOCK_COLUMNS: tuple[tuple[InstrumentedAttribute[Any], InstrumentedAttribute[Any]], ...] = (
    (WorkOrder.respond_due_at, WorkOrder.acknowledged_at),
    (WorkOrder.start_due_at, WorkOrder.started_at),
    (WorkOrder.resolve_due_at, WorkOrder.resolved_at),
)


def new_jobs(session: Session, now: datetime, batch: int) -> list[int]:
    """Open jobs nobody was told of, up to `batch`, oldest first: held ones once their time
    has come (the digest sends its own)."""
    return list(
        session.scalars(
            select(WorkOrder.id)
            .where(WorkOrder.status == WorkOrderStatus.OPEN, WorkOrder.dispatched_at.is_(None))
            .where(
                or_(
                    WorkOrder.held_until.is_(None),
                    (WorkOrder.held_until <= now)
                    & or_(
                        WorkOrder.held_for.is_(None),
                        WorkOrder.held_for != Routine.DIGEST.value,
                    ),
                )
            )
            .order_by(WorkOrder.id)
            .limit(batch)
        )
    )


def late_jobs(session: Session, now: datetime, stages: int, batch: int) -> list[int]:
    """Live jobs already told of with a clock due by `now` and not stopped, on which fewer
    than `stages` stages have fired, up to `batch`, oldest first."""
    ranges = [
        select(WorkOrder.id).where(
            WorkOrder.status.in_(LIVE),
            due <= now,
            stopped.is_(None),
            WorkOrder.dispatched_at.is_not(None),
            or_(
                WorkOrder.escalation_clock.is_(None),
                WorkOrder.escalation_clock != name,
                WorkOrder.escalation_stage < stages,
            ),
        )
        for name, (due, stopped) in zip(CLOCKS, _CLOCK_COLUMNS, strict=True)
    ]
    found = union(*ranges).subquery()
    return list(session.scalars(select(found.c.id).order_by(found.c.id).limit(batch)))


def verified_fixes(session: Session, now: datetime, verification: float, batch: int) -> list[int]:
    """Resolved fault jobs whose alarm has been cleared for `verification` seconds, up to
    `batch`, oldest alarm first (the index's order: sorting by job would lead SQLite to read
    every resolved job in id order instead)."""
    return list(
        session.scalars(
            select(WorkOrder.id)
            .join(Alarm, WorkOrder.alarm_id == Alarm.id)
            .where(
                WorkOrder.status == WorkOrderStatus.RESOLVED,
                WorkOrder.kind == WorkOrderKind.FAULT,
                WorkOrder.alarm_id.is_not(None),
                Alarm.state == AlarmState.CLEARED,
                Alarm.cleared_at <= now - timedelta(seconds=verification),
            )
            .order_by(WorkOrder.alarm_id)
            .limit(batch)
        )
    )
