"""The PM scheduler: every plan against every piece of equipment (or building) it covers.

Each evaluation, in one transaction:
1. reads the plan's counters from the registry's last values and counts the use;
2. if the plan's job is open, checks whether it was finished (resolved, closed or cancelled)
   and, if so, schedules the next one (from completion or from the plan) and counts use
   again from zero;
3. if no job is open and the plan falls due — the calendar date minus the lead time has come,
   or the use has reached `every - lead` — raises the PM work order with its checklist.

Where each plan stands is kept in `pm_schedules`, so a restart changes nothing. A PM work order
is never raised twice for the same due date: the work orders' unique `pm_key` (plan, target,
due date) refuses a second one even from a second scheduler, and the scheduler then adopts
the one already there. Of several cloud processes, the evaluations take turns
(`cloud.cluster.turns`), so the second finds the schedules and jobs the first committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.clock import Clock, as_utc
from cloud.cluster.turns import turn
from cloud.db import Database
from cloud.enums import FINISHED, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment, key
from cloud.locale import N_
from cloud.locale.composed import Composed, Label, compose, paragraphs
from cloud.locale.shipped import BUILDING
from cloud.pm.model import EffectivePlan
from cloud.pm.schedule import (
    MeterState,
    advance_meter,
    after_done,
    calendar_fires,
    first_due,
    meter_due,
    serviced,
    start_of_day,
)
from cloud.sites import Sites
from cloud.sla import SlaPolicy
from cloud.users.model import Team
from cloud.workorders import creation, rules
from cloud.workorders.model import PmSchedule, WorkOrder
from plantroom.inventory import Inventory
from plantroom.settings import CloudSettings
from plantroom.ticker import Ticked, Ticker

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S: float = CloudSettings.model_fields["pm_interval_s"].default


def building_target(building: str) -> str:
    return f"building:{building}"


def pm_key(plan_id: str, target: str, due: date) -> str:
    return f"{plan_id}|{target}|{due.isoformat()}"


@dataclass(slots=True)
class PmRun:
    """What one evaluation did."""

    raised: list[str] = field(default_factory=list)  # work order numbers
    completed: int = 0
    schedules: int = 0


@dataclass(frozen=True, slots=True)
class _Target:
    key: str
    building: str
    equipment: Equipment | None


class PmScheduler(Ticked):
    """Evaluates the plans; as an async context manager, every `interval` seconds on its
    own database thread (`cloud-pm`), the first time one interval after start, when the
    registry has had telemetry to count use from."""

    def __init__(
        self,
        db: Database,
        plans: list[EffectivePlan],
        *,
        inventory: Inventory | Sites,
        clock: Clock,
        sla: SlaPolicy,
        timezone: tzinfo | None = None,
        interval: float = DEFAULT_INTERVAL_S,
    ) -> None:
        """`timezone` given: every target's calendar in it; None: each in its site's zone."""
        self._db = db
        self.plans = plans
        self._sites = inventory if isinstance(inventory, Sites) else Sites.of(inventory)
        self._buildings = [b.id for i in self._sites.inventories for b in i.buildings]
        self._clock = clock
        self._sla = sla
        self._zone = timezone
        self.runs = 0
        self.last_run: PmRun | None = None
        self._teamless: set[tuple[str, str]] = set()  # (plan, team) said not to exist
        self.ticker: Ticker[PmRun] = Ticker(
            "cloud-pm",
            self.evaluate,
            interval=interval,
            delay_first=True,
            what="PM evaluation",
            clock=clock,
        )

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self) -> PmRun:
        """One pass over every plan (one transaction), in turn with any other process's."""
        now = self._clock()
        run = PmRun()
        with turn(self._db, "cloud-pm"), self._db.session() as session:
            equipment = list(
                session.scalars(
                    select(Equipment)
                    .where(Equipment.in_inventory.is_(True))
                    .order_by(Equipment.building, Equipment.id)
                )
            )
            schedules = {(s.plan_id, s.target): s for s in session.scalars(select(PmSchedule))}
            for plan in self.plans:
                for target in self._targets(plan, equipment):
                    state = schedules.get((plan.id, target.key))
                    if state is None:
                        state = self._new_schedule(session, plan, target, now)
                    self._evaluate_one(session, plan, target, state, now, run)
                    run.schedules += 1
        self.runs += 1
        self.last_run = run
        if run.raised:
            log.info("PM: raised %s", ", ".join(run.raised))
        return run

    def _targets(self, plan: EffectivePlan, equipment: list[Equipment]) -> list[_Target]:
        if plan.plan.kind == "building":
            return [_Target(building_target(b), b, None) for b in self._buildings]
        return [
            _Target(key(e.site, e.id), e.building, e)
            for e in equipment
            if plan.plan.applies(e.kind, e.tags)
        ]

    def zone_of(self, building: str) -> tzinfo:
        """The time zone a building's plans are due in."""
        if self._zone is not None:
            return self._zone
        return self._sites.zone_of(self._sites.site_of(building))

    def _today(self, now: datetime, building: str) -> date:
        return now.astimezone(self.zone_of(building)).date()

    def _new_schedule(
        self, session: Session, plan: EffectivePlan, target: _Target, now: datetime
    ) -> PmSchedule:
        anchor, due = first_due(plan, self._today(now, target.building))
        state = PmSchedule(
            plan_id=plan.id,
            target=target.key,
            equipment_id=target.equipment.id if target.equipment is not None else None,
            site=target.equipment.site if target.equipment is not None else None,
            building=target.building,
            anchor=anchor,
            next_due=due,
            meters={},
            updated_at=now,
        )
        session.add(state)
        log.info(
            "PM plan %s for %s: first due %s",
            plan.id,
            target.key,
            due.isoformat() if due else "by use",
        )
        return state

    def _evaluate_one(
        self,
        session: Session,
        plan: EffectivePlan,
        target: _Target,
        state: PmSchedule,
        now: datetime,
        run: PmRun,
    ) -> None:
        meters = {p: MeterState.of(v) for p, v in state.meters.items()}
        meter = plan.plan.meter
        if meter is not None and target.equipment is not None:
            values = target.equipment.last_values
            for point in meter.points:
                raw = values.get(point)
                if isinstance(raw, int | float) and not isinstance(raw, bool):
                    meters[point] = advance_meter(
                        meters.get(point, MeterState(None, 0.0, 0.0)), float(raw), meter.rollover
                    )
        if state.open_work_order_id is not None:
            wo = session.get(WorkOrder, state.open_work_order_id)
            if wo is not None and wo.status not in FINISHED:
                self._store_meters(state, meters, now)
                return
            self._finished(plan, state, wo, now)
            meters = {p: serviced(m) for p, m in meters.items()}
            run.completed += 1
        self._store_meters(state, meters, now)
        due_on: date | None = None
        reason: Composed | None = None
        by_calendar = calendar_fires(plan, state.next_due, now, self.zone_of(target.building))
        if by_calendar and state.next_due is not None:
            due_on = state.next_due
            reason = compose(N_("due %(day)s by the calendar"), day=due_on.isoformat())
        else:
            used = meter_due(plan, meters)
            if used is not None and meter is not None:
                due_on = self._today(now, target.building)
                point, amount = used
                reason = compose(
                    N_("%(point)s reached %(amount)s since the last service (every %(every)s)"),
                    point=point,
                    amount=amount,
                    every=meter.every,
                )
        if due_on is None or reason is None or due_on == state.last_due:
            return
        wo = self._raise(session, plan, target, due_on, reason, now)
        state.open_work_order_id = wo.id
        state.last_due = wo.pm_due_on or due_on
        state.updated_at = now
        if wo.number not in run.raised:
            run.raised.append(wo.number)

    @staticmethod
    def _store_meters(state: PmSchedule, meters: dict[str, MeterState], now: datetime) -> None:
        stored = {p: m.as_dict() for p, m in meters.items()}
        if stored != state.meters:
            state.meters = stored
            state.updated_at = now

    def _finished(
        self, plan: EffectivePlan, state: PmSchedule, wo: WorkOrder | None, now: datetime
    ) -> None:
        cancelled = wo is not None and wo.status is WorkOrderStatus.CANCELLED
        when = now
        if wo is not None:
            when = wo.resolved_at or wo.closed_at or wo.updated_at or now
        done_on = self._today(as_utc(when), state.building)
        calendar_raised = state.last_due is not None and state.last_due == state.next_due
        anchor, next_due = after_done(
            plan,
            anchor=state.anchor,
            next_due=state.next_due,
            last_due=state.last_due,
            calendar_raised=calendar_raised,
            done_on=done_on,
            cancelled=cancelled,
        )
        log.info(
            "PM plan %s for %s: job %s %s on %s; next due %s",
            plan.id,
            state.target,
            wo.number if wo is not None else "(gone)",
            "cancelled" if cancelled else "done",
            done_on.isoformat(),
            next_due.isoformat() if next_due else "by use",
        )
        state.anchor = anchor
        state.next_due = next_due
        state.open_work_order_id = None
        state.last_done = done_on
        state.updated_at = now

    def _team(self, session: Session, plan: EffectivePlan) -> Team | None:
        """The team the plan names, if one of that name exists (else the job is routed as
        usual, which is said once per plan and team)."""
        name = plan.plan.team
        if name is None:
            return None
        team = session.scalar(select(Team).where(Team.name == name))
        if team is None and (plan.id, name) not in self._teamless:
            self._teamless.add((plan.id, name))
            log.info(
                "PM plan %s names team %r, which does not exist: its jobs are routed as usual",
                plan.id,
                name,
            )
        return team

    def _raise(
        self,
        session: Session,
        plan: EffectivePlan,
        target: _Target,
        due_on: date,
        reason: Composed,
        now: datetime,
    ) -> WorkOrder:
        key = pm_key(plan.id, target.key, due_on)
        where = (
            creation.describe_equipment(target.equipment)
            if target.equipment is not None
            else BUILDING.format(building=target.building)
        )
        description, parts = paragraphs(
            Label(plan.plan.description) if plan.plan.description else None,
            compose(N_("Preventive maintenance, %(reason)s."), reason=reason),
        )
        try:
            with session.begin_nested():
                wo = creation.raise_for_rule(
                    session,
                    rule_id=f"pm.{plan.id}",
                    key=target.key,
                    title=f"{plan.plan.title}: {where}",
                    kind=WorkOrderKind.PM,
                    priority=plan.priority,
                    now=now,
                    sla=self._sla,
                    equipment=target.equipment,
                    building=target.building,
                    description=description,
                    note=compose(N_("PM plan %(plan)s, %(reason)s"), plan=plan.id, reason=reason),
                    checklist=[step.entry() for step in plan.plan.checklist],
                    team=self._team(session, plan),
                )
                wo.sign_off_required = plan.plan.sign_off == "required" or wo.sign_off_required
                wo.description_message = parts
                wo.pm_plan_id = plan.id
                wo.pm_due_on = due_on
                wo.pm_key = key
                end_of_due_day = start_of_day(
                    due_on + timedelta(days=1), self.zone_of(target.building)
                )
                if wo.resolve_due_at is None or end_of_due_day > now:
                    wo.resolve_due_at = end_of_due_day
                session.flush()
        except IntegrityError:
            # raised already (by another scheduler, or before this one lost its place): the
            # job for this due date, or the plan's job still open for an earlier one
            open_key = rules.fault_key(target.key, f"pm.{plan.id}")
            existing = session.scalar(
                select(WorkOrder).where(
                    or_(WorkOrder.pm_key == key, WorkOrder.open_key == open_key)
                )
            )
            if existing is None:
                raise
            log.info(
                "PM %s for %s due %s was already raised as %s",
                plan.id,
                target.key,
                due_on.isoformat(),
                existing.number,
            )
            return existing
        log.info(
            "PM plan %s for %s: %s raised (%s), due %s",
            plan.id,
            target.key,
            wo.number,
            reason.english,
            due_on.isoformat(),
        )
        return wo

    # -- the ticker ---------------------------------------------------------------------------

    async def run_now(self) -> PmRun:
        """Evaluate now, off the event loop, never alongside the ticker's own evaluation."""
        return await self.ticker.run_now()
