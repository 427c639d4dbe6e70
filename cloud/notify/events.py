"""Work-order events as the notifier sends them, read from the audit trail.

Every change to a work order adds a `work_order_events` row, so the audit trail is also the
outbox: each sink keeps a cursor (the id of the last event it delivered, in the `counters`
table) and reads what came after it. Nothing is lost while a receiver is down, and a restart
resumes where delivery stopped (a receiver may see an event twice, never miss one; the
event id is the delivery id to deduplicate on).

Ids are handed out when a transaction inserts, so a transaction that commits late can leave
a hole below ids already seen; the reader waits up to `GAP_WAIT_S` for a hole to fill (a
rolled-back insert never does) before it reads past it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from cloud.orm import Counter
from cloud.users.model import Team
from cloud.workorders.model import WorkOrder, WorkOrderEvent

GAP_WAIT_S = 10.0

# audit-trail action → the `type` tags it writes to the InfluxDB `events` measurement
INFLUX_TYPES: dict[str, tuple[str, ...]] = {
    "created": ("wo_raised",),
    "reopened": ("wo_raised", "alarm_raised"),
    "acknowledge": ("wo_acknowledged",),
    "resolve": ("wo_resolved",),
    "fault_recurred": ("alarm_raised",),
    "fault_cleared": ("alarm_cleared",),
}
# actions annotated in Grafana: raise, acknowledge, resolve
GRAFANA_ACTIONS = frozenset({"created", "reopened", "acknowledge", "resolve"})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One audit-trail event with what a receiver needs to know of its work order."""

    event_id: int
    at: datetime
    action: str
    actor: str
    channel: str
    from_status: str | None
    to_status: str | None
    note: str | None
    details: dict[str, Any] | None
    site: str
    work_order: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.work_order["kind"])

    @property
    def number(self) -> str:
        return str(self.work_order["number"])

    def influx_types(self) -> tuple[str, ...]:
        types = INFLUX_TYPES.get(self.action, ())
        if self.action == "created" and self.kind == "fault":
            types = (*types, "alarm_raised")
        return types

    def summary(self) -> str:
        """One line for people: what happened to which job."""
        wo = self.work_order
        what = {
            "created": "raised",
            "reopened": "reopened (the fault came back)",
            "acknowledge": f"acknowledged by {self.actor}",
            "resolve": f"resolved by {self.actor}",
            "fault_cleared": "fault cleared",
            "fault_recurred": "fault recurred",
        }.get(self.action, f"{self.action} by {self.actor}")
        text = f"{wo['number']} {what}: {wo['title']}"
        if self.note and self.action in ("resolve", "acknowledge"):
            text += f" ({self.note})"
        return text

    def body(self) -> dict[str, Any]:
        """The webhook payload."""
        return {
            "id": self.event_id,
            "type": f"work_order.{self.action}",
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "site": self.site,
            "actor": self.actor,
            "channel": self.channel,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "note": self.note,
            "details": self.details or {},
            "work_order": self.work_order,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def work_order_facts(wo: WorkOrder, site: str, team: str | None) -> dict[str, Any]:
    return {
        "id": wo.id,
        "number": wo.number,
        "title": wo.title,
        "kind": wo.kind.value,
        "priority": wo.priority.value,
        "status": wo.status.value,
        "site": site,
        "building": wo.building,
        "equipment_id": wo.equipment_id,
        "location": wo.location,
        "team": team,
        "assignee": wo.assignee.username if wo.assignee is not None else None,
        "alarm_id": wo.alarm_id,
        "rule_id": wo.rule_id,
        "respond_due_at": _iso(wo.respond_due_at),
        "resolve_due_at": _iso(wo.resolve_due_at),
        "reopens": wo.reopens,
    }


def load_cursor(session: Session, name: str) -> int:
    """The sink's cursor; a sink seen for the first time starts at the newest event (it is
    not sent the history from before it was configured)."""
    row = session.get(Counter, name)
    if row is not None:
        return row.value
    top = session.scalar(select(func.max(WorkOrderEvent.id))) or 0
    session.add(Counter(name=name, value=top))
    session.flush()
    return top


def save_cursor(session: Session, name: str, value: int) -> None:
    session.execute(
        update(Counter).where(Counter.name == name, Counter.value < value).values(value=value)
    )


class EventReader:
    """Reads events after a cursor, in id order, waiting briefly on holes (see the top)."""

    def __init__(
        self,
        cursor: int,
        *,
        site: str,
        gap_wait: float = GAP_WAIT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.position = cursor
        self._site = site
        self._gap_wait = gap_wait
        self._monotonic = monotonic
        self._gap: tuple[int, float] | None = None  # (missing id, first missed at)

    def read(self, session: Session, limit: int) -> list[Outgoing]:
        rows = list(
            session.scalars(
                select(WorkOrderEvent)
                .where(WorkOrderEvent.id > self.position)
                .order_by(WorkOrderEvent.id)
                .limit(limit)
                .options(selectinload(WorkOrderEvent.work_order).selectinload(WorkOrder.assignee))
            )
        )
        out: list[WorkOrderEvent] = []
        expected = self.position + 1
        for row in rows:
            if row.id != expected and not self._waited(expected):
                break
            out.append(row)
            expected = row.id + 1
        if out:
            self.position = out[-1].id
        return self._outgoing(session, out)

    def _waited(self, missing: int) -> bool:
        """Whether the hole at `missing` has been waited on long enough to read past it."""
        now = self._monotonic()
        if self._gap is None or self._gap[0] != missing:
            self._gap = (missing, now)
        if now - self._gap[1] >= self._gap_wait:
            self._gap = None
            return True
        return False

    def _outgoing(self, session: Session, rows: list[WorkOrderEvent]) -> list[Outgoing]:
        team_ids = {r.work_order.team_id for r in rows if r.work_order.team_id is not None}
        teams = (
            dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids))).all())
            if team_ids
            else {}
        )
        out = []
        for row in rows:
            wo = row.work_order
            site = wo.site or self._site  # a job's site is set as it is made (cloud.siting)
            out.append(
                Outgoing(
                    event_id=row.id,
                    at=row.at,
                    action=row.action,
                    actor=row.actor,
                    channel=row.channel.value,
                    from_status=row.from_status.value if row.from_status else None,
                    to_status=row.to_status.value if row.to_status else None,
                    note=row.note,
                    details=row.details,
                    site=site,
                    work_order=work_order_facts(wo, site, teams.get(wo.team_id or -1)),
                )
            )
        return out
