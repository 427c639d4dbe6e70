"""What changed in the database since the last look, as console messages (`GET /api/events`).

- work orders: every change to a work order adds a row to its audit trail, so new
  `work_order_events` rows (by id) name the work orders that changed; an id missing below
  the newest (a transaction not committed yet) is waited for up to `GAP_WAIT_S`;
- alarms: the active ones are compared with what they were at the last poll, new ids are
  looked at, and alarms that stopped being active are read again.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.alarms.schemas import AlarmOut
from cloud.db import Database
from cloud.enums import AlarmState
from cloud.locale import DEFAULT_LANGUAGE, Text
from cloud.schemas import READER
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from cloud.workorders.schemas import EventOut, WorkOrderOut

WORK_ORDER = "work_order"
ALARM = "alarm"

GAP_WAIT_S = 10.0  # how long a missing event id may still turn up (a transaction not committed)
MAX_ROWS = 1000  # rows read per poll; the rest on the next one
RECENT_ALARMS = 1000  # alarms whose last sent state is remembered


def _alarm_state(a: Alarm) -> tuple[Any, ...]:
    return (
        a.state,
        a.severity,
        a.message,
        a.occurrences,
        a.last_raised_at,
        a.cleared_at,
        a.acknowledged,
        a.acknowledged_at,
    )


def in_language(event: str, data: str, text: Text | None) -> str:
    """A message's JSON `data` for a reader of `text`'s language: the shipped plans' and
    rules' texts of its work order and alarm, and the notes the service wrote in its events,
    translated as the API's answers have them."""
    if text is None or text.language == DEFAULT_LANGUAGE or event not in (WORK_ORDER, ALARM):
        return data
    payload = json.loads(data)
    context = {READER: text}
    for key, model in (("work_order", WorkOrderOut), ("alarm", AlarmOut)):
        if isinstance(payload.get(key), dict):
            shown = model.model_validate(payload[key], context=context)
            payload[key] = shown.model_dump(mode="json")
    if isinstance(payload.get("events"), list):
        payload["events"] = [
            EventOut.model_validate(e, context=context).model_dump(mode="json")
            for e in payload["events"]
        ]
    return json.dumps(payload, separators=(",", ":"), default=str)


def _alarm(a: Alarm) -> dict[str, Any]:
    return {"alarm": AlarmOut.model_validate(a).model_dump(mode="json")}


@dataclass(slots=True)
class ChangeWatcher:
    """Finds what changed in the database since the last poll. Not thread-safe: one poller."""

    clock: Callable[[], float] = time.monotonic
    primed: bool = False
    floor: int = 0  # every work-order event id up to here has been handled
    seen: set[int] = field(default_factory=set)  # handled ids above the floor
    gaps: dict[int, float] = field(default_factory=dict)  # missing id → when first missed
    alarms: OrderedDict[int, tuple[Any, ...]] = field(default_factory=OrderedDict)
    active: set[int] = field(default_factory=set)
    max_alarm_id: int = 0

    def poll(self, db: Database) -> list[tuple[str, dict[str, Any]]]:
        with db.sessions() as session:
            if not self.primed:
                self.prime(session)
                return []
            return self.changes(session)

    def prime(self, session: Session) -> None:
        """Take the database as it is now as the starting point."""
        self.floor = session.scalar(select(func.max(WorkOrderEvent.id))) or 0
        self.max_alarm_id = session.scalar(select(func.max(Alarm.id))) or 0
        for alarm in session.scalars(select(Alarm).where(Alarm.state == AlarmState.ACTIVE)):
            self._remember(alarm)
            self.active.add(alarm.id)
        self.primed = True

    def changes(self, session: Session) -> list[tuple[str, dict[str, Any]]]:
        out = [(ALARM, _alarm(a)) for a in self._alarms(session)]
        out.extend(self._work_orders(session))
        return out

    def _remember(self, alarm: Alarm) -> bool:
        """Note the alarm's state; True if it differs from the last one noted."""
        state = _alarm_state(alarm)
        changed = self.alarms.get(alarm.id) != state
        self.alarms[alarm.id] = state
        self.alarms.move_to_end(alarm.id)
        while len(self.alarms) > RECENT_ALARMS:
            self.alarms.popitem(last=False)
        return changed

    def _alarms(self, session: Session) -> list[Alarm]:
        active = list(session.scalars(select(Alarm).where(Alarm.state == AlarmState.ACTIVE)))
        active_ids = {a.id for a in active}
        others: list[Alarm] = []
        gone = self.active - active_ids
        if gone:
            others.extend(session.scalars(select(Alarm).where(Alarm.id.in_(gone))))
        others.extend(
            session.scalars(
                select(Alarm)
                .where(Alarm.id > self.max_alarm_id, Alarm.state != AlarmState.ACTIVE)
                .order_by(Alarm.id)
                .limit(MAX_ROWS)
            )
        )
        self.active = active_ids
        changed = []
        for alarm in sorted({a.id: a for a in [*active, *others]}.values(), key=lambda a: a.id):
            self.max_alarm_id = max(self.max_alarm_id, alarm.id)
            if self._remember(alarm):
                changed.append(alarm)
        return changed

    def _new_events(self, session: Session) -> list[WorkOrderEvent]:
        rows = list(
            session.scalars(
                select(WorkOrderEvent)
                .where(WorkOrderEvent.id > self.floor)
                .order_by(WorkOrderEvent.id)
                .limit(MAX_ROWS)
            )
        )
        new = [e for e in rows if e.id not in self.seen]
        self.seen.update(e.id for e in new)
        self._advance(max((e.id for e in rows), default=self.floor))
        return new

    def _advance(self, top: int) -> None:
        """Move the floor past every id up to `top` that was seen, or that has been missing
        for longer than a transaction could take (a rolled-back insert leaves a hole)."""
        now = self.clock()
        for missing in range(self.floor + 1, top):
            if missing not in self.seen:
                self.gaps.setdefault(missing, now)
        while True:
            nxt = self.floor + 1
            if nxt in self.seen:
                self.seen.discard(nxt)
                self.gaps.pop(nxt, None)
            elif nxt in self.gaps and now - self.gaps[nxt] >= GAP_WAIT_S:
                del self.gaps[nxt]
            else:
                break
            self.floor = nxt

    def _work_orders(self, session: Session) -> Iterable[tuple[str, dict[str, Any]]]:
        events: dict[int, list[WorkOrderEvent]] = {}
        for event in self._new_events(session):
            events.setdefault(event.work_order_id, []).append(event)
        out: list[tuple[str, dict[str, Any]]] = []
        for wo_id, items in events.items():
            wo = session.get(WorkOrder, wo_id)
            if wo is None:
                continue
            if wo.alarm is not None and self._remember(wo.alarm):
                out.append((ALARM, _alarm(wo.alarm)))
            out.append(
                (
                    WORK_ORDER,
                    {
                        "work_order": WorkOrderOut.model_validate(wo).model_dump(mode="json"),
                        "events": [
                            EventOut.model_validate(e).model_dump(mode="json") for e in items
                        ],
                    },
                )
            )
        return out
