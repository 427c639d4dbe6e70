"""A point the equipment's profile does not provide is absent (a condition on it is false);
one it provides but that has not reported, or is not available, is unknown (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.rules.absent import Absent, prune, specialise
from cloud.rules.base import Context
from cloud.rules.conditions import AnyOf
from cloud.rules.engine import Change, RuleEngine
from cloud.rules.loader import load_rules
from tests.cloud.harness import Clock
from tests.cloud.rules.harness import changes, rule

DRY_ANY = {"any": [{"point": "dry_run", "is": True}, {"point": "alarm_code", "equals": "dry_run"}]}
# the acme-booster of the site check: an alarm code, no dry-run input
BOOSTER = frozenset({"alarm_code", "discharge_pressure", "run_hours"})


def _ctx(**values: Any) -> Context:
    return Context(now=0.0, values=values, last_seen=0.0, status="online", history={})


@pytest.mark.parametrize(
    ("condition", "provided", "pruned"),
    [
        # a leaf on a provided point, or on no point, is kept as it is
        ({"point": "a", "is": True}, {"a"}, "same"),
        ({"stale": "5m"}, set(), "same"),
        ({"status": "offline"}, set(), "same"),
        # on a missing point: absent, whatever it asks
        ({"point": "b", "is": False}, {"a"}, "absent"),
        ({"point": "b", "not_in": ["none"]}, {"a"}, "absent"),
        ({"point": "b", "increase_below": 1, "window": "5m"}, {"a"}, "absent"),
        # an `any` drops its absent parts; all absent: absent
        ({"any": [{"point": "a", "is": True}, {"point": "b", "is": True}]}, {"a"}, "a"),
        ({"any": [{"point": "b", "is": True}, {"point": "c", "is": True}]}, {"a"}, "absent"),
        # an `all` with an absent part is absent
        ({"all": [{"point": "a", "is": True}, {"point": "b", "is": True}]}, {"a"}, "absent"),
        ({"all": [{"point": "a", "is": True}, {"stale": "5m"}]}, {"a"}, "same"),
    ],
)
def test_prune(condition: dict[str, Any], provided: set[str], pruned: str) -> None:
    original = rule(condition).condition
    out = prune(original, frozenset(provided))
    if pruned == "same":
        assert out is original
    elif pruned == "absent":
        assert isinstance(out, Absent) and out.missing
        assert set(out.missing).isdisjoint(provided)
        assert out.evaluate(_ctx(), active=False) is False
        assert out.evaluate(_ctx(), active=True) is False
    else:
        assert out.points() == {pruned}


def test_a_nested_any_keeps_its_provided_parts_and_names_what_is_missing() -> None:
    condition = rule(
        {
            "any": [
                {"all": [{"point": "b", "is": True}, {"point": "a", "is": True}]},
                {"point": "a", "below": 1},
                {"point": "c", "equals": "x"},
            ]
        }
    ).condition
    out = prune(condition, frozenset({"a"}))
    assert out.points() == {"a"} and not isinstance(out, AnyOf)  # one part left
    gone = prune(condition, frozenset())
    assert isinstance(gone, Absent) and gone.missing == ("a", "b", "c")


def test_an_unknown_profile_keeps_the_rule_as_written() -> None:
    r = rule(DRY_ANY, when={"point": "run_state", "equals": "running"})
    judged = specialise(r, None)
    assert (judged.condition, judged.when, judged.clear_when) == (r.condition, r.when, None)
    assert judged.shown == ("alarm_code", "dry_run")
    pruned = specialise(r, BOOSTER)
    assert isinstance(pruned.when, Absent)  # no run_state: the rule is never judged
    assert pruned.shown == ("alarm_code",)


def test_an_any_on_a_missing_point_raises_and_clears(clock: Clock) -> None:
    engine = RuleEngine([rule(DRY_ANY)], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p1", "pump")
    raised = engine.observe("p1", {"alarm_code": "dry_run"})
    assert changes(raised) == [("p1", "pump.test", Change.RAISED)]
    assert raised[0].message == "Test fault (alarm_code=dry_run)"  # no dry_run=n/a
    cleared = engine.observe("p1", {"alarm_code": "none"})
    assert changes(cleared) == [("p1", "pump.test", Change.CLEARED)]


def test_without_its_profile_the_same_any_stays_unknown(clock: Clock) -> None:
    engine = RuleEngine([rule(DRY_ANY)], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p2", "pump")  # not in `provided`: profile unknown to the cloud
    assert changes(engine.observe("p2", {"alarm_code": "dry_run"}))[0][2] is Change.RAISED
    assert engine.observe("p2", {"alarm_code": "none"}) == []
    assert engine.is_active("p2", "pump.test")


def test_a_provided_point_not_reported_or_not_available_stays_unknown(clock: Clock) -> None:
    provided = {"p1": BOOSTER | {"dry_run"}}
    engine = RuleEngine([rule(DRY_ANY)], clock=clock.timestamp, provided=provided)
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"alarm_code": "dry_run"}))[0][2] is Change.RAISED
    # dry_run is the profile's and has not reported: cannot tell, the alarm holds
    assert engine.observe("p1", {"alarm_code": "none"}) == []
    assert engine.observe("p1", {"dry_run": None}) == []  # not available: still cannot tell
    # the equipment going stale or offline keeps its last values, and the alarm
    assert engine.set_status("p1", "stale") == []
    assert engine.set_status("p1", "offline") == []
    assert engine.is_active("p1", "pump.test")
    cleared = engine.observe("p1", {"dry_run": False})
    assert changes(cleared) == [("p1", "pump.test", Change.CLEARED)]


def test_an_all_on_a_missing_point_never_fires(clock: Clock) -> None:
    condition = {
        "all": [{"point": "alarm_code", "equals": "dry_run"}, {"point": "dry_run", "is": True}]
    }
    engine = RuleEngine([rule(condition)], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p1", "pump")
    assert engine.observe("p1", {"alarm_code": "dry_run", "dry_run": True}) == []
    clock.advance(3600)
    assert engine.tick() == []


def test_a_clear_when_on_a_missing_point_never_clears(clock: Clock) -> None:
    r = rule(
        {"point": "alarm_code", "equals": "dry_run"}, clear_when={"point": "dry_run", "is": False}
    )
    engine = RuleEngine([r], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p1", "pump")
    assert changes(engine.observe("p1", {"alarm_code": "dry_run"}))[0][2] is Change.RAISED
    assert engine.observe("p1", {"alarm_code": "none"}) == []
    assert engine.is_active("p1", "pump.test")


def test_an_alarm_restored_active_clears_on_the_next_sample(clock: Clock) -> None:
    """Raised before the rules knew the profile (or before an upgrade): the next sample of
    the provided points clears it."""
    engine = RuleEngine([rule(DRY_ANY)], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p1", "pump", values={"alarm_code": "dry_run"})
    engine.mark_active("p1", "pump.test")
    cleared = engine.observe("p1", {"alarm_code": "none"})
    assert changes(cleared) == [("p1", "pump.test", Change.CLEARED)]


def test_new_rules_are_pruned_for_the_equipment_already_tracked(clock: Clock) -> None:
    engine = RuleEngine([], clock=clock.timestamp, provided={"p1": BOOSTER})
    engine.track("p1", "pump", values={"alarm_code": "dry_run"})
    assert changes(engine.set_rules([rule(DRY_ANY)])) == [("p1", "pump.test", Change.RAISED)]
    cleared = engine.observe("p1", {"alarm_code": "none"})
    assert changes(cleared) == [("p1", "pump.test", Change.CLEARED)]


def test_the_shipped_fire_alarm_clears_on_a_gateway_with_no_zones(clock: Clock) -> None:
    """The Notifier gateway's points: the loop counters and what is derived from them."""
    notifier = frozenset({"active_alarms", "fire_alarm", "trouble", "zone_disabled"})
    engine = RuleEngine(load_rules(), clock=clock.timestamp, provided={"fire-r1": notifier})
    engine.track("fire-r1", "fire_panel")
    raised = engine.observe("fire-r1", {"active_alarms": 2, "fire_alarm": True})
    assert ("fire-r1", "fire_panel.fire_alarm", Change.RAISED) in changes(raised)
    cleared = engine.observe("fire-r1", {"active_alarms": 0, "fire_alarm": False})
    assert changes(cleared) == [("fire-r1", "fire_panel.fire_alarm", Change.CLEARED)]
    assert cleared[0].values == {"active_alarms": 0, "fire_alarm": False}
