"""The synchronous side of telemetry processing: validated messages in, registry updates and
alarm/work-order changes out, one database transaction per batch.

Runs on one worker thread (see `cloud.ingest`), which also owns the rule engine. If a batch
fails, the transaction rolls back and the engine is reloaded from the database, so a retry
sees exactly the state that was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import alarms
from cloud.clock import Clock
from cloud.db import Database
from cloud.enums import EquipmentStatus
from cloud.models import Equipment
from cloud.rules.engine import Change, RuleEngine, Transition
from cloud.sla import SlaPolicy
from plantroom.schema import Quality, Telemetry
from plantroom.topics import EquipmentTopic

log = logging.getLogger(__name__)

MAX_WARNED_UNKNOWN = 1000


@dataclass(frozen=True, slots=True)
class TelemetryItem:
    topic: EquipmentTopic
    telemetry: Telemetry


@dataclass(frozen=True, slots=True)
class StatusItem:
    topic: EquipmentTopic
    status: EquipmentStatus


@dataclass(frozen=True, slots=True)
class TickItem:
    pass


Item = TelemetryItem | StatusItem | TickItem


@dataclass(slots=True)
class MonitorStats:
    telemetry: int = 0
    status: int = 0
    unknown_equipment: int = 0
    out_of_order: int = 0
    raised: int = 0
    cleared: int = 0
    batches: int = 0
    last_batch_at: datetime | None = None
    warned: set[str] = field(default_factory=set, repr=False)


class Monitor:
    def __init__(
        self, db: Database, engine: RuleEngine, *, site: str, clock: Clock, sla: SlaPolicy
    ) -> None:
        self._db = db
        self._engine = engine
        self._site = site
        self._clock = clock
        self._sla = sla
        self.stats = MonitorStats()

    def load(self) -> None:
        """(Re)build the engine's state from the database: last values, status, active alarms."""
        self._engine.clear_all()
        with self._db.session() as session:
            for row in session.scalars(select(Equipment).where(Equipment.in_inventory.is_(True))):
                self._engine.track(
                    row.id,
                    row.kind,
                    values=row.last_values,
                    last_seen=row.last_seen.timestamp() if row.last_seen else None,
                    status=row.status.value,
                )
            for alarm in alarms.active_alarms(session):
                if self._engine.tracked(alarm.equipment_id):
                    self._engine.mark_active(alarm.equipment_id, alarm.rule_id)

    def process(self, items: Sequence[Item]) -> None:
        """Apply a batch in one transaction. On error the engine is reloaded and it re-raises."""
        try:
            with self._db.session() as session:
                self._apply(session, items)
        except Exception:
            log.exception(
                "processing a batch of %d messages failed; reloading rule state", len(items)
            )
            self.load()
            raise
        self.stats.batches += 1
        self.stats.last_batch_at = self._clock()

    def _apply(self, session: Session, items: Sequence[Item]) -> None:
        ids = {i.topic.equipment for i in items if not isinstance(i, TickItem)}
        rows = (
            {row.id: row for row in session.scalars(select(Equipment).where(Equipment.id.in_(ids)))}
            if ids
            else {}
        )
        for item in items:
            now = self._clock()
            if isinstance(item, TickItem):
                self._transitions(session, self._engine.tick(at=now.timestamp()), now)
                continue
            row = self._known(rows, item.topic)
            if row is None:
                continue
            if isinstance(item, StatusItem):
                self.stats.status += 1
                self._set_status(session, row, item.status, now)
            else:
                self.stats.telemetry += 1
                self._telemetry(session, row, item.telemetry, now)

    def _known(self, rows: dict[str, Equipment], topic: EquipmentTopic) -> Equipment | None:
        row = rows.get(topic.equipment)
        problem = None
        if row is None or not row.in_inventory or not self._engine.tracked(row.id):
            problem = "is not in the inventory"
        elif topic.site != self._site or topic.building != row.building or topic.kind != row.kind:
            problem = (
                f"is registered as {self._site}/{row.building}/{row.kind}, "
                f"not {topic.site}/{topic.building}/{topic.kind}"
            )
        if problem is None:
            return row
        self.stats.unknown_equipment += 1
        key = f"{topic.site}/{topic.building}/{topic.kind}/{topic.equipment}"
        if key not in self.stats.warned and len(self.stats.warned) < MAX_WARNED_UNKNOWN:
            self.stats.warned.add(key)
            log.warning("ignoring messages for %s: equipment %s", key, problem)
        return None

    def _set_status(
        self, session: Session, row: Equipment, status: EquipmentStatus, now: datetime
    ) -> None:
        if row.status is status:
            return
        log.info("equipment %s is %s (was %s)", row.id, status.value, row.status.value)
        row.status = status
        row.status_changed_at = now
        self._transitions(
            session, self._engine.set_status(row.id, status.value, at=now.timestamp()), now
        )

    def _telemetry(self, session: Session, row: Equipment, t: Telemetry, now: datetime) -> None:
        sample_at = datetime.fromtimestamp(t.ts / 1000, UTC)
        if row.last_ts is not None and sample_at < row.last_ts:
            # An older sample (replayed from an edge buffer): history for InfluxDB, not news.
            self.stats.out_of_order += 1
            return
        values = dict(t.points)
        for name, quality in (t.quality or {}).items():
            if quality is Quality.UNAVAILABLE and name in values:
                values[name] = None
        row.last_values = {**row.last_values, **values}
        row.last_seen = now
        row.last_ts = sample_at
        row.last_seq = t.seq
        self._set_status(session, row, EquipmentStatus.ONLINE, now)
        self._transitions(session, self._engine.observe(row.id, values, at=now.timestamp()), now)

    def _transitions(self, session: Session, transitions: list[Transition], now: datetime) -> None:
        for transition in transitions:
            equipment = session.get(Equipment, transition.equipment_id)
            if equipment is None:
                continue
            alarms.apply(session, transition, equipment=equipment, now=now, sla=self._sla)
            if transition.change is Change.RAISED:
                self.stats.raised += 1
            else:
                self.stats.cleared += 1
