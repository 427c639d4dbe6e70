"""The synchronous side of telemetry processing: validated messages in, registry updates and
alarm/work-order changes out, one database transaction per batch.

Runs on one worker thread (see `cloud.ingest`), which also owns the rule engine and the
registry's live columns (`cloud.live`: a sample changes them in memory, and each piece of
equipment a batch touched is written once, at the end of its transaction, or, when only its
measurements moved, at most every `live_interval` seconds). If a batch fails,
the transaction rolls back and the engine and live columns are reloaded from the database, so
a retry sees exactly the state that was committed.

The engine's timers (a `for` duration running, a `clear_for` running) and its history (rate,
trend and counter windows) are saved with the batch that changed them (`cloud.rulestore`:
timers in `rule_states`, history in parts in `rule_history`, only what changed), so they
survive a restart; history that only grew is saved at most every `save_interval` seconds per
piece of equipment, that of at most `DUE_SAVES` pieces a transaction (equipment that fell due
together, as all does after a start, is spread over the next batches instead of making one
batch long, which an alarm arriving meanwhile would wait for; a batch that raised an alarm
saves none that fell due, so its work order commits sooner), and everything on `flush`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import faults
from cloud.alarms.model import Alarm
from cloud.clock import Clock
from cloud.db import Database
from cloud.enums import AlarmState, EquipmentStatus
from cloud.equipment import Equipment, key, split
from cloud.incidents.service import IncidentManager
from cloud.live import LiveEquipment, LiveRegistry
from cloud.maintenance.window import Board
from cloud.rehearsal import rehearse
from cloud.rules.base import Scalar
from cloud.rules.engine import Change, RuleEngine, Transition
from cloud.rules.loader import RuleSet
from cloud.rules.model import OutagePolicy
from cloud.rulestore import RuleStateStore
from cloud.sla import SlaPolicy
from plantroom.schema import Quality, Telemetry
from plantroom.topics import EquipmentTopic

log = logging.getLogger(__name__)

MAX_WARNED_UNKNOWN = 1000
SAVE_INTERVAL_S = 30.0
DUE_SAVES = 16  # pieces of equipment whose grown history one transaction saves at most


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
    folded: int = 0
    batches: int = 0
    states_saved: int = 0
    rows_written: int = 0  # registry rows written with the batches (one per equipment)
    rule_reloads: int = 0
    last_batch_at: datetime | None = None
    warned: set[str] = field(default_factory=set, repr=False)


class Monitor:
    def __init__(
        self,
        db: Database,
        engine: RuleEngine,
        *,
        site: str,
        sites: Mapping[str, str] | None = None,
        clock: Clock,
        sla: SlaPolicy,
        outage: OutagePolicy | None = None,
        save_interval: float = SAVE_INTERVAL_S,
        live_interval: float = 0.0,
    ) -> None:
        self._db = db
        self._engine = engine
        self._clock = clock
        self._sla = sla
        self._save_interval = save_interval
        self._live = LiveRegistry(live_interval)  # rows' measurements written so often
        self._incidents = IncidentManager(
            outage or OutagePolicy(), engine.rules, site=site, sites=sites
        )
        self._store = RuleStateStore()
        # equipment whose history grew since its last save → when it is due to be saved, and
        # the same in a heap, soonest first (entries no longer in `_unsaved` are skipped)
        self._unsaved: dict[str, float] = {}
        self._due: list[tuple[float, str]] = []
        self._saved_at: dict[str, float] = {}
        self._needs_load = False  # a reload failed (database down): retry before the next batch
        self._rehearsed = False  # a fault rehearsed after the first load (`cloud.rehearsal`)
        self.stats = MonitorStats()
        # called (on the batch's thread) after a batch that raised an alarm has committed:
        # the SLA ticker's wake, so a new job is dispatched now, not at its next tick
        self.on_raised: Callable[[], None] | None = None
        # the maintenance windows: alarms of equipment in one are held (cloud.maintenance)
        self.maintenance: Board | None = None
        # run first in each transaction that writes: raises when this process may no longer
        # evaluate the site (a cluster's lease, `cloud.cluster`), so nothing commits
        self.fence: Callable[[Session], None] | None = None
        # the one site whose state `load` reads (a cluster's leased site); None: every site's
        self.only_site: str | None = None

    @property
    def engine(self) -> RuleEngine:
        return self._engine

    @property
    def incidents(self) -> IncidentManager:
        return self._incidents

    @property
    def timezone(self) -> tzinfo:
        return self._engine.timezone

    def load(self) -> None:
        """(Re)build the engine's state from the database: last values, status, saved timers
        and history, active alarms."""
        self._needs_load = True
        self._engine.clear_all()
        with self._db.session() as session:
            for live in self._live.load(session, self.only_site):
                self._engine.track(
                    live.key,
                    live.kind,
                    values=live.values,
                    last_seen=live.seen_s,
                    status=live.status.value,
                )
            active_rows = select(Alarm.site, Alarm.equipment_id, Alarm.rule_id).where(
                Alarm.state == AlarmState.ACTIVE
            )
            if self.only_site is not None:
                active_rows = active_rows.where(Alarm.site == self.only_site)
            for equipment_key, data in self._store.load(session, self.only_site).items():
                if self._engine.tracked(equipment_key):
                    self._engine.restore(equipment_key, data)
            active: set[tuple[str, str]] = {
                (key(site or "", equipment_id), rule_id)
                for site, equipment_id, rule_id in session.execute(active_rows)
            }
        # the alarms table is the truth about what is active
        for equipment_id, rule_id in active:
            if self._engine.tracked(equipment_id):
                self._engine.mark_active(equipment_id, rule_id)
        for row_id in self._engine.tracked_ids():
            for rule_id in self._engine.active_rules(row_id):
                if (row_id, rule_id) not in active:
                    self._engine.mark_inactive(row_id, rule_id)
        self._engine.take_changes()
        self._unsaved.clear()
        self._due.clear()
        self._needs_load = False
        if not self._rehearsed:  # the first fault then finds its SQL compiled
            self._rehearsed = rehearse(
                self._db, self._engine, self._live.rows(), now=self._clock(), sla=self._sla,
                incidents=self._incidents,
            )  # fmt: skip

    def process(self, items: Sequence[Item], stop: Callable[[], bool] | None = None) -> int:
        """Apply a batch in one transaction; how many of `items` were applied: all, or fewer
        when `stop()` said yes after one of them (the rest are left for the caller, and what
        was applied commits at once: an alarm waiting behind a long batch cuts in). On error
        the engine is reloaded and it re-raises; a reload that failed too is done again
        before the next batch (which raises while the database is still unreachable, so no
        batch meets an engine that tracks nothing)."""
        if self._needs_load:
            self.load()
        raised = self.stats.raised
        try:
            with self._db.session() as session:
                self._fenced(session)
                applied = self._apply(session, items, stop)
                self.stats.rows_written += self._live.write(
                    session, now_s=self._clock().timestamp()
                )
                # a batch that raised an alarm leaves history due to the next batches: its
                # commit is what the alarm's work order waits for
                self._save_state(session, force=False, take_due=self.stats.raised == raised)
        except Exception:
            log.exception(
                "processing a batch of %d messages failed; reloading rule state", len(items)
            )
            self.load()
            raise
        self.stats.batches += 1
        self.stats.last_batch_at = self._clock()
        if self.stats.raised != raised and self.on_raised is not None:
            self.on_raised()
        return applied

    def flush(self) -> None:
        """Save every piece of rule state, and every live row, not saved yet (at shutdown)."""
        try:
            with self._db.session() as session:
                self._fenced(session)
                self.stats.rows_written += self._live.write(
                    session, self._clock().timestamp(), everything=True
                )
                self._save_state(session, force=True)
        except Exception:
            self._needs_load = True  # what the store knows is saved was rolled back
            raise

    def _fenced(self, session: Session) -> None:
        if self.fence is not None:
            self.fence(session)

    def set_rules(self, rule_set: RuleSet) -> list[Transition]:
        """Use new rules from now on (a reload), in one transaction: alarms of rules that are
        gone clear. Returns the transitions it applied."""
        old_rules, old_outage = self._engine.rules, self._incidents.policy
        try:
            with self._db.session() as session:
                self._fenced(session)
                now = self._clock()
                transitions = self._engine.set_rules(rule_set.rules, at=now.timestamp())
                self._incidents.set_rules(rule_set.outage, rule_set.rules)
                self._transitions(session, transitions, now)
                self._save_state(session, force=True)
        except Exception:
            log.exception("applying reloaded rules failed; keeping the rules in use")
            self._engine.set_rules(old_rules)
            self._incidents.set_rules(old_outage, old_rules)
            self.load()
            raise
        self.stats.rule_reloads += 1
        return transitions

    def _save_state(self, session: Session, *, force: bool, take_due: bool = True) -> None:
        """Save the timers that changed, with their equipment's history; with `force`, every
        history not saved yet; else, with `take_due`, up to `DUE_SAVES` that fell due."""
        changes = self._engine.take_changes()
        now = self._clock()
        stamp = now.timestamp()
        for equipment_id in changes.history:
            if equipment_id not in self._unsaved:
                due = self._saved_at.get(equipment_id, -self._save_interval) + self._save_interval
                self._unsaved[equipment_id] = due
                heapq.heappush(self._due, (due, equipment_id))
        if force:
            history = set(self._unsaved)
        else:
            history = self._unsaved.keys() & changes.rules  # saved with the timers that changed
            while take_due and self._due and self._due[0][0] <= stamp and len(history) < DUE_SAVES:
                due, equipment_id = heapq.heappop(self._due)
                if self._unsaved.get(equipment_id) == due:
                    history.add(equipment_id)
        if not history and not changes.rules:
            return
        self.stats.states_saved += self._store.save(
            session, self._engine, timers=changes.rules, history=history, now=now
        )
        for equipment_id in history:
            del self._unsaved[equipment_id]
            self._saved_at[equipment_id] = stamp
        if not self._unsaved:
            self._due.clear()

    def _apply(
        self, session: Session, items: Sequence[Item], stop: Callable[[], bool] | None
    ) -> int:
        for applied, item in enumerate(items):
            if applied and stop is not None and stop():
                return applied
            now = self._clock()
            if isinstance(item, TickItem):
                self._transitions(session, self._engine.tick(at=now.timestamp()), now)
                continue
            live = self._known(item.topic)
            if live is None:
                continue
            if isinstance(item, StatusItem):
                self.stats.status += 1
                self._set_status(session, live, item.status, now)
            else:
                self.stats.telemetry += 1
                self._telemetry(session, live, item.telemetry, now)
        return len(items)

    def _known(self, topic: EquipmentTopic) -> LiveEquipment | None:
        live = self._live.get(key(topic.site, topic.equipment))
        problem = None
        if live is None or not self._engine.tracked(live.key):
            problem = "is not in the inventory"
        elif topic.building != live.building or topic.kind != live.kind:
            problem = (
                f"is registered as {live.site}/{live.building}/{live.kind}, "
                f"not {topic.site}/{topic.building}/{topic.kind}"
            )
        if problem is None:
            return live
        self.stats.unknown_equipment += 1
        where = f"{topic.site}/{topic.building}/{topic.kind}/{topic.equipment}"
        if where not in self.stats.warned and len(self.stats.warned) < MAX_WARNED_UNKNOWN:
            self.stats.warned.add(where)
            log.warning("ignoring messages for %s: equipment %s", where, problem)
        return None

    def _set_status(
        self, session: Session, live: LiveEquipment, status: EquipmentStatus, now: datetime
    ) -> None:
        if live.status is status:
            return
        log.info("equipment %s is %s (was %s)", live.id, status.value, live.status.value)
        live.status = status
        self._live.write_status(session, live, now)
        self._transitions(
            session, self._engine.set_status(live.key, status.value, at=now.timestamp()), now
        )

    def _telemetry(
        self, session: Session, live: LiveEquipment, t: Telemetry, now: datetime
    ) -> None:
        newest = live.newest_s()
        if newest is not None and t.ts / 1000 < newest:
            # An older sample (replayed from an edge buffer): history for InfluxDB, not news.
            self.stats.out_of_order += 1
            return
        values: dict[str, Scalar] = t.points
        if t.quality:
            values = dict(values)
            for name, quality in t.quality.items():
                if quality is Quality.UNAVAILABLE and name in values:
                    values[name] = None
        stamp = now.timestamp()
        live.take(values, ts_ms=t.ts, seq=t.seq, now=now)
        self._live.mark(live, stamp)
        self._set_status(session, live, EquipmentStatus.ONLINE, now)
        self._transitions(session, self._engine.observe(live.key, values, at=stamp), now)

    def _transitions(self, session: Session, transitions: list[Transition], now: datetime) -> None:
        for transition in transitions:
            equipment = session.get(Equipment, split(transition.equipment_id))
            if equipment is None:
                continue
            folded = self._incidents.folded
            self._live.urge(transition.equipment_id)
            faults.apply(
                session,
                transition,
                equipment=equipment,
                now=now,
                sla=self._sla,
                incidents=self._incidents,
                held=self.maintenance,
            )
            if transition.change is Change.RAISED:
                self.stats.raised += 1
                self.stats.folded += self._incidents.folded - folded
            else:
                self.stats.cleared += 1
