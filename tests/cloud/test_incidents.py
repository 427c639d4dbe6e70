"""Alarm floods: a building losing its power yields one incident, with the lifts and fire
panels checked first, not one lost-communication job per device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.enums import AlarmState, Priority
from cloud.incidents.service import FIRE_CHECK_RULE, INCIDENT_RULE, LIFT_CHECK_RULE
from cloud.rules.loader import RuleSet, load_rule_set
from cloud.rules.model import OutagePolicy
from tests.cloud.plant import CAMPUS, TOWER_A, Plant


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[Plant]:
    plant = Plant(tmp_path, inventory_text=CAMPUS)
    yield plant
    plant.close()


def test_a_power_failure_is_one_incident_with_lift_and_fire_checks_first(campus: Plant) -> None:
    campus.run(60, step=10)
    assert campus.alarms() == []

    stranded = campus.sim.set_power(TOWER_A, False, trapped=1)
    assert len(stranded) == 1  # a car caught between floors with passengers
    campus.run(300, step=5)

    (incident,) = campus.incidents()
    assert incident.building == "tower-a" and incident.state is AlarmState.ACTIVE
    # lifts, pumps and lighting went dark; the fire panels run on their batteries
    assert incident.devices_lost == 6
    work_orders = campus.work_orders()
    assert [(w.rule_id, w.equipment_id) for w in work_orders] == [
        (LIFT_CHECK_RULE, "lift-a1"),
        (LIFT_CHECK_RULE, "lift-a2"),
        (FIRE_CHECK_RULE, "fire-a1"),
        (FIRE_CHECK_RULE, "fire-a2"),
        (INCIDENT_RULE, None),
    ]
    assert all(w.priority is Priority.EMERGENCY for w in work_orders)
    assert all(w.incident_id == incident.id for w in work_orders)
    assert all(w.checklist and not w.checklist[0]["done"] for w in work_orders)
    # every outage alarm of tower A is folded into the incident: no job of its own
    alarms = campus.alarms()
    assert {a.equipment_id for a in alarms} == set(TOWER_A)
    assert {a.rule_id.split(".", 1)[1] for a in alarms} == {"lost_communication", "mains_failure"}
    assert all(a.incident_id == incident.id for a in alarms)
    assert not any(a.equipment_id.endswith(("b1", "b2")) for a in alarms)

    # the supply comes back: devices report again, the trapped car reports its passengers
    # (an emergency of its own), relevels and lets them out; the incident clears
    campus.sim.set_power(TOWER_A, True)
    campus.run(180, step=5)
    (incident,) = campus.incidents()
    assert incident.state is AlarmState.CLEARED and incident.cleared_at is not None
    assert all(a.state is AlarmState.CLEARED for a in campus.alarms())
    trapped = [w for w in campus.work_orders() if w.rule_id == "elevator.passenger_trapped"]
    assert [w.equipment_id for w in trapped] == stranded
    assert trapped[0].priority is Priority.EMERGENCY and trapped[0].incident_id is None
    assert len(campus.work_orders()) == 6


def test_a_few_devices_lost_are_not_an_outage(campus: Plant) -> None:
    campus.run(30, step=10)
    campus.sim.inject("pump-a1", "no_response")
    campus.sim.inject("light-a1", "offline")
    campus.run(240, step=10)
    assert campus.incidents() == []
    assert sorted((w.rule_id, w.equipment_id) for w in campus.work_orders()) == [
        ("lighting.lost_communication", "light-a1"),
        ("pump.lost_communication", "pump-a1"),
    ]


def test_losses_spread_out_in_time_are_not_an_outage(tmp_path: Path) -> None:
    base = load_rule_set()
    rule_set = RuleSet(base.rules, OutagePolicy(min_devices=3, window=120), base.sources)
    campus = Plant(tmp_path, inventory_text=CAMPUS, rule_set=rule_set)
    try:
        for equipment_id in ("pump-a1", "pump-a2", "lift-a1"):
            campus.sim.inject(equipment_id, "no_response")
            campus.run(300, step=10)  # one every five minutes: longer than the window
        assert campus.incidents() == []
        assert len(campus.work_orders()) == 3
    finally:
        campus.close()


def test_an_outage_policy_switched_off_raises_every_job(tmp_path: Path) -> None:
    base = load_rule_set()
    rule_set = RuleSet(base.rules, OutagePolicy(enabled=False), base.sources)
    campus = Plant(tmp_path, inventory_text=CAMPUS, rule_set=rule_set)
    try:
        campus.run(20, step=10)
        campus.sim.set_power(TOWER_A, False)
        campus.run(200, step=10)
        assert campus.incidents() == []
        rules = sorted(w.rule_id or "" for w in campus.work_orders())
        assert rules.count("elevator.lost_communication") == 2
        assert rules.count("fire_panel.mains_failure") == 2
        assert len(rules) == 8
    finally:
        campus.close()


def test_the_incident_survives_a_restart_and_still_clears(campus: Plant) -> None:
    campus.run(20, step=10)
    campus.sim.set_power(TOWER_A, False)
    campus.run(150, step=5)
    assert len(campus.incidents()) == 1
    campus.monitor = campus.new_monitor()  # the cloud restarts mid-outage
    campus.run(60, step=5)
    assert len(campus.incidents()) == 1 and len(campus.work_orders()) == 5
    campus.sim.set_power(TOWER_A, True)
    campus.run(120, step=5)
    (incident,) = campus.incidents()
    assert incident.state is AlarmState.CLEARED
