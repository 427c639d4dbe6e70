"""What the monthly report says, gathered from the database as plain data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment
from cloud.report.desk import DeskSummary, desk_summary
from cloud.report.readings import StepReadings, month_readings
from cloud.sla import Targets
from cloud.workorders.model import WorkOrder

TOP = 5


@dataclass(frozen=True, slots=True)
class Recurring:
    """A fault (rule) on one piece of equipment that kept coming back in the month."""

    equipment_id: str
    equipment_name: str | None
    rule_id: str
    title: str
    jobs: int
    reopens: int

    @property
    def occurrences(self) -> int:
        return self.jobs + self.reopens


@dataclass(frozen=True, slots=True)
class ProblemEquipment:
    equipment_id: str
    name: str | None
    kind: str
    building: str
    repairs: int
    reopens: int


@dataclass(frozen=True, slots=True)
class PmSummary:
    due: int  # PM jobs with their due date in the month
    on_time: int
    late: int
    not_done: int


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    month: str
    site: str
    building: str | None
    generated_at: datetime
    kpis: kpi.Report
    by_kind_priority: dict[WorkOrderKind, dict[Priority, int]]
    sla_by_priority: dict[Priority, kpi.Figure]
    recurring: list[Recurring]
    problem_equipment: list[ProblemEquipment]
    pm: PmSummary
    desk: DeskSummary
    readings: list[StepReadings]  # the month's PM readings per plan step


def pm_summary(jobs: list[kpi.Job], start: datetime, end: datetime, now: datetime) -> PmSummary:
    """PM jobs due in `[start, end)`: done by their due date, done late, not done."""
    on_time = late = due = 0
    for j in jobs:
        deadline = j.due_at
        if j.kind is not WorkOrderKind.PM or j.status is WorkOrderStatus.CANCELLED:
            continue
        if deadline is None or not start <= deadline < end:
            continue
        due += 1
        if j.resolved_at is not None:
            on_time += j.resolved_at <= deadline
            late += j.resolved_at > deadline
    return PmSummary(due=due, on_time=on_time, late=late, not_done=due - on_time - late)


def gather(
    session: Session,
    *,
    month: str,
    site: str,
    building: kpi.Buildings,
    now: datetime,
    targets: Targets,
    dispatch_s: float = kpi.DISPATCH_S,
) -> MonthlyReport:
    """The month's report of one building, of some buildings (a site's), or of every one."""
    start, end = kpi.month_bounds(month)
    report = kpi.compute(
        session,
        building=building,
        start=start,
        end=end,
        now=now,
        targets=targets,
        dispatch_s=dispatch_s,
    )
    jobs = kpi.load_jobs(session, building=building, start=start, end=end)
    by_kind: dict[WorkOrderKind, dict[Priority, int]] = {
        k: {p: 0 for p in Priority} for k in WorkOrderKind
    }
    for j in jobs:
        by_kind[j.kind][j.priority] += 1
    sla = {p: kpi.sla_compliance([j for j in jobs if j.priority is p], now) for p in Priority}
    pm_jobs = kpi.load_pm(session, building=building, start=start, end=end)
    return MonthlyReport(
        month=month,
        site=site,
        building=building if isinstance(building, str) else None,
        generated_at=now,
        kpis=report,
        by_kind_priority=by_kind,
        sla_by_priority=sla,
        recurring=_recurring(session, jobs),
        problem_equipment=_problem_equipment(session, jobs),
        pm=pm_summary(pm_jobs, start, end, now),
        desk=desk_summary(session, building=building, start=start, end=end),
        readings=month_readings(session, building=building, start=start, end=end),
    )


def _equipment(session: Session, ids: set[tuple[str, str]]) -> dict[tuple[str, str], Equipment]:
    """By (building, id): an id is unique within its site, and a building is of one site."""
    if not ids:
        return {}
    rows = session.scalars(
        select(Equipment).where(tuple_(Equipment.building, Equipment.id).in_(ids))
    )
    return {(e.building, e.id): e for e in rows}


def _recurring(session: Session, jobs: list[kpi.Job]) -> list[Recurring]:
    faults = [j for j in jobs if j.kind is WorkOrderKind.FAULT and j.equipment_id]
    if not faults:
        return []
    rows = {
        wo.id: wo
        for wo in session.scalars(select(WorkOrder).where(WorkOrder.id.in_([j.id for j in faults])))
    }
    jobs_of: Counter[tuple[str, str, str]] = Counter()
    reopens_of: Counter[tuple[str, str, str]] = Counter()
    titles: dict[tuple[str, str, str], str] = {}
    for j in faults:
        wo = rows[j.id]
        key = (j.building or "", j.equipment_id or "", wo.rule_id or "")
        jobs_of[key] += 1
        reopens_of[key] += j.reopens
        titles.setdefault(key, wo.title.split(":")[0])
    equipment = _equipment(session, {(b, eq) for b, eq, _ in jobs_of})
    found = [
        Recurring(
            equipment_id=eq,
            equipment_name=equipment[b, eq].name if (b, eq) in equipment else None,
            rule_id=rule,
            title=titles[(b, eq, rule)],
            jobs=jobs_of[(b, eq, rule)],
            reopens=reopens_of[(b, eq, rule)],
        )
        for b, eq, rule in jobs_of
    ]
    found = [r for r in found if r.occurrences > 1]
    found.sort(key=lambda r: (-r.occurrences, r.equipment_id, r.rule_id))
    return found[:TOP]


def _problem_equipment(session: Session, jobs: list[kpi.Job]) -> list[ProblemEquipment]:
    repairs: Counter[tuple[str, str]] = Counter()
    reopens: Counter[tuple[str, str]] = Counter()
    for j in jobs:
        if j.kind in kpi.REPAIRS and j.equipment_id:
            repairs[j.building or "", j.equipment_id] += 1
            reopens[j.building or "", j.equipment_id] += j.reopens
    equipment = _equipment(session, set(repairs))
    found = [
        ProblemEquipment(
            equipment_id=key[1],
            name=equipment[key].name if key in equipment else None,
            kind=equipment[key].kind if key in equipment else "",
            building=key[0],
            repairs=n,
            reopens=reopens[key],
        )
        for key, n in repairs.items()
    ]
    found.sort(key=lambda p: (-(p.repairs + p.reopens), p.equipment_id))
    return found[:TOP]
