"""The SLA ticker: dispatches new jobs, escalates overdue ones and closes verified fixes.

Every `interval` seconds, on its own database thread (a `plantroom.ticker.Ticker`),
`Escalator.tick` looks at the time from the service's clock (injectable, so tests run it on
simulated time) and:

1. **dispatches** each new job to whom `cloud.sla.recipients` names: emergencies to the
   on-call technician and the supervisor at once, urgent jobs to the assignee or the on-call
   technician, routine ones as their team's rota says (held until working hours, or kept for
   the daily digest). The three-minute commitment: `dispatch` in sla.yaml bounds how late
   this may be;
2. **sends the digests** due: per team, one notification per person listing the held jobs;
3. **escalates** each job with a clock past due (`cloud.sla.clocks`), in stages
   `escalate_every` apart (backup → supervisor → manager, as `escalation` in sla.yaml lists
   them);
4. **closes** resolved fault jobs whose alarm has stayed cleared for the verification window.

Each job is handled in its own transaction, so one that fails (someone changed it at the same
moment) is tried again at the next tick and holds up no other (a digest: one transaction per
team). Every dispatch and escalation is a `Notification` per person, with its stage and the
person's reason, and an event in the job's audit trail (which the notifier sends on to
webhooks). Of several cloud processes, the ticks take turns (`cloud.cluster.turns`): the
second finds the first's jobs dispatched, escalated or closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cloud.clock import Clock
from cloud.cluster.turns import turn
from cloud.db import Database
from cloud.enums import WorkOrderStatus
from cloud.locale import N_, RECORD
from cloud.locale.composed import compose
from cloud.notify import outbox
from cloud.oncall.model import Routine
from cloud.sla import candidates, digest, recipients, sentences
from cloud.sla.clocks import Clocks, escalation_step
from cloud.sla.policy import SlaPolicy, Stage
from cloud.sla.recipients import Recipient
from cloud.users.model import Team, User
from cloud.workorders import audit, commands, rules
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
    held: int = 0
    digested: int = 0
    escalated: int = 0
    closed: int = 0
    failed: int = 0


@dataclass(slots=True)
class EscalatorStats(TickerStats):
    """The ticker's own counts and what its ticks did; `failed`: jobs left for the next tick."""

    dispatched: int = 0
    held: int = 0
    digested: int = 0
    escalated: int = 0
    closed: int = 0
    failed: int = 0


def _notify(
    session: Session,
    wo: WorkOrder,
    told: Sequence[Recipient],
    *,
    kind: str,
    stage: str,
    facts: dict[str, Any],
    now: datetime,
    details: dict[str, object],
    contractor: Team | None = None,
) -> None:
    """One audit event, and a notification per person with the stage, their reason and
    the `facts` its sentence is written from in the reader's language (cloud.sla.sentences);
    and a message to the `contractor` team's own contact points."""
    message = sentences.sentence(kind, facts, RECORD)
    if contractor is not None:
        details = {**details, "contractor": contractor.name}
    event = audit.system_event(
        session,
        wo,
        kind,
        sentences.written(kind, facts),  # the English `message`, or in the reader's language
        at=now,
        details={
            **details,
            "notify_stage": stage,
            "recipients": [r.user.username for r in told],
            "reasons": {r.user.username: r.reason for r in told},
        },
    )
    session.flush()
    for r in told:
        notification = Notification(
            user_id=r.user.id,
            work_order_id=wo.id,
            event_id=event.id,
            at=now,
            kind=kind,
            message=message[:512],
            stage=stage,
            reason=r.reason[:64],
            facts=facts,
        )
        session.add(notification)
        outbox.enqueue(session, notification)  # and by e-mail, chat, SMS: cloud.notify.outbox
    if contractor is not None:
        outbox.enqueue_team(session, wo, contractor, stage=stage, kind=kind, now=now)


def hold(session: Session, wo: WorkOrder, *, now: datetime) -> datetime | None:
    """Hold a routine job raised outside its team's working hours (or kept for the digest):
    when it is to be told, or None to tell it now. Recorded in the audit once."""
    found = recipients.held_until(session, wo, now)
    if found is None:
        return None
    until, routine = found
    if (wo.held_until, wo.held_for) != (until, routine.value):
        what = (
            N_("held for the daily digest: told at %(at)s")
            if routine is Routine.DIGEST
            else N_("held for working hours: told at %(at)s")
        )
        audit.system_event(
            session,
            wo,
            "held",
            compose(what, at=until.strftime("%Y-%m-%d %H:%M UTC")),
            at=now,
            details={"until": until.isoformat(), "for": routine.value},
        )
        wo.held_until, wo.held_for = until, routine.value
    return until


