"""Who is told about a job, and when (the policy the SLA ticker follows).

- **Emergency**: at once, the assignee (if any), the team's on-call technician and the
  supervisor.
- **Urgent**: at once, the assignee, else the on-call technician.
- **Normal and low**: as the team's rota says (`routine`): `always` at once; `hours` within
  working hours only, a job raised outside them held until the next working period starts;
  `digest` once a day at `digest_at` (on working days), one message per person listing the
  jobs held for it.
- **Escalation**, stage by stage as `escalation` in sla.yaml lists them: `backup` (the
  rota's backup), `supervisor`, `manager`; also `assignee` and `team`.

Where a team has no rota (or nobody is on call), a job goes to its assignee, else its team,
else every technician, as before rotas; nobody is never the answer while anyone is left to
tell.

A contractor team's job goes to the contractor, never to the in-house rota or technicians:
its assignee, else the team's members, and (`contractor_told`) the team's own contact points,
at dispatch and at the stages that tell the team (assignee, team, backup); the supervisor and
manager stages are the in-house office's. Only a contractor with neither members nor contact
points falls back to the office.

Each person comes with the reason they are told ("on call", "supervisor", "escalation stage
2: supervisor"), which the notification carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.enums import Priority, Role
from cloud.notify.outbox import verified_contacts
from cloud.oncall.hours import next_digest
from cloud.oncall.model import Routine
from cloud.oncall.service import OnCall, hours_of, manager_of, on_call, supervisor_of
from cloud.sla.policy import Stage
from cloud.users.model import Team, User
from cloud.users.sites import who_see
from cloud.workorders.model import WorkOrder, WorkOrderEvent

ROUTINE = frozenset({Priority.NORMAL, Priority.LOW})  # told per the team's routine


@dataclass(frozen=True, slots=True)
class Recipient:
    user: User
    reason: str


def _by_role(session: Session, role: Role) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.role == role, User.active.is_(True)).order_by(User.username)
        ).all()
    )


def _unique(found: Iterable[Recipient]) -> list[Recipient]:
    """Each active person once, with the first reason given for them."""
    seen: dict[int, Recipient] = {}
    for r in found:
        if r.user.active and r.user.id not in seen:
            seen[r.user.id] = r
    return list(seen.values())


def _seeing(session: Session, wo: WorkOrder, found: Iterable[Recipient]) -> list[Recipient]:
    """Those of `found` who see the job's site: a person of other sites is not told of it."""
    found = list(found)
    seeing = who_see(session, {r.user.id for r in found}, wo.site)
    return [r for r in found if r.user.id in seeing]


def _tagged(users: Sequence[User | None], reason: str) -> list[Recipient]:
    return [Recipient(u, reason) for u in users if u is not None and u.active]


def _team_of(session: Session, wo: WorkOrder) -> Team | None:
    return session.get(Team, wo.team_id) if wo.team_id is not None else None


def duty(session: Session, wo: WorkOrder, now: datetime) -> OnCall | None:
    """Who is on call for the job's team: nobody for a contractor's (no in-house rota)."""
    team = _team_of(session, wo)
    if team is None or team.contractor:
        return None
    return on_call(session, team, now)


# The escalation stages that tell a contractor's job to the contractor (the rest: in-house).
CONTRACTOR_STAGES = frozenset({Stage.ASSIGNEE, Stage.TEAM, Stage.BACKUP})


def contractor_told(session: Session, wo: WorkOrder, stage: Stage | None = None) -> Team | None:
    """The contractor team whose own contact points are told of `wo` at dispatch (`stage`
    None) or at escalation `stage`; None when the job is not a contractor's or the stage is
    the office's."""
    team = _team_of(session, wo)
    if team is None or not team.contractor:
        return None
    return team if stage is None or stage in CONTRACTOR_STAGES else None


def _fallback(session: Session, wo: WorkOrder) -> list[Recipient]:
    """Who is told when nobody else is: nobody more for a contractor that has its own contact
    points (they are told), else the office."""
    team = _team_of(session, wo)
    if team is not None and team.contractor and verified_contacts(session, None, team_id=team.id):
        return []
    return _last_resort(session)


def _assignee(wo: WorkOrder) -> list[Recipient]:
    return _tagged([wo.assignee], "assignee")


