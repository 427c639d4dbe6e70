"""The month's PM readings per plan step: how many were taken, how many were out of limits,
the lowest and highest, and the jobs whose reading was out of limits with their follow-up
jobs. A reading belongs to the month it was taken in (the step's `at`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import kpi
from cloud.enums import WorkOrderKind
from cloud.errors import InvalidInput
from cloud.workorders.model import WorkOrder

MAX_JOBS = 5000  # PM jobs read for one month's readings; more is refused, never cut short


@dataclass(frozen=True, slots=True)
class OutOfLimits:
    number: str  # the job whose reading was out of limits
    value: float
    at: datetime
    follow_up_job: str | None  # the job it raised, if the plan says so


@dataclass(slots=True)
class StepReadings:
    plan_id: str
    step: str
    unit: str
    limits: tuple[float | None, float | None]
    count: int = 0
    out_of_limits: int = 0
    min: float | None = None
    max: float | None = None
    outliers: list[OutOfLimits] = field(default_factory=list)

    def add(self, number: str, entry: dict[str, Any], value: float, at: datetime) -> None:
        self.count += 1
        self.min = value if self.min is None else min(self.min, value)
        self.max = value if self.max is None else max(self.max, value)
        if entry.get("out_of_limits"):
            self.out_of_limits += 1
            self.outliers.append(OutOfLimits(number, value, at, entry.get("follow_up_job")))


def month_readings(
    session: Session, *, building: kpi.Buildings, start: datetime, end: datetime
) -> list[StepReadings]:
    """Readings taken in `[start, end)` on PM jobs (of `building`), per plan and step, in
    plan then step order; the outliers of each step in the order they were read."""
    query = select(WorkOrder.number, WorkOrder.pm_plan_id, WorkOrder.checklist).where(
        WorkOrder.kind == WorkOrderKind.PM,
        WorkOrder.pm_plan_id.is_not(None),
        WorkOrder.created_at < end,
        WorkOrder.updated_at >= start,  # a reading taken in the month touched the job then
    )
    if building is not None:
        query = query.where(kpi.of_buildings(WorkOrder.building, building))
    rows = session.execute(query.order_by(WorkOrder.id).limit(MAX_JOBS + 1)).all()
    if len(rows) > MAX_JOBS:
        raise InvalidInput(f"month: more than {MAX_JOBS} PM jobs; report one building at a time")
    steps: dict[tuple[str, str], StepReadings] = {}
    position: dict[tuple[str, str], int] = {}
    for number, plan_id, checklist in rows:
        for index, entry in enumerate(checklist or []):
            value, spec, taken = entry.get("value"), entry.get("reading"), entry.get("at")
            if value is None or not spec or not taken:
                continue
            at = datetime.fromisoformat(taken)
            if not start <= at < end:
                continue
            key = (plan_id, entry["item"])
            position.setdefault(key, index)
            if key not in steps:
                limits = (spec.get("min"), spec.get("max"))
                steps[key] = StepReadings(plan_id, entry["item"], spec["unit"], limits)
            steps[key].add(number, entry, float(value), at)
    for found in steps.values():
        found.outliers.sort(key=lambda o: (o.at, o.number))
    return [steps[k] for k in sorted(steps, key=lambda k: (k[0], position[k]))]
