"""A rule reload reaches the engine of every site running in the process, including a site
attached while the reload runs, and a site made with the rules before a reload and attached
after it; a site whose evaluation stopped meanwhile does not fail it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from cloud.cluster.leases import LeaseLost
from cloud.ingest import TelemetryConsumer
from cloud.rules.loader import RuleSet
from cloud.rules.model import Rule
from cloud.rules.service import RulesService
from plantroom.ticker import NotRunning


class Site:
    """A consumer as the reload sees it: `call` runs `monitor.set_rules` (or fails)."""

    def __init__(
        self,
        rules: list[Rule],
        fails: Exception | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        self.rules = rules  # its engine's
        self.fails = fails
        self.then = then  # run once the rules are applied (attaching another site, say)
        self.applied: list[RuleSet] = []
        self.monitor = self.engine = self

    def set_rules(self, rule_set: RuleSet) -> list[Any]:
        self.applied.append(rule_set)
        self.rules = rule_set.rules
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


def service() -> RulesService:
    return RulesService(None, timezone=UTC, clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))


async def test_a_reload_reaches_every_site_and_skips_one_that_stopped() -> None:
    rules = service()
    now = rules.current.rules
    late = Site(now)
    north = Site(now, then=lambda: rules.attach("west", consumer(late)))  # west starts meanwhile
    lost, stopped = Site(now, fails=LeaseLost("south", 3)), Site(now, fails=NotRunning("stopped"))
    rules.attach("north", consumer(north))
    rules.attach("south", consumer(lost))
    rules.attach("east", consumer(stopped))
    result = await rules.reload()
    assert result.rules == len(rules.current.rules) and rules.reloads == 1
    assert north.applied == [rules.current] and late.applied == [rules.current]
    rules.attach("north", None)  # a site that stops is no longer reloaded
    await rules.reload()
    assert len(north.applied) == 1 and len(late.applied) == 2


async def test_a_site_made_before_a_reload_and_attached_after_it_is_caught_up() -> None:
    rules = service()
    made = Site(rules.current.rules[1:])  # its engine has the rules of before the reload
    rules.attach("north", consumer(made))
    await asyncio.wait_for(asyncio.gather(*rules._catching_up), 10.0)
    assert made.applied == [rules.current] and made.rules == rules.current.rules
    same = Site(rules.current.rules)
    rules.attach("south", consumer(same))
    assert not rules._catching_up and same.applied == []  # already on the rules in use