def _team(session: Session, wo: WorkOrder) -> list[Recipient]:
    """The job's team, or every technician when it has none (or an empty one); a contractor
    team's members only."""
    team = _team_of(session, wo)
    if team is not None and team.contractor:
        return _tagged(team.members, "contractor")
    found = _tagged(team.members, "team") if team else []  # by username
    return found or _tagged(_by_role(session, Role.TECHNICIAN), "technicians")


def _supervisors(session: Session, wo: WorkOrder, on: OnCall | None) -> list[Recipient]:
    if on is not None and on.supervisor is not None:
        return _tagged([on.supervisor], "supervisor")
    team = session.get(Team, wo.team_id) if wo.team_id is not None else None
    return _tagged([supervisor_of(session, team, None)], "supervisor")


def _last_resort(session: Session) -> list[Recipient]:
    return _tagged(_by_role(session, Role.SUPERVISOR) or _by_role(session, Role.ADMIN), "office")


def first_told(session: Session, wo: WorkOrder, now: datetime) -> list[Recipient]:
    """Who a new job is dispatched to (see the module)."""
    on = duty(session, wo, now)
    primary = _tagged([on.primary], "on call") if on is not None else []
    front = _assignee(wo) + primary if wo.priority is Priority.EMERGENCY else _assignee(wo)
    found = front or primary or _team(session, wo)
    if wo.priority is Priority.EMERGENCY:
        found = found + _supervisors(session, wo, on)
    return _unique(_seeing(session, wo, found)) or _seeing(session, wo, _fallback(session, wo))


def stage_told(
    session: Session, wo: WorkOrder, stage: Stage, n: int, now: datetime
) -> list[Recipient]:
    """Who escalation stage `n` (1-based, `stage` in sla.yaml) tells."""
    on = duty(session, wo, now)
    if stage is Stage.ASSIGNEE:
        primary = _tagged([on.primary], "on call") if on is not None else []
        found = _assignee(wo) or primary or _team(session, wo)
    elif stage is Stage.TEAM:
        found = _assignee(wo) + _team(session, wo)
    elif stage is Stage.BACKUP:
        backup = _tagged([on.backup], "backup") if on is not None else []
        found = backup or _assignee(wo) + _team(session, wo)
    elif stage is Stage.SUPERVISOR:
        found = _supervisors(session, wo, on)
    else:
        manager = manager_of(session, on.rota if on is not None else None)
        found = _tagged([manager], "manager")
    people = _unique(_seeing(session, wo, found)) or _seeing(
        session,
        wo,
        _fallback(session, wo) if stage in CONTRACTOR_STAGES else _last_resort(session),
    )
    return [Recipient(r.user, f"escalation stage {n}: {r.reason}") for r in people]


def held_until(session: Session, wo: WorkOrder, now: datetime) -> tuple[datetime, Routine] | None:
    """When a routine job is to be told instead of now, and why; None: now."""
    if wo.priority not in ROUTINE:
        return None
    on = duty(session, wo, now)
    if on is None or on.rota is None:
        return None
    rota = on.rota
    routine = Routine(rota.routine)
    if routine is Routine.DIGEST:
        return next_digest(now, rota.digest_at, rota.work_days, ZoneInfo(rota.timezone)), routine
    if routine is Routine.HOURS:
        opening = hours_of(rota).next_opening(now)
        return (opening, routine) if opening > now else None
    return None


def quiet(session: Session, wo: WorkOrder, now: datetime) -> bool:
    """Whether escalating a routine job waits: its team has working hours and it is outside
    them (the stages then due fire when they start)."""
    if wo.priority not in ROUTINE:
        return False
    on = duty(session, wo, now)
    if on is None or on.rota is None:
        return False
    return Routine(on.rota.routine) is not Routine.ALWAYS and not hours_of(on.rota).within(now)


def stage_key(session: Session, wo: WorkOrder, what: str) -> str:
    """The key of a message about `wo` (with the person, one message): `dispatch` (then
    `dispatch:2` … when sent again, after an assignment or a reopen), `digest`, or
    `<clock>:<stage>`, after `r<n>/` once the job has been reopened n times."""
    if what in ("dispatch", "digest"):
        sent = session.scalar(
            select(func.count())
            .select_from(WorkOrderEvent)
            .where(WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.action == "dispatched")
        )
        return what if not sent else f"{what}:{sent + 1}"
    return f"r{wo.reopens}/{what}" if wo.reopens else what