def dispatch(session: Session, wo: WorkOrder, *, now: datetime) -> list[User]:
    """Send a new job to whom `cloud.sla.recipients.first_told` names."""
    told = recipients.first_told(session, wo, now)
    stage = recipients.stage_key(session, wo, "dispatch")
    _notify(
        session,
        wo,
        told,
        kind="dispatched",
        stage=stage,
        facts=sentences.dispatched_facts(wo),
        now=now,
        details={},
        contractor=recipients.contractor_told(session, wo),
    )
    wo.dispatched_at = now
    wo.held_for = None
    return [r.user for r in told]


def _clocks(wo: WorkOrder, sla: SlaPolicy) -> Clocks:
    """The job's clocks; a job held before it was told is to be acknowledged `respond` after
    it was told, if that is later than its due time."""
    clocks = Clocks.of(wo)
    due = wo.respond_due_at
    if wo.held_until is None or due is None or wo.dispatched_at is None:
        return clocks
    told = wo.dispatched_at + timedelta(seconds=sla.priorities[wo.priority].respond)
    return replace(clocks, acknowledge=(max(due, told), wo.acknowledged_at))


def escalate(
    session: Session, wo: WorkOrder, sla: SlaPolicy, *, now: datetime
) -> list[tuple[Stage, list[User]]]:
    """Fire the stages due on the job's first overdue clock; returns who each one told.
    Nothing for a job not told yet, or a routine one outside its team's working hours."""
    if wo.dispatched_at is None:
        return []
    clocks = _clocks(wo, sla)
    step = escalation_step(
        clocks,
        now=now,
        every=sla.escalate_every(wo.priority),
        stages=len(sla.escalation),
        current_clock=wo.escalation_clock,
        current_stage=wo.escalation_stage,
    )
    if step is None or recipients.quiet(session, wo, now):
        return []
    clock, stages = step
    due = getattr(clocks, clock)[0]
    fired = []
    for n in stages:
        stage = sla.escalation[n - 1]
        told = recipients.stage_told(session, wo, stage, n, now)
        _notify(
            session,
            wo,
            told,
            kind="escalated",
            stage=recipients.stage_key(session, wo, f"{clock}:{n}"),
            facts=sentences.escalated_facts(wo, clock=clock, due=due, stage=n, level=stage),
            now=now,
            details={"clock": clock, "stage": n, "level": stage.value},
            contractor=recipients.contractor_told(session, wo, stage),
        )
        fired.append((stage, [r.user for r in told]))
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
        # called after a tick that wrote notifications (the delivery worker's wake)
        self.on_told: Callable[[], None] | None = None
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
        """One tick, in turn with the SLA ticker of any other process on the database."""
        with turn(self._db, "cloud-sla"):
            report = self._tick()
        if self.on_told is not None and (report.dispatched or report.digested or report.escalated):
            self.on_told()  # their outbox rows are committed: send them now, not next pass
        return report

    def _tick(self) -> TickReport:
        now = self._clock()
        report = TickReport()
        with self._db.sessions() as session:
            new = candidates.new_jobs(session, now, self._batch)
            digests = digest.due(session, now, self._batch)
            late = candidates.late_jobs(session, now, len(self._sla.escalation), self._batch)
            verified = candidates.verified_fixes(session, now, self._sla.verification, self._batch)
        for wo_id in new:
            if self._one(wo_id, lambda s, wo: self._dispatch(s, wo, now, report)):
                report.dispatched += 1
        for team_id in digests:
            report.digested += self._digest(team_id, now)
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
    def _dispatch(session: Session, wo: WorkOrder, now: datetime, report: TickReport) -> bool:
        if wo.status is not WorkOrderStatus.OPEN or wo.dispatched_at is not None:
            return False
        if hold(session, wo, now=now) is not None:
            report.held += 1
            return False
        people = dispatch(session, wo, now=now)
        log.info("dispatched %s to %s", wo.number, ", ".join(u.username for u in people))
        return True

    def _digest(self, team_id: int, now: datetime) -> int:
        """One team's digest in its own transaction: the jobs it told (0 if it failed)."""
        try:
            with self._db.session() as session:
                return digest.send(session, team_id, now=now, batch=self._batch)
        except (StaleDataError, SQLAlchemyError) as exc:
            self.stats.failed += 1
            self.stats.last_error = f"digest of team {team_id}: {exc}"
            log.warning(
                "SLA ticker: digest of team %d not sent, retrying next tick: %s", team_id, exc
            )
            return 0

    def _close(self, session: Session, wo: WorkOrder, now: datetime) -> bool:
        if wo.status is not WorkOrderStatus.RESOLVED or not rules.is_verified(wo, now, self._sla):
            return False
        minutes = self._sla.verification / 60
        commands.close_verified(
            session,
            wo,
            now=now,
            note=compose(
                N_("verified: the fault stayed cleared for %(minutes)s min"), minutes=minutes
            ),
        )
        log.info("%s closed: fix verified by telemetry", wo.number)
        return True

    def _count(self, report: TickReport) -> None:
        s = self.stats
        s.dispatched += report.dispatched
        s.held += report.held
        s.digested += report.digested
        s.escalated += report.escalated
        s.closed += report.closed
