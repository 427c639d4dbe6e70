"""The rule engine with plain data and an injected clock."""

from __future__ import annotations

import pytest

from cloud.rules.base import Context
from cloud.rules.engine import Change, RuleEngine
from tests.cloud.harness import Clock
from tests.cloud.rules.harness import changes, rule


def test_raises_at_once_and_once_only(clock: Clock) -> None:
    engine = RuleEngine([rule({"point": "dry_run", "is": True})], clock=clock.timestamp)
    engine.track("p1", "pump")
    first = engine.observe("p1", {"dry_run": True})
    assert changes(first) == [("p1", "pump.test", Change.RAISED)]
    assert first[0].values == {"dry_run": True}
    assert first[0].message == "Test fault (dry_run=true)"
    for _ in range(5):
        assert engine.observe("p1", {"dry_run": True}) == []
    cleared = engine.observe("p1", {"dry_run": False})
    assert changes(cleared) == [("p1", "pump.test", Change.CLEARED)]
    assert engine.observe("p1", {"dry_run": False}) == []


def test_fires_only_after_for_and_resets_when_it_goes_away(clock: Clock) -> None:
    engine = RuleEngine(
        [rule({"point": "t", "above": 80}, **{"for": "30s"})], clock=clock.timestamp
    )
    engine.track("p1", "pump")
    assert engine.observe("p1", {"t": 85}) == []
    clock.advance(20)
    assert engine.tick() == []
    # dips below before `for` elapsed: the timer starts again
    assert engine.observe("p1", {"t": 75}) == []
    clock.advance(5)
    assert engine.observe("p1", {"t": 90}) == []
    clock.advance(29)
    assert engine.tick() == []
    clock.advance(1)
    # no new telemetry needed: the tick raises it (report by exception)
    assert changes(engine.tick()) == [("p1", "pump.test", Change.RAISED)]
    assert engine.tick() == []
    assert engine.is_active("p1", "pump.test")


def test_clears_only_below_the_hysteresis_band(clock: Clock) -> None:
    r = rule({"point": "pressure", "above": 6.5, "clear_below": 6.0})
    engine = RuleEngine([r], clock=clock.timestamp)
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"pressure": 7.0}))[0][2] is Change.RAISED
    assert engine.observe("p1", {"pressure": 6.4}) == []
    assert engine.observe("p1", {"pressure": 6.0}) == []
    assert changes(engine.observe("p1", {"pressure": 5.9}))[0][2] is Change.CLEARED
    # and raises again only above the upper limit
    assert engine.observe("p1", {"pressure": 6.4}) == []
    assert changes(engine.observe("p1", {"pressure": 6.6}))[0][2] is Change.RAISED


def test_clear_for_needs_the_fault_gone_long_enough(clock: Clock) -> None:
    engine = RuleEngine(
        [rule({"point": "dry_run", "is": True}, clear_for="10s")], clock=clock.timestamp
    )
    engine.track("p1", "pump")
    engine.observe("p1", {"dry_run": True})
    assert engine.observe("p1", {"dry_run": False}) == []
    clock.advance(5)
    assert engine.observe("p1", {"dry_run": True}) == []  # came back: clearing restarts
    assert engine.observe("p1", {"dry_run": False}) == []
    clock.advance(9)
    assert engine.tick() == []
    clock.advance(1)
    assert changes(engine.tick()) == [("p1", "pump.test", Change.CLEARED)]


def test_any_of_four_circuits(clock: Clock) -> None:
    condition = {"any": [{"point": f"circuit_{i}_tripped", "is": True} for i in range(1, 5)]}
    engine = RuleEngine([rule(condition, "lighting.tripped", "lighting")], clock=clock.timestamp)
    engine.track("l1", "lighting")
    assert engine.observe("l1", {f"circuit_{i}_tripped": False for i in range(1, 5)}) == []
    raised = engine.observe("l1", {"circuit_3_tripped": True})
    assert changes(raised) == [("l1", "lighting.tripped", Change.RAISED)]
    assert raised[0].values["circuit_3_tripped"] is True
    # another circuit trips while one is tripped: nothing new
    assert engine.observe("l1", {"circuit_1_tripped": True}) == []
    assert engine.observe("l1", {"circuit_3_tripped": False}) == []
    cleared = engine.observe("l1", {"circuit_1_tripped": False})
    assert changes(cleared) == [("l1", "lighting.tripped", Change.CLEARED)]


def test_all_needs_every_part(clock: Clock) -> None:
    condition = {
        "all": [{"point": "run_state", "equals": "running"}, {"point": "flow", "below": 1.0}]
    }
    engine = RuleEngine([rule(condition)], clock=clock.timestamp)
    engine.track("p1", "pump")
    assert engine.observe("p1", {"run_state": "running", "flow": 5.0}) == []
    assert engine.observe("p1", {"run_state": "stopped", "flow": 0.0}) == []
    assert changes(engine.observe("p1", {"run_state": "running"}))[0][2] is Change.RAISED
    assert changes(engine.observe("p1", {"run_state": "stopped"}))[0][2] is Change.CLEARED


