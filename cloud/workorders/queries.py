"""Reading work orders: one by id or number, the one open for a fault or an alarm, the last
fixed one, and filtered pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Row, and_, bindparam, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment, key
from cloud.errors import existing
from cloud.paging import where_equal
from cloud.sla import SlaPolicy
from cloud.users.model import Team, User
from cloud.workorders.model import WorkOrder, escalated
from cloud.workorders.rules import LIVE, S, fault_key


def get(session: Session, work_order_id: int, *, with_events: bool = False) -> WorkOrder:
    query = select(WorkOrder).where(WorkOrder.id == work_order_id)
    if with_events:
        query = query.options(selectinload(WorkOrder.events), selectinload(WorkOrder.attachments))
    return existing(session.scalar(query), f"work order {work_order_id}")


def of_teams(
    session: Session,
    work_order_id: int,
    team_ids: set[int] | None,
    sites: frozenset[str] | None = None,
) -> bool:
    """Whether the work order is one of `team_ids`' (None: any work order that exists) and of
    one of `sites` (None: any)."""
    query = select(WorkOrder.id).where(WorkOrder.id == work_order_id)
    if team_ids is not None:
        query = query.where(WorkOrder.team_id.in_(team_ids))
    if sites is not None:
        query = query.where(WorkOrder.site.in_(sorted(sites)))
    return session.scalar(query) is not None


def by_number(session: Session, number: str) -> int | None:
    """The id of the work order with this number (WO-000042), or None."""
    return session.scalar(select(WorkOrder.id).where(WorkOrder.number == number))


# The fault path's lookups, built once: every fault runs them, and building a statement costs
# about as much CPU as running it.
_OPEN_FOR_FAULT = select(WorkOrder).where(WorkOrder.open_key == bindparam("b_key"))
_OPEN_FOR_ALARM = select(WorkOrder).where(
    WorkOrder.alarm_id == bindparam("b_alarm"), WorkOrder.open_key.is_not(None)
)
_RECENT_FIX = (
    select(WorkOrder)
    .where(
        WorkOrder.site == bindparam("b_site"),
        WorkOrder.equipment_id == bindparam("b_id"),
        WorkOrder.rule_id == bindparam("b_rule"),
        WorkOrder.kind == WorkOrderKind.FAULT,
        WorkOrder.status.in_((S.RESOLVED, S.CLOSED)),
        WorkOrder.resolved_at >= bindparam("b_since"),
    )
    .order_by(WorkOrder.resolved_at.desc(), WorkOrder.id.desc())
    .limit(1)
)


def open_for_fault(session: Session, equipment: Equipment, rule_id: str) -> WorkOrder | None:
    """The job open for this fault (equipment and rule), if any."""
    return session.scalar(
        _OPEN_FOR_FAULT, {"b_key": fault_key(key(equipment.site, equipment.id), rule_id)}
    )


def open_for_alarm(session: Session, alarm_id: int) -> WorkOrder | None:
    """The job still open that the alarm raised, if any."""
    return session.scalar(_OPEN_FOR_ALARM, {"b_alarm": alarm_id})


def recent_fix(
    session: Session, equipment: Equipment, rule_id: str, *, now: datetime, sla: SlaPolicy
) -> WorkOrder | None:
    """The fault job for this equipment and rule fixed within `reopen_within`, if any."""
    since = now - timedelta(seconds=sla.reopen_within)
    return session.scalar(
        _RECENT_FIX,
        {"b_site": equipment.site, "b_id": equipment.id, "b_rule": rule_id, "b_since": since},
    )


@dataclass(frozen=True, slots=True)
class Filters:
    status: Sequence[WorkOrderStatus] | None = None
    priority: Sequence[Priority] | None = None
    building: str | None = None
    equipment_id: str | None = None
    kind: WorkOrderKind | None = None
    assignee: str | None = None
    team: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    overdue_at: datetime | None = None  # only jobs with a clock past due at this time
    at_risk_at: datetime | None = None  # only jobs with a clock at risk (not past due) then
    unassigned: bool = False  # only jobs nobody has been given or has taken
    team_ids: frozenset[int] | None = None  # only jobs of these teams (a contractor's)
    sites: frozenset[str] | None = None  # only jobs of these sites (a person's sites)


def overdue_clause(now: datetime) -> Any:
    """SQL: a live job with a clock due at or before `now` and not stopped (not acknowledged
    by its respond time, not started by its on-site time, or not done by its promised
    completion)."""
    return WorkOrder.status.in_(LIVE) & or_(
        (WorkOrder.acknowledged_at.is_(None) & (WorkOrder.respond_due_at <= now)),
        (WorkOrder.started_at.is_(None) & (WorkOrder.start_due_at <= now)),
        WorkOrder.resolve_due_at <= now,
    )


AT_RISK_SHARE = 0.2
"""A running clock is *at risk* once what is left of it is at most this share of its whole
span (from the start of the job's episode, `opened_at`, to the clock's due time): a normal
job promised in 2 days is at risk in its last 9.6 hours."""


class _Epoch(FunctionElement[float]):
    """SQL: a naive-UTC timestamp column as seconds since 1970 (a float), on each dialect."""

    type = Float()
    inherit_cache = True


@compiles(_Epoch, "sqlite")
def _epoch_sqlite(element: _Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(_Epoch, "postgresql")
def _epoch_postgresql(element: _Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


def at_risk_clause(now: datetime, share: float = AT_RISK_SHARE) -> Any:
    """SQL: a live job none of whose clocks is past due at `now`, with a running clock that
    has at most `share` of its span left (see `AT_RISK_SHARE`)."""
    if not 0 < share < 1:
        raise ValueError(f"at-risk share {share!r}: must be between 0 and 1")
    at = now.timestamp()
    start = _Epoch(WorkOrder.opened_at)
    clocks = (
        (WorkOrder.respond_due_at, WorkOrder.acknowledged_at),
        (WorkOrder.start_due_at, WorkOrder.started_at),
        (WorkOrder.resolve_due_at, WorkOrder.resolved_at),
    )

    def risky(due_column: Any, stop_column: Any) -> Any:
        due = _Epoch(due_column)
        return stop_column.is_(None) & due_column.is_not(None) & (due - (due - start) * share <= at)

    # spelt out rather than NOT overdue_clause: a clock without a due time is NULL there
    not_overdue = and_(*(or_(stop.is_not(None), due.is_(None), due > now) for due, stop in clocks))
    return WorkOrder.status.in_(LIVE) & not_overdue & or_(*(risky(*c) for c in clocks))


@dataclass(frozen=True, slots=True)
class Page:
    """A page of work orders and how many match in all. Each item is a row of the table (read
    without the ORM: a list page is read often) with the team, assignee and creator it names
    and its escalation: the attributes of a `WorkOrder` under the same names."""

    items: list[dict[str, Any]]
    total: int


def search(session: Session, filters: Filters, *, limit: int, offset: int) -> Page:
    """A page of work orders, newest first, and how many match in all."""
    query = select(WorkOrder.id)
    if filters.status:
        query = query.where(WorkOrder.status.in_(filters.status))
    if filters.priority:
        query = query.where(WorkOrder.priority.in_(filters.priority))
    query = where_equal(
        query,
        (WorkOrder.building, filters.building),
        (WorkOrder.equipment_id, filters.equipment_id),
        (WorkOrder.kind, filters.kind),
    )
    if filters.assignee is not None:
        query = query.join(User, WorkOrder.assignee_id == User.id).where(
            User.username == filters.assignee
        )
    if filters.team is not None:
        query = query.join(Team, WorkOrder.team_id == Team.id).where(Team.name == filters.team)
    if filters.created_from is not None:
        query = query.where(WorkOrder.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(WorkOrder.created_at < filters.created_to)
    if filters.overdue_at is not None:
        query = query.where(overdue_clause(filters.overdue_at))
    if filters.at_risk_at is not None:
        query = query.where(at_risk_clause(filters.at_risk_at))
    if filters.unassigned:
        query = query.where(WorkOrder.assignee_id.is_(None))
    if filters.team_ids is not None:
        query = query.where(WorkOrder.team_id.in_(filters.team_ids))
    if filters.sites is not None:
        query = query.where(WorkOrder.site.in_(sorted(filters.sites)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    # The page's ids first (a narrow sort, often straight from an index), then their rows.
    ids = list(
        session.scalars(
            query.order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    if not ids:
        return Page([], total)
    table = WorkOrder.__table__
    by_id = {row.id: row for row in session.execute(select(table).where(table.c.id.in_(ids)))}
    rows = [by_id[i] for i in ids]
    user_ids = {r.assignee_id for r in rows} | {r.created_by_id for r in rows}
    user_ids.discard(None)
    users = (
        {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    team_ids = {r.team_id for r in rows if r.team_id is not None}
    teams = (
        {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(team_ids)))}
        if team_ids
        else {}
    )
    return Page([_listed(row, users, teams) for row in rows], total)


def _listed(row: Row[Any], users: dict[int, User], teams: dict[int, Team]) -> dict[str, Any]:
    return {
        **row._mapping,
        "team": teams.get(row.team_id) if row.team_id is not None else None,
        "assignee": users.get(row.assignee_id) if row.assignee_id is not None else None,
        "created_by": users.get(row.created_by_id) if row.created_by_id is not None else None,
        "escalation": escalated(row.escalation_clock, row.escalation_stage, row.escalated_at),
    }
