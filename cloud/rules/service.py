"""The rules of a running service: loaded at start, reloaded without a restart.

`RulesService` loads and validates the rule files when the service is created (a bad file
stops it before it listens). While it runs, a watcher looks at the files' sizes and
modification times every few seconds and reloads when they change; engineers can also ask
for a reload (`POST /api/rules/reload`). A reload that fails validation changes nothing: the
service keeps the rules it has, and the error — naming the file, line, rule and field — is
logged once and kept for the API. A good reload is applied on the database thread, between
two telemetry batches, so no batch ever sees half of each rule set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path

from cloud.clock import Clock
from cloud.cluster.leases import LeaseLost
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.monitor import Monitor
from cloud.rules.engine import Change, RuleEngine, Transition
from cloud.rules.loader import RuleLibrary, RuleSet
from cloud.sites import site_timezone as site_timezone  # where it was
from cloud.sla import SlaPolicy
from plantroom.errors import ConfigError
from plantroom.ticker import NotRunning

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class ReloadResult:
    rules: int
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    cleared_alarms: int = 0
    raised_alarms: int = 0

    @property
    def any_change(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class RulesService:
    def __init__(
        self,
        extra: Path | None,
        *,
        timezone: tzinfo,
        clock: Clock,
        watch_interval: float = WATCH_INTERVAL_S,
        on_reload: Callable[[RuleSet], None] | None = None,
    ) -> None:
        self.library = RuleLibrary(extra)
        self.timezone = timezone
        self.zones: dict[str, tzinfo] = {}  # equipment id → its site's zone, if not `timezone`
        self._clock = clock
        self.watch_interval = watch_interval
        self.on_reload = on_reload
        self.current = self.library.load()
        self.loaded_at: datetime = clock()
        self.last_error: str | None = None
        self.reloads = 0
        self._consumers: dict[str, TelemetryConsumer] = {}  # per site, while it runs
        self._lock = asyncio.Lock()
        self._catching_up: set[asyncio.Task[None]] = set()

    def engine(self, provided: Mapping[str, frozenset[str]] | None = None) -> RuleEngine:
        """The engine for the current rules; `provided`: per piece of equipment, the points
        its profile provides (see `cloud.rules.absent`)."""
        return RuleEngine(
            self.current.rules,
            clock=lambda: self._clock().timestamp(),
            timezone=self.timezone,
            provided=provided,
            zones=self.zones,
        )

    def monitor(
        self,
        db: Database,
        *,
        site: str,
        sla: SlaPolicy,
        provided: Mapping[str, frozenset[str]] | None = None,
        sites: Mapping[str, str] | None = None,
        live_interval: float = 0.0,
    ) -> Monitor:
        """`sites`: per building, its site, where not `site` (one service, several sites);
        `live_interval`: the live rows' (`cloud.live`)."""
        return Monitor(
            db,
            self.engine(provided),
            site=site,
            sites=sites,
            clock=self._clock,
            sla=sla,
            outage=self.current.outage,
            live_interval=live_interval,
        )

    def attach(self, site: str, consumer: TelemetryConsumer | None) -> None:
        """`site`'s running consumer, whose engine follows the rules (None: it stopped)."""
        if consumer is None:
            self._consumers.pop(site, None)
            return
        self._consumers[site] = consumer
        engine = {rule.id: rule for rule in consumer.monitor.engine.rules}
        if engine != self.current.by_id():  # made as a reload ended: given the rules now
            task = asyncio.get_running_loop().create_task(self._catch_up(site, consumer))
            self._catching_up.add(task)
            task.add_done_callback(self._catching_up.discard)

    async def _catch_up(self, site: str, consumer: TelemetryConsumer) -> None:
        async with self._lock:
            if self._consumers.get(site) is consumer:
                await self._apply_to(site, consumer, self.current)

    async def reload(self) -> ReloadResult:
        """Read the rule files again and use them; ConfigError (nothing changed) if one is
        invalid."""
        async with self._lock:
            try:
                rule_set = self.library.load()
            except ConfigError as exc:
                self.library.mark_seen()
                self.last_error = str(exc)
                raise
            old = self.current.by_id()
            new = rule_set.by_id()
            transitions = await self._apply(rule_set)
            self.current = rule_set
            self.loaded_at = self._clock()
            self.last_error = None
            self.reloads += 1
            if self.on_reload is not None:
                self.on_reload(rule_set)
        result = ReloadResult(
            rules=len(new),
            added=sorted(set(new) - set(old)),
            removed=sorted(set(old) - set(new)),
            changed=sorted(i for i in set(old) & set(new) if old[i] != new[i]),
            cleared_alarms=sum(t.change is Change.CLEARED for t in transitions),
            raised_alarms=sum(t.change is Change.RAISED for t in transitions),
        )
        log.info(
            "rules reloaded: %d rules (added %s, removed %s, changed %s); alarms: %d cleared, "
            "%d raised",
            result.rules,
            ", ".join(result.added) or "none",
            ", ".join(result.removed) or "none",
            ", ".join(result.changed) or "none",
            result.cleared_alarms,
            result.raised_alarms,
        )
        return result

    async def _apply(self, rule_set: RuleSet) -> list[Transition]:
        """`rule_set` to each running site's engine in turn, a site attached meanwhile too (one
        made before the reload and attached after is caught up by `attach`); a site whose
        evaluation stopped meanwhile (its lease lost) is left to its next holder, which loads
        the rules then in use."""
        transitions: list[Transition] = []
        done: set[int] = set()
        while pending := [(s, c) for s, c in self._consumers.items() if id(c) not in done]:
            for site, consumer in pending:
                done.add(id(consumer))
                transitions += await self._apply_to(site, consumer, rule_set)
        return transitions

    @staticmethod
    async def _apply_to(
        site: str, consumer: TelemetryConsumer, rule_set: RuleSet
    ) -> list[Transition]:
        try:
            return await consumer.call(consumer.monitor.set_rules, rule_set)
        except (LeaseLost, NotRunning) as exc:
            log.warning("rules not applied to site %s, whose evaluation stopped: %s", site, exc)
            return []

    async def check(self) -> ReloadResult | None:
        """Reload if the files changed since they were last read; None if they did not.
        An invalid file is logged (once) and leaves the rules as they are."""
        if not self.library.changed():
            return None
        try:
            return await self.reload()
        except ConfigError as exc:
            log.error("rule files changed but are invalid; keeping the rules in use:\n%s", exc)
            return None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                await self.check()
            except Exception:
                log.exception("reloading the rules failed; keeping the rules in use")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RulesService]:
        """Watch the rule files while the context is open."""
        task = asyncio.create_task(self._watch(), name="cloud-rules-watch")
        try:
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
