"""The one place that loads the indicators' facts from the database (`compute`), shared by
`GET /api/kpis`, the InfluxDB metrics and the monthly report so that their figures always
agree. The indicators themselves are pure functions of those facts (`cloud.kpi.figures`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.enums import WorkOrderKind
from cloud.equipment import Equipment
from cloud.kpi.figures import DISPATCH_S, LIVE, REPAIRS, DeskFacts, Equip, Job, Report, evaluate
from cloud.maintenance.model import MaintenanceWindow, running_at
from cloud.notify.model import OutboxMessage
from cloud.requests.model import Complaint, FollowUp
from cloud.sla import Targets
from cloud.workorders.model import WorkOrder


def _pm_due(wo: WorkOrder) -> datetime | None:
    """The end (UTC) of a PM job's due day, if it has one."""
    due = wo.pm_due_on
    return None if due is None else datetime.combine(due + timedelta(days=1), time(0), UTC)


def job_of(wo: WorkOrder, equipment_kind: str | None) -> Job:
    return Job(
        id=wo.id,
        kind=wo.kind,
        priority=wo.priority,
        status=wo.status,
        created_at=wo.created_at,
        opened_at=wo.opened_at or wo.created_at,
        building=wo.building,
        equipment_id=wo.equipment_id,
        equipment_kind=equipment_kind,
        acknowledged_at=wo.acknowledged_at,
        started_at=wo.started_at,
        resolved_at=wo.resolved_at,
        closed_at=wo.closed_at,
        cancelled_at=wo.cancelled_at,
        respond_due_at=wo.respond_due_at,
        start_due_at=wo.start_due_at,
        resolve_due_at=wo.resolve_due_at,
        pm_due_at=_pm_due(wo),
        reopens=wo.reopens,
        follow_up=wo.follow_up,
    )


# one building, the buildings of some sites (a `frozenset`), or None: every building
Buildings = str | frozenset[str] | None


def of_buildings(column: Any, building: str | frozenset[str]) -> Any:
    """SQL: `column` is the building, or one of the buildings."""
    return column == building if isinstance(building, str) else column.in_(sorted(building))


def _jobs(session: Session, building: Buildings, *conditions: Any) -> list[Job]:
    """The jobs meeting every condition, of `building` when one is named, with whether
    anyone was to be told of each by message and when the first one was delivered."""
    if building is not None:
        conditions = (*conditions, of_buildings(WorkOrder.building, building))
    told = (
        select(
            OutboxMessage.work_order_id.label("wo"),
            func.min(OutboxMessage.sent_at).label("first_sent_at"),
        )
        .group_by(OutboxMessage.work_order_id)
        .subquery()
    )
    rows = session.execute(
        select(WorkOrder, Equipment.kind, told.c.wo, told.c.first_sent_at)
        .outerjoin(WorkOrder.equipment)
        .outerjoin(told, told.c.wo == WorkOrder.id)
        .where(*conditions)
        .order_by(WorkOrder.id)
    ).all()
    return [
        replace(job_of(wo, kind), told=wo_id is not None, first_sent_at=_utc(first))
        for wo, kind, wo_id, first in rows
    ]


