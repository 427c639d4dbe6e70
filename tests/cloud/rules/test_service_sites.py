"""A rule reload reaches the engine of every site running in the process, including a site
attached while the reload runs; a site whose evaluation stopped meanwhile does not fail it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from cloud.cluster.leases import LeaseLost
from cloud.ingest import TelemetryConsumer
from cloud.rules.loader import RuleSet
from cloud.rules.service import RulesService
from plantroom.ticker import NotRunning


class Site:
    """A consumer as the reload sees it: `call` runs `monitor.set_rules` (or fails)."""

    def __init__(self, fails: Exception | None = None, then: Callable[[], None] | None = None):
        self.fails = fails
        self.then = then  # run once the rules are applied (attaching another site, say)
        self.applied: list[RuleSet] = []
        self.monitor = self

    def set_rules(self, rule_set: RuleSet) -> list[Any]:
        self.applied.append(rule_set)
        return []

    async def call(self, fn: Callable[..., list[Any]], *args: Any) -> list[Any]:
        if self.fails is not None:
            raise self.fails
        result = fn(*args)
        if self.then is not None:
            self.then()
        return result


def consumer(site: Site) -> TelemetryConsumer:
    return cast(TelemetryConsumer, site)


async def test_a_reload_reaches_every_site_and_skips_one_that_stopped() -> None:
    rules = RulesService(None, timezone=UTC, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    late = Site()
    north = Site(then=lambda: rules.attach("west", consumer(late)))  # west starts meanwhile
    lost, stopped = Site(fails=LeaseLost("south", 3)), Site(fails=NotRunning("stopped"))
    rules.attach("north", consumer(north))
    rules.attach("south", consumer(lost))
    rules.attach("east", consumer(stopped))
    result = await rules.reload()
    assert result.rules == len(rules.current.rules) and rules.reloads == 1
    assert north.applied == [rules.current] and late.applied == [rules.current]
    rules.attach("north", None)  # a site that stops is no longer reloaded
    await rules.reload()
    assert len(north.applied) == 1 and len(late.applied) == 2