def test_unknown_values_change_nothing(clock: Clock) -> None:
    engine = RuleEngine([rule({"point": "dry_run", "is": True})], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"dry_run": True})
    # the point goes unavailable: the alarm neither clears nor re-raises
    assert engine.observe("p1", {"dry_run": None}) == []
    assert engine.is_active("p1", "pump.test")
    assert changes(engine.observe("p1", {"dry_run": False}))[0][2] is Change.CLEARED


def test_rules_apply_to_their_kind_only(clock: Clock) -> None:
    engine = RuleEngine([rule({"point": "dry_run", "is": True})], clock=clock.timestamp)
    engine.track("lift", "elevator")
    assert engine.observe("lift", {"dry_run": True}) == []
    assert engine.rules_for("elevator") == []


def test_restored_alarm_can_clear_after_restart(clock: Clock) -> None:
    engine = RuleEngine([rule({"point": "dry_run", "is": True})], clock=clock.timestamp)
    engine.track("p1", "pump", values={"dry_run": True}, last_seen=900.0, status="online")
    engine.mark_active("p1", "pump.test")
    assert engine.observe("p1", {"dry_run": True}) == []
    assert changes(engine.observe("p1", {"dry_run": False}))[0][2] is Change.CLEARED


def test_lost_communication_and_stale_data(clock: Clock) -> None:
    lost = rule({"status": "offline"}, "pump.lost", **{"for": "1m"})
    stale = rule({"stale": "5m"}, "pump.stale")
    engine = RuleEngine([lost, stale], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"speed": 1400})
    assert engine.set_status("p1", "offline") == []
    clock.advance(60)
    assert changes(engine.tick()) == [("p1", "pump.lost", Change.RAISED)]
    clock.advance(241)
    assert changes(engine.tick()) == [("p1", "pump.stale", Change.RAISED)]
    assert sorted(
        changes(engine.set_status("p1", "online")) + changes(engine.observe("p1", {"speed": 1400}))
    ) == [("p1", "pump.lost", Change.CLEARED), ("p1", "pump.stale", Change.CLEARED)]


def test_rate_rule_sees_a_rising_level_and_its_end(clock: Clock) -> None:
    r = rule({"point": "sump_level", "rate_above": 5, "per": "1m", "window": "2m"}, "pump.rising")
    engine = RuleEngine([r], clock=clock.timestamp)
    engine.track("p1", "pump")
    level = 40.0
    raised_at = None
    for step in range(20):
        level += 2.0  # 2 % every 10 s = 12 %/min
        out = engine.observe("p1", {"sump_level": level})
        if out:
            raised_at = step
            break
        clock.advance(10)
    assert raised_at is not None and raised_at >= 6  # needs half the window of history
    # the level stops rising: the rate falls to zero once the window has passed
    clock.advance(120)
    assert changes(engine.tick()) == [("p1", "pump.rising", Change.CLEARED)]


def test_history_is_bounded_and_thinned_without_losing_counts(clock: Clock) -> None:
    r = rule({"point": "starts", "increase_above": 1e9, "window": "1d"})
    engine = RuleEngine([r], clock=clock.timestamp, max_history=16)
    engine.track("p1", "pump")
    value = 0
    for i in range(2000):
        clock.advance(60)
        value = 5 if i == 1000 else value + 1  # a counter reset half way
        engine.observe("p1", {"starts": value})
    samples = engine._equipment["p1"].history["starts"]
    assert len(samples) <= 16
    seen = r.condition.increase(  # type: ignore[union-attr]
        Context(
            now=clock.timestamp(),
            values={},
            last_seen=None,
            status="online",
            history={"starts": samples},
        )
    )
    assert seen is not None and seen[1]
    # 440 before the reset, 5 counted from zero, 999 after; thinning may add at most one slot
    # (1 day / 8 = 180 samples) from before the window's start, and never loses the reset
    assert 1444 <= seen[0] <= 1444 + 180


def test_a_rule_id_twice_is_refused() -> None:
    r = rule({"point": "dry_run", "is": True})
    with pytest.raises(ValueError, match="given twice"):
        RuleEngine([r, r])


def test_when_holds_the_rule_still_while_it_is_not_true(clock: Clock) -> None:
    r = rule(
        {"point": "over_current", "is": True},
        when={"point": "run_state", "equals": "running"},
    )
    engine = RuleEngine([r], clock=clock.timestamp)
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"run_state": "running", "over_current": True})) == [
        ("p1", "pump.test", Change.RAISED)
    ]
    # the pump stops: its over-current bit drops, but a stopped pump says nothing of it
    assert engine.observe("p1", {"run_state": "stopped", "over_current": False}) == []
    assert engine.is_active("p1", "pump.test")
    out = engine.observe("p1", {"run_state": "running", "over_current": False})
    assert changes(out) == [("p1", "pump.test", Change.CLEARED)]