def _utc(at: datetime | None) -> datetime | None:
    """SQLite gives an aggregate's timestamp back naive (the stored UTC): mark it so."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def load_jobs(
    session: Session, *, building: Buildings, start: datetime, end: datetime
) -> list[Job]:
    """Jobs raised in `[start, end)`, of one building or all."""
    return _jobs(session, building, WorkOrder.created_at >= start, WorkOrder.created_at < end)


def load_pm(session: Session, *, building: Buildings, start: datetime, end: datetime) -> list[Job]:
    """PM jobs that may fall due in `[start, end)`: raised before `end` and not finished
    before `start` (whenever raised; the pure `Job.due_at` decides)."""
    return _jobs(
        session,
        building,
        WorkOrder.kind == WorkOrderKind.PM,
        WorkOrder.created_at < end,
        or_(WorkOrder.resolved_at.is_(None), WorkOrder.resolved_at >= start),
    )


def load_live(session: Session, *, building: Buildings) -> list[Job]:
    """Every job not yet resolved, whenever it was raised."""
    return _jobs(session, building, WorkOrder.status.in_(LIVE))


def load_open_repairs(session: Session, *, building: Buildings, at: datetime) -> list[Job]:
    """Repairs on equipment that may have been open at `at` (the pure `Job.open_at` decides)."""
    return _jobs(
        session,
        building,
        WorkOrder.kind.in_(REPAIRS),
        WorkOrder.equipment_id.is_not(None),
        WorkOrder.created_at <= at,
        or_(
            WorkOrder.status.in_(LIVE),
            WorkOrder.resolved_at > at,
            WorkOrder.cancelled_at > at,
            WorkOrder.closed_at > at,
        ),
    )


def load_equipment(
    session: Session, *, building: Buildings, at: datetime | None = None
) -> list[Equip]:
    """The equipment in the inventory; with `at`, marked when in maintenance then (its own
    window or its building's)."""
    query = select(Equipment.site, Equipment.id, Equipment.kind, Equipment.building).where(
        Equipment.in_inventory.is_(True)
    )
    if building is not None:
        query = query.where(of_buildings(Equipment.building, building))
    rows = session.execute(query.order_by(Equipment.id)).all()
    held: set[tuple[str | None, str]] = set()  # (site, equipment id), or (None, building)
    if at is not None:
        windows = select(
            MaintenanceWindow.site, MaintenanceWindow.equipment_id, MaintenanceWindow.building
        ).where(running_at(at))
        if building is not None:
            ids = select(Equipment.id).where(of_buildings(Equipment.building, building))
            windows = windows.where(
                or_(
                    of_buildings(MaintenanceWindow.building, building),
                    MaintenanceWindow.equipment_id.in_(ids),
                )
            )
        for site, equipment_id, whole in session.execute(windows).all():
            held.add((site, equipment_id) if equipment_id is not None else (None, whole or ""))
    return [
        Equip(i, k, b, in_maintenance=(s, i) in held or (None, b) in held) for s, i, k, b in rows
    ]


def load_desk(
    session: Session, *, building: Buildings, start: datetime, end: datetime
) -> DeskFacts:
    """Complaints received in `[start, end)` and upheld, and the satisfaction scores of
    follow-up calls about jobs raised in it, of one building or all."""
    complaints = select(func.count(Complaint.id)).where(
        Complaint.received_at >= start, Complaint.received_at < end, Complaint.valid.is_(True)
    )
    scores = (
        select(FollowUp.satisfaction)
        .join(WorkOrder, FollowUp.work_order_id == WorkOrder.id)
        .where(
            FollowUp.satisfaction.is_not(None),
            WorkOrder.created_at >= start,
            WorkOrder.created_at < end,
        )
        .order_by(FollowUp.id)
    )
    if building is not None:
        complaints = complaints.where(of_buildings(Complaint.building, building))
        scores = scores.where(of_buildings(WorkOrder.building, building))
    return DeskFacts(
        valid_complaints=session.scalar(complaints) or 0,
        satisfaction=tuple(s for s in session.scalars(scores) if s is not None),
    )


def compute(
    session: Session,
    *,
    building: Buildings,
    start: datetime,
    end: datetime,
    now: datetime,
    targets: Targets,
    dispatch_s: float = DISPATCH_S,
) -> Report:
    """The indicators of `building` (or every building) for jobs raised in `[start, end)`;
    `dispatch_s`: the SLA's dispatch time."""
    as_of = min(end, now)
    return evaluate(
        load_jobs(session, building=building, start=start, end=end),
        load_open_repairs(session, building=building, at=as_of),
        load_equipment(session, building=building, at=as_of),
        building=building if isinstance(building, str) else None,
        start=start,
        end=end,
        now=now,
        targets=targets,
        dispatch_s=dispatch_s,
        desk=load_desk(session, building=building, start=start, end=end),
    )
