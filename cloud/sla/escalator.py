"""The SLA ticker: dispatches new jobs, escalates overdue ones and closes verified fixes.

Every `interval` seconds, on its own database thread (a `plantroom.ticker.Ticker`),
`Escalator.tick` looks at the time from the service's clock (injectable, so tests run it on
simulated time) and:

1. **dispatches** each new job to its assignee, else its team, else the technicians (the
   three-minute commitment: `dispatch` in sla.yaml bounds how late this may be);
2. **escalates** each job with a clock past due (`cloud.sla.clocks`), in stages
   `escalate_every` apart (assignee → team → supervisor, as `escalation` in sla.yaml lists
   them);
3. **closes** resolved fault jobs whose alarm has stayed cleared for the verification window.

Each job is handled in its own transaction, so one that fails (someone changed it at the same
moment) is tried again at the next tick and holds up no other. Every dispatch and escalation
is a `Notification` per person and an event in the job's audit trail (which the notifier
sends on to webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cloud.alarms.model import Alarm
from cloud.clock import Clock
from cloud.db import Database
from cloud.enums import AlarmState, Role, WorkOrderKind, WorkOrderStatus
from cloud.notify import outbox
from cloud.sla.clocks import CLOCK_TEXT, Clocks, escalation_step
from cloud.sla.policy import SlaPolicy, Stage
from cloud.users.model import Team, User
from cloud.workorders import audit, commands, queries, rules
from cloud.workorders.model import Notification, WorkOrder
from plantroom.settings import CloudSettings
from plantroom.ticker import Ticked, Ticker, TickerStats

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S: float = CloudSettings.model_fields["escalation_interval_s"].default
BATCH = 500  # jobs looked at per phase and tick; the rest at the next tick
# What `Escalator._one` runs on one job: whether it changed something.
Change = Callable[[Session, WorkOrder], bool]


@dataclass(slots=True)
class TickReport:
    dispatched: int = 0
    escalated: int = 0
    closed: int = 0
    failed: int = 0


@dataclass(slots=True)
class EscalatorStats(TickerStats):
    """The ticker's own counts and what its ticks did; `failed`: jobs left for the next tick."""

    dispatched: int = 0
    escalated: int = 0
    closed: int = 0
    failed: int = 0


def _active(users: Sequence[User]) -> list[User]:
    seen: dict[int, User] = {}
    for user in users:
        if user.active and user.id not in seen:
            seen[user.id] = user
    return sorted(seen.values(), key=lambda u: u.username)


def _by_role(session: Session, role: Role) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.role == role, User.active.is_(True)).order_by(User.username)
        ).all()
    )


def _team(session: Session, wo: WorkOrder) -> Team | None:
    return session.get(Team, wo.team_id) if wo.team_id is not None else None


def team_members(session: Session, wo: WorkOrder) -> list[User]:
    """The job's team, or every technician when it has none."""
    team = _team(session, wo)
    members = _active(team.members) if team is not None else []
    return members or _by_role(session, Role.TECHNICIAN)


def recipients(session: Session, wo: WorkOrder, stage: Stage) -> list[User]:
    """Who a stage notifies; never nobody while anyone is left to tell."""
    assignee = [wo.assignee] if wo.assignee is not None and wo.assignee.active else []
    if stage is Stage.ASSIGNEE:
        found = assignee or team_members(session, wo)
    elif stage is Stage.TEAM:
        found = _active([*assignee, *team_members(session, wo)])
    else:
        team = _team(session, wo)
        in_team = [u for u in team.members if u.role is Role.SUPERVISOR] if team is not None else []
        found = _active(in_team) or _by_role(session, Role.SUPERVISOR)
    return found or _by_role(session, Role.SUPERVISOR) or _by_role(session, Role.ADMIN)


def _notify(
    session: Session,
    wo: WorkOrder,
    people: Sequence[User],
    *,
    kind: str,
    message: str,
    now: datetime,
    details: dict[str, object],
) -> None:
    event = audit.system_event(
        session,
        wo,
        kind,
        message,
        at=now,
        details={**details, "recipients": [u.username for u in people]},
    )
    session.flush()
    for user in people:
        notification = Notification(
            user_id=user.id,
            work_order_id=wo.id,
            event_id=event.id,
            at=now,
            kind=kind,
            message=message[:512],
        )
        session.add(notification)
        outbox.enqueue(session, notification)  # and by e-mail, chat, SMS: cloud.notify.outbox


def dispatch(session: Session, wo: WorkOrder, *, now: datetime) -> list[User]:
    """Send a new job to its assignee, else its team, else the technicians."""
    people = recipients(session, wo, Stage.ASSIGNEE)
    where = f" at {wo.location}" if wo.location else ""
    building = f" in {wo.building}" if wo.building else ""
    message = f"{wo.number} ({wo.priority.value}){building}{where}: {wo.title}"
    _notify(session, wo, people, kind="dispatched", message=message, now=now, details={})
    wo.dispatched_at = now
    return people


