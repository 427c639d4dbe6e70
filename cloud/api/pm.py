"""Preventive maintenance: the plans in force and where each stands."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import select

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.deps import CurrentUser, SessionDep, SiteQuery, app_attribute, require
from cloud.enums import Priority, Role
from cloud.pm.schedule import MeterState
from cloud.pm.scheduler import PmScheduler
from cloud.pm.steps import Reading
from cloud.schemas import OutModel
from cloud.users.model import User
from cloud.users.sites import access_of, of_sites
from cloud.workorders.model import PmSchedule

router = APIRouter(prefix="/pm", tags=["preventive maintenance"], responses=AUTH_RESPONSES)

EngineerUser = Annotated[User, Depends(require(Role.ENGINEER, Role.SUPERVISOR, Role.ADMIN))]


SchedulerDep = Annotated[PmScheduler, app_attribute(PmScheduler, "pm_scheduler")]


class PlanOut(OutModel):
    id: str
    title: str
    kind: str
    match: dict[str, str]
    every: str | None
    dates: list[str] | None
    meter_points: list[str] | None
    meter_every: float | None
    lead_s: float
    schedule_from: str
    priority: Priority
    checklist: list[str] = Field(description="the steps, in order")
    readings: dict[str, Reading] = Field(
        description="the steps that ask for a reading: unit and limits, by step"
    )
    sign_off: str = Field(description="required: the job resolves only once signed off")


class ScheduleOut(OutModel):
    plan_id: str
    target: str
    building: str
    next_due: date | None
    last_due: date | None
    last_done: date | None
    used: dict[str, float]
    open_work_order_id: int | None
    updated_at: datetime


class RunOut(OutModel):
    raised: list[str]
    completed: int
    schedules: int


@router.get("/plans", response_model=list[PlanOut])
def list_plans(scheduler: SchedulerDep, user: CurrentUser) -> list[PlanOut]:
    out = []
    for plan in scheduler.plans:
        p = plan.plan
        out.append(
            PlanOut(
                id=p.id,
                title=p.title,
                kind=p.kind,
                match=p.match,
                every=str(p.every) if p.every else None,
                dates=[
                    f"{d.year}-{d.month:02d}-{d.day:02d}"
                    if d.year
                    else f"{d.month:02d}-{d.day:02d}"
                    for d in p.dates
                ]
                if p.dates
                else None,
                meter_points=list(p.meter.points) if p.meter else None,
                meter_every=p.meter.every if p.meter else None,
                lead_s=plan.lead,
                schedule_from=plan.schedule_from,
                priority=plan.priority,
                checklist=[step.step for step in p.checklist],
                readings={s.step: s.reading for s in p.checklist if s.reading is not None},
                sign_off=p.sign_off,
            )
        )
    return out


@router.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(
    session: SessionDep, user: CurrentUser, site: SiteQuery = None
) -> list[ScheduleOut]:
    sites = access_of(session).narrow(site).sites
    rows = session.scalars(
        select(PmSchedule)
        .where(of_sites(sites, PmSchedule.site))
        .order_by(PmSchedule.plan_id, PmSchedule.target)
    )
    return [
        ScheduleOut(
            plan_id=s.plan_id,
            target=s.target,
            building=s.building,
            next_due=s.next_due,
            last_due=s.last_due,
            last_done=s.last_done,
            used={p: MeterState.of(m).used for p, m in s.meters.items()},
            open_work_order_id=s.open_work_order_id,
            updated_at=s.updated_at,
        )
        for s in rows
    ]


@router.post(
    "/run",
    response_model=RunOut,
    responses=errors({403: "engineers, supervisors and admins"}),
)
async def run_now(scheduler: SchedulerDep, user: EngineerUser) -> RunOut:
    """Evaluate every plan now rather than at the next tick."""
    run = await scheduler.run_now()
    return RunOut(raised=run.raised, completed=run.completed, schedules=run.schedules)