def test_clear_when_is_the_alarms_own_way_out(clock: Clock) -> None:
    r = rule(
        {"point": "level", "above": 90},
        clear_when={"point": "level", "below": 50},
    )
    engine = RuleEngine([r], clock=clock.timestamp)
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"level": 95}))[0][2] is Change.RAISED
    assert engine.observe("p1", {"level": 70}) == []  # below the raise level, not yet clear
    assert changes(engine.observe("p1", {"level": 40}))[0][2] is Change.CLEARED


def test_new_rules_keep_what_is_known(clock: Clock) -> None:
    kept = rule({"point": "dry_run", "is": True}, "pump.kept")
    changed = rule({"point": "t", "above": 80}, "pump.changed", **{"for": "1m"})
    removed = rule({"point": "leak", "is": True}, "pump.removed")
    engine = RuleEngine([kept, changed, removed], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"dry_run": True, "t": 85, "leak": True})
    assert sorted(engine.active_rules("p1")) == ["pump.kept", "pump.removed"]

    stricter = rule({"point": "t", "above": 82}, "pump.changed", **{"for": "1m"})
    added = rule({"point": "speed", "below": 100}, "pump.added")
    out = engine.set_rules([kept, stricter, added])
    assert changes(out) == [("p1", "pump.removed", Change.CLEARED)]
    assert "removed or disabled" in out[0].message
    assert engine.active_rules("p1") == ["pump.kept"]
    clock.advance(30)
    assert engine.tick() == []  # the changed rule's `for` started again at the reload
    clock.advance(30)
    assert changes(engine.tick()) == [("p1", "pump.changed", Change.RAISED)]
    assert changes(engine.observe("p1", {"speed": 50})) == [("p1", "pump.added", Change.RAISED)]


def test_snapshot_and_restore_keep_timers_and_history(clock: Clock) -> None:
    slow = rule({"point": "t", "above": 80}, "pump.slow", **{"for": "10m"})
    cycling = rule({"point": "starts", "increase_above": 5, "window": "1h"}, "pump.cycling")
    engine = RuleEngine([slow, cycling], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"t": 85, "starts": 100})
    for n in range(101, 105):
        clock.advance(60)
        engine.observe("p1", {"starts": n})
    changed = engine.take_changes()
    assert changed.rules == {"p1"} and changed.history == {"p1"}
    saved = engine.snapshot("p1")
    assert engine.take_changes().rules == set()

    # a new process: values from the registry, then the saved state
    again = RuleEngine([slow, cycling], clock=clock.timestamp)
    again.track("p1", "pump", values={"t": 85, "starts": 104}, status="online")
    again.restore("p1", saved)
    clock.advance(6 * 60)
    assert changes(again.tick()) == [("p1", "pump.slow", Change.RAISED)]  # 10 min in all
    clock.advance(60)
    out = again.observe("p1", {"starts": 106})  # the sixth start within the hour
    assert changes(out) == [("p1", "pump.cycling", Change.RAISED)]


def test_a_counter_that_restarts_lower_is_no_burst_of_starts(clock: Clock) -> None:
    """The pump's controller (or its simulator) restarts and reports a start count a little
    below the one saved before the restart: no short-cycling alarm, and the starts after it
    count again. A counter cleared to zero still counts from zero."""
    cycling = rule({"point": "starts", "increase_above": 30, "window": "1h"}, "pump.cycling")
    engine = RuleEngine([cycling], clock=clock.timestamp)
    engine.track("p1", "pump")
    engine.observe("p1", {"starts": 26_900})
    clock.advance(600)
    engine.observe("p1", {"starts": 26_905})
    saved = engine.snapshot("p1")

    again = RuleEngine([cycling], clock=clock.timestamp)
    again.track("p1", "pump", values={"starts": 26_905}, status="online")
    again.restore("p1", saved)
    clock.advance(60)
    assert again.observe("p1", {"starts": 26_832}) == []  # restarted with an older count
    for n in range(1, 26):
        clock.advance(60)
        assert again.observe("p1", {"starts": 26_832 + n}) == []  # 5 + 25 starts: 30
    clock.advance(60)
    raised = again.observe("p1", {"starts": 26_858})  # the 31st within the hour
    assert changes(raised) == [("p1", "pump.cycling", Change.RAISED)]

    cleared = RuleEngine([cycling], clock=clock.timestamp)
    cleared.track("p1", "pump")
    cleared.observe("p1", {"starts": 26_900})
    clock.advance(60)
    cleared.observe("p1", {"starts": 26_925})  # 25 starts
    clock.advance(60)
    out = cleared.observe("p1", {"starts": 6})  # cleared at the panel, then six more
    assert changes(out) == [("p1", "pump.cycling", Change.RAISED)]


def test_a_damaged_snapshot_costs_history_not_the_service(clock: Clock) -> None:
    engine = RuleEngine([rule({"point": "starts", "increase_above": 5, "window": "1h"})])
    engine.track("p1", "pump")
    engine.restore("p1", {"version": 1, "rules": {"pump.test": "x"}, "history": {"starts": [1]}})
    engine.restore("p1", {"version": 99})
    engine.restore("p1", {"version": 1, "history": {"starts": [[1, 2], ["a", 3], [5]]}})
    assert list(engine._equipment["p1"].history["starts"]) == [(1.0, 2.0)]