def escalate(
    session: Session, wo: WorkOrder, sla: SlaPolicy, *, now: datetime
) -> list[tuple[Stage, list[User]]]:
    """Fire the stages due on the job's first overdue clock; returns who each one told."""
    step = escalation_step(
        Clocks.of(wo),
        now=now,
        every=sla.escalate_every(wo.priority),
        stages=len(sla.escalation),
        current_clock=wo.escalation_clock,
        current_stage=wo.escalation_stage,
    )
    if step is None:
        return []
    clock, stages = step
    due = {"acknowledge": wo.respond_due_at, "on_site": wo.start_due_at}.get(
        clock, wo.resolve_due_at
    )
    fired = []
    for n in stages:
        stage = sla.escalation[n - 1]
        people = recipients(session, wo, stage)
        due_text = due.strftime("%Y-%m-%d %H:%M UTC") if due else "its due time"
        message = (
            f"{wo.number} ({wo.priority.value}) {CLOCK_TEXT[clock]} by {due_text}: "
            f"{wo.title} (stage {n}: {stage.value})"
        )
        _notify(
            session,
            wo,
            people,
            kind="escalated",
            message=message,
            now=now,
            details={"clock": clock, "stage": n, "level": stage.value},
        )
        fired.append((stage, people))
    wo.escalation_clock = clock
    wo.escalation_stage = stages[-1]
    wo.escalated_at = now
    return fired


class Escalator(Ticked):
    """The SLA ticker as an async context manager: entering starts it on its own database
    thread (`cloud-sla`), leaving stops it after the tick under way."""

    def __init__(
        self,
        db: Database,
        sla: SlaPolicy,
        *,
        clock: Clock,
        interval: float = DEFAULT_INTERVAL_S,
        batch: int = BATCH,
    ) -> None:
        self._db = db
        self._sla = sla
        self._clock = clock
        self._batch = batch
        self.stats = EscalatorStats()
        self.ticker: Ticker[TickReport] = Ticker(
            "cloud-sla",
            self.tick,
            interval=interval,
            what="SLA ticker",
            clock=clock,
            stats=self.stats,
        )

    # -- one tick (synchronous: the database thread, or a test) ----------------------------------

    def tick(self) -> TickReport:
        now = self._clock()
        report = TickReport()
        with self._db.sessions() as session:
            new = list(
                session.scalars(
                    select(WorkOrder.id)
                    .where(WorkOrder.status == WorkOrderStatus.OPEN)
                    .where(WorkOrder.dispatched_at.is_(None))
                    .order_by(WorkOrder.id)
                    .limit(self._batch)
                )
            )
            late = list(
                session.scalars(
                    select(WorkOrder.id)
                    .where(queries.overdue_clause(now))
                    .order_by(WorkOrder.id)
                    .limit(self._batch)
                )
            )
            verified = list(
                session.scalars(
                    select(WorkOrder.id)
                    .join(Alarm, WorkOrder.alarm_id == Alarm.id)
                    .where(
                        WorkOrder.status == WorkOrderStatus.RESOLVED,
                        WorkOrder.kind == WorkOrderKind.FAULT,
                        Alarm.state == AlarmState.CLEARED,
                        Alarm.cleared_at <= now - timedelta(seconds=self._sla.verification),
                    )
                    .order_by(WorkOrder.id)
                    .limit(self._batch)
                )
            )
        for wo_id in new:
            if self._one(wo_id, lambda s, wo: self._dispatch(s, wo, now)):
                report.dispatched += 1
        for wo_id in late:
            if self._one(wo_id, lambda s, wo: bool(escalate(s, wo, self._sla, now=now))):
                report.escalated += 1
        for wo_id in verified:
            if self._one(wo_id, lambda s, wo: self._close(s, wo, now)):
                report.closed += 1
        self._count(report)
        return report

    def _one(self, wo_id: int, change: Change) -> bool:
        """Run `change` on one job in its own transaction; False if it did nothing or failed."""
        try:
            with self._db.session() as session:
                wo = session.get(WorkOrder, wo_id)
                return wo is not None and change(session, wo)
        except (StaleDataError, SQLAlchemyError) as exc:
            self.stats.failed += 1
            self.stats.last_error = f"work order {wo_id}: {exc}"
            log.warning("SLA ticker: work order %d not updated, retrying next tick: %s", wo_id, exc)
            return False

    @staticmethod
    def _dispatch(session: Session, wo: WorkOrder, now: datetime) -> bool:
        if wo.status is not WorkOrderStatus.OPEN or wo.dispatched_at is not None:
            return False
        people = dispatch(session, wo, now=now)
        log.info("dispatched %s to %s", wo.number, ", ".join(u.username for u in people))
        return True

    def _close(self, session: Session, wo: WorkOrder, now: datetime) -> bool:
        if wo.status is not WorkOrderStatus.RESOLVED or not rules.is_verified(wo, now, self._sla):
            return False
        minutes = self._sla.verification / 60
        commands.close_verified(
            session,
            wo,
            now=now,
            note=f"verified: the fault stayed cleared for {minutes:g} min",
        )
        log.info("%s closed: fix verified by telemetry", wo.number)
        return True

    def _count(self, report: TickReport) -> None:
        s = self.stats
        s.dispatched += report.dispatched
        s.escalated += report.escalated
        s.closed += report.closed
