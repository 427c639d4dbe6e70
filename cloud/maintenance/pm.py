"""PM jobs that put their equipment in maintenance while they are in progress.

A plan with `maintenance_mode: while_in_progress` (docs/pm.md) says its work stops the
equipment: a pump isolated for its monthly check goes quiet and would raise a lost-communication
job. While such a job is **in progress**, its equipment (or building, for a building-wide plan)
is in a maintenance window the service opens itself, "WO-… in progress"; when the job leaves
in progress — put on hold, resolved or cancelled — the window ends, and the alarms still active
go the normal way. Resuming a held job opens a new window. A window lasts at most
`PLANTROOM_MAINTENANCE_PM_HOURS` at a stretch: a job left in progress longer does not keep the
equipment silent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.enums import WorkOrderKind, WorkOrderStatus
from cloud.errors import InvalidInput
from cloud.locale import N_
from cloud.locale.composed import Label, compose
from cloud.locale.labels import STATUSES
from cloud.maintenance.model import MaintenanceWindow
from cloud.maintenance.service import add_event, create
from cloud.maintenance.window import MAX_REASON, Window
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import SYSTEM_ACTOR

log = logging.getLogger(__name__)

MAX_JOBS = 1000  # jobs looked at per pass; the rest at the next


@dataclass(slots=True)
class Followed:
    opened: list[Window]
    ended: list[Window]


def follow_jobs(
    session: Session, *, plans: Collection[str], now: datetime, longest: timedelta
) -> Followed:
    """Open a window for each job of `plans` in progress without one, and end the window of
    each job no longer in progress. Returns the windows opened and ended."""
    out = Followed([], [])
    if not plans:
        return out
    running = {
        w.work_order_id: w
        for w in session.scalars(
            select(MaintenanceWindow)
            .where(
                MaintenanceWindow.work_order_id.is_not(None),
                MaintenanceWindow.ended_at.is_(None),
            )
            .order_by(MaintenanceWindow.id)
            .limit(MAX_JOBS)
        )
    }
    jobs = session.scalars(
        select(WorkOrder)
        .where(
            WorkOrder.kind == WorkOrderKind.PM,
            WorkOrder.status == WorkOrderStatus.IN_PROGRESS,
            WorkOrder.pm_plan_id.in_(list(plans)),
        )
        .order_by(WorkOrder.id)
        .limit(MAX_JOBS)
    ).all()
    in_progress = {wo.id for wo in jobs}
    for wo in jobs:
        if wo.id in running or (wo.equipment_id is None and wo.building is None):
            continue
        try:
            window = create(
                session,
                user=None,
                equipment_id=wo.equipment_id,
                site=wo.site,
                building=wo.building if wo.equipment_id is None else None,
                starts_at=None,
                ends_at=now + longest,
                reason=f"{wo.number} in progress: {wo.title}"[:MAX_REASON],
                now=now,
                max_duration=longest,
                past_skew=timedelta(0),
                work_order_id=wo.id,
            )
        except InvalidInput as exc:  # its equipment left the inventory: nothing to hold
            log.info("PM job %s in progress: no maintenance window (%s)", wo.number, exc)
            continue
        out.opened.append(Window.of(window))
    for work_order_id, window in running.items():
        if work_order_id in in_progress:
            continue
        job = session.get(WorkOrder, work_order_id)
        status = STATUSES[job.status] if job is not None else N_("gone")
        # ended_at closes the job's episode, also when the window already ran to its end
        window.ended_at = min(max(now, window.starts_at), window.ends_at)
        window.ended_by = SYSTEM_ACTOR
        add_event(
            session,
            window,
            "ended_early" if window.ended_at < window.ends_at else "ended",
            at=now,
            note=compose(
                N_("PM job %(job)s is %(status)s"),
                job=job.number if job else str(work_order_id),
                status=Label(status),
            ),
        )
        if window.settled_at is None:
            out.ended.append(Window.of(window))
    session.flush()
    return out
