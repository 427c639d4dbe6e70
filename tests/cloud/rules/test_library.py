"""The shipped fault library against the simulator: every rule is driven into its fault the
way the equipment shows it (simulator registers decoded with the edge's profiles), raises
exactly one alarm and one work order of its stated priority, and clears when the fault does.
The few rules whose fault the simulator cannot produce are driven with recorded telemetry
shaped like the edge's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cloud.enums import AlarmState, Priority, WorkOrderKind
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rule_set
from plantroom.kinds import Kind
from plantroom.profiles import ProfileLibrary
from tests.cloud.plant import START, Plant

PROFILE_OF_KIND = {
    Kind.ELEVATOR: "plantroom-sim-elevator",
    Kind.PUMP: "plantroom-sim-pump",
    Kind.FIRE_PANEL: "plantroom-sim-fire-panel",
    Kind.LIGHTING: "lumen-lc4",
}


@dataclass(frozen=True)
class Case:
    rule: str
    equipment: str
    priority: Priority
    cause: Callable[[Plant], None]
    run: float  # simulated seconds after the cause until the alarm must be there
    cure: Callable[[Plant], None]
    settle: float  # simulated seconds after the cure until the alarm must have cleared
    step: float = 5.0
    also: frozenset[str] = field(default_factory=frozenset)  # rules the fault also trips


def inject(equipment: str, fault: str, **params: Any) -> Callable[[Plant], None]:
    def act(plant: Plant) -> None:
        plant.sim.inject(equipment, fault, params or None)

    return act


def clear(equipment: str) -> Callable[[Plant], None]:
    def act(plant: Plant) -> None:
        plant.sim.clear(equipment)

    return act


def both(*steps: Callable[[Plant], None]) -> Callable[[Plant], None]:
    def act(plant: Plant) -> None:
        for step in steps:
            step(plant)

    return act


def write(equipment: str, **values: Any) -> Callable[[Plant], None]:
    return lambda plant: plant.sim.write(equipment, values)


def burn_hours(equipment: str, circuit: int, hours: float) -> Callable[[Plant], None]:
    """The controller's burn-hour counter of a circuit set (near rated life, or relamped)."""

    def act(plant: Plant) -> None:
        model = plant.sim.models[equipment]
        model.circuits[circuit - 1].burn_h = hours  # type: ignore[attr-defined]
        plant.sim.devices[equipment].refresh()

    return act


E, U, N, L = Priority.EMERGENCY, Priority.URGENT, Priority.NORMAL, Priority.LOW

CASES = [
    # lifts: faults injected while the car stands empty at its landing
    Case(
        "elevator.passenger_trapped",
        "lift-1",
        E,
        inject("lift-1", "stopped_outside_landing_zone", passengers=2),
        30,
        clear("lift-1"),
        120,
    ),
    Case(
        "elevator.door_open_fault",
        "lift-1",
        U,
        inject("lift-1", "door_open_fault"),
        60,
        clear("lift-1"),
        60,
    ),
    Case(
        "elevator.door_close_fault",
        "lift-1",
        U,
        inject("lift-1", "door_close_fault"),
        60,
        clear("lift-1"),
        60,
    ),
    Case(
        "elevator.drive_over_temperature",
        "lift-1",
        U,
        inject("lift-1", "drive_over_temperature"),
        600,
        clear("lift-1"),
        900,
        step=10,
    ),
    Case(
        "elevator.safety_circuit_open",
        "lift-1",
        U,
        inject("lift-1", "safety_circuit_open"),
        20,
        clear("lift-1"),
        30,
    ),
    Case(
        "elevator.leveling_error",
        "lift-1",
        U,
        inject("lift-1", "leveling_error"),
        60,
        clear("lift-1"),
        30,
    ),
    Case(
        "elevator.out_of_service",
        "lift-1",
        N,
        write("lift-1", out_of_service_command=True),
        16 * 60,
        write("lift-1", out_of_service_command=False),
        60,
        step=30,
    ),
    Case(
        "elevator.lost_communication",
        "lift-1",
        U,
        inject("lift-1", "no_response"),
        90,
        clear("lift-1"),
        10,
    ),
    # pumps
    Case(
        "pump.dry_run", "booster-1", U, inject("booster-1", "dry_run"), 60, clear("booster-1"), 30
    ),
    Case(
        "pump.low_pressure",
        "booster-1",
        U,
        inject("booster-1", "low_pressure"),
        180,
        clear("booster-1"),
        300,
    ),
    Case(
        "pump.over_current",
        "booster-1",
        U,
        inject("booster-1", "over_current"),
        300,
        clear("booster-1"),
        900,
        step=10,
    ),
    Case(
        "pump.motor_over_temperature",
        "sump-1",
        U,
        both(inject("sump-1", "over_current"), inject("sump-1", "high_level")),
        1400,
        clear("sump-1"),
        1800,
        step=15,
        also=frozenset({"pump.over_current", "pump.high_level"}),
    ),
    Case(
        "pump.short_cycling",
        "booster-1",
        N,
        inject("booster-1", "short_cycling"),
        3600,
        clear("booster-1"),
        5400,
        step=20,
    ),
    Case(
        "pump.bearing_wear",
        "booster-1",
        N,
        inject("booster-1", "bearing_wear", rate=2.0),
        36 * 3600,
        clear("booster-1"),
        3600,
        step=300,
    ),
    Case(
        "pump.high_level",
        "sump-1",
        E,
        inject("sump-1", "high_level"),
        600,
        clear("sump-1"),
        900,
        step=10,
    ),
    Case("pump.seal_leak", "booster-1", N, inject("booster-1", "leak"), 10, clear("booster-1"), 10),
    Case(
        "pump.lost_communication",
        "booster-1",
        U,
        inject("booster-1", "no_response"),
        90,
        clear("booster-1"),
        10,
    ),
    # fire panels
    Case(
        "fire_panel.fire_alarm",
        "fire-1",
        E,
        inject("fire-1", "fire_alarm", zone=3),
        10,
        clear("fire-1"),
        10,
    ),
    Case(
        "fire_panel.pre_alarm",
        "fire-1",
        U,
        inject("fire-1", "pre_alarm", zone=2),
        10,
        clear("fire-1"),
        10,
    ),
    Case(
        "fire_panel.trouble",
        "fire-1",
        U,
        inject("fire-1", "detector_trouble", zone=5),
        60,
        clear("fire-1"),
        10,
    ),
    Case(
        "fire_panel.supervisory",
        "fire-1",
        U,
        inject("fire-1", "supervisory", zone=1),
        10,
        clear("fire-1"),
        10,
    ),
    Case(
        "fire_panel.zone_disabled",
        "fire-1",
        U,
        inject("fire-1", "zone_disabled", zone=4),
        4 * 3600 + 600,
        clear("fire-1"),
        600,
        step=300,
    ),
    Case(
        "fire_panel.mains_failure",
        "fire-1",
        U,
        inject("fire-1", "mains_failure"),
        120,
        clear("fire-1"),
        10,
    ),
    Case(
        "fire_panel.low_battery",
        "fire-1",
        U,
        inject("fire-1", "low_battery"),
        120,
        clear("fire-1"),
        120,
    ),
    Case(
        "fire_panel.lost_communication",
        "fire-1",
        U,
        inject("fire-1", "no_response"),
        90,
        clear("fire-1"),
        10,
    ),
    # lighting (10:00 local: circuits 1, 2 and 4 lit, the night circuit 3 dark)
    Case(
        "lighting.lamps_failed",
        "light-1",
        N,
        inject("light-1", "lamp_failure", circuit=2, lamps=3),
        10,
        clear("light-1"),
        10,
    ),
    Case(
        "lighting.circuit_tripped",
        "light-1",
        N,
        inject("light-1", "circuit_trip", circuit=1),
        10,
        clear("light-1"),
        10,
    ),
    Case(
        "lighting.burn_hours",
        "light-1",
        L,
        burn_hours("light-1", 1, 19_999.5),
        3600,
        burn_hours("light-1", 1, 0.0),
        10,
        step=60,
    ),
    Case(
        "lighting.lost_communication",
        "light-1",
        N,
        inject("light-1", "offline"),
        180,
        clear("light-1"),
        10,
    ),
]


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    p = Plant(tmp_path)
    yield p
    p.close()


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_rule_raises_once_and_clears_with_its_fault(plant: Plant, case: Case) -> None:
    plant.poll()  # the plant as it is: nothing wrong
    assert plant.alarms() == []
    case.cause(plant)
    plant.run(case.run, step=case.step)

    alarms = plant.alarms()  # the whole plant: nothing else may have tripped
    mine = [a for a in alarms if a.rule_id == case.rule]
    assert len(mine) == 1, [(a.rule_id, a.state) for a in alarms]
    assert mine[0].state is AlarmState.ACTIVE
    assert {a.rule_id for a in alarms} <= {case.rule, *case.also}
    assert {a.equipment_id for a in alarms} == {case.equipment}
    work_orders = [w for w in plant.work_orders() if w.rule_id == case.rule]
    assert len(work_orders) == 1
    assert work_orders[0].priority is case.priority
    assert work_orders[0].kind is WorkOrderKind.FAULT
    assert work_orders[0].equipment_id == case.equipment
    assert work_orders[0].alarm_id == mine[0].id
    assert len(plant.work_orders()) == len({a.rule_id for a in alarms})

    case.cure(plant)
    plant.run(case.settle, step=case.step)
    (alarm,) = [a for a in plant.alarms(case.equipment) if a.rule_id == case.rule]
    assert alarm.state is AlarmState.CLEARED
    assert alarm.cleared_at is not None
    assert len([w for w in plant.work_orders() if w.rule_id == case.rule]) == 1


def test_the_door_reopen_rule_on_recorded_telemetry(plant: Plant) -> None:
    """A car stuck at a landing reopening its doors (no simulator fault does this)."""
    base = {"trips": 1000, "door_cycles": 1100, "mode": "normal", "fault_code": "none"}
    plant.send("lift-1", base)
    plant.sim.advance(6 * 60)  # parked at a landing for a while
    plant.send("lift-1", base)
    for i in range(1, 9):  # a reopen every 20 s, no trip
        plant.sim.advance(20)
        plant.send("lift-1", {**base, "door_cycles": 1100 + i, "door_state": "opening"})
    (alarm,) = plant.alarms("lift-1")
    assert alarm.rule_id == "elevator.door_reopen_repeated" and alarm.state is AlarmState.ACTIVE
    (wo,) = plant.work_orders()
    assert wo.priority is Priority.NORMAL
    # the obstruction is cleared: the car runs again and the doors settle
    for i in range(1, 30):
        plant.sim.advance(30)
        plant.send("lift-1", {**base, "trips": 1000 + i, "door_cycles": 1108 + i})
    (alarm,) = plant.alarms("lift-1")
    assert alarm.state is AlarmState.CLEARED


def test_the_unknown_fault_code_rule_on_recorded_telemetry(plant: Plant) -> None:
    """Another pump model's alarm code the library has no rule for."""
    normal = {"run_state": "running", "alarm_code": "none", "dry_run": False}
    plant.send("booster-1", normal)
    plant.send("booster-1", {**normal, "run_state": "fault", "alarm_code": "code_77"})
    plant.sim.advance(15)
    plant.send("booster-1", {**normal, "run_state": "fault", "alarm_code": "code_77"})
    (alarm,) = plant.alarms("booster-1")
    assert alarm.rule_id == "pump.fault_code"
    (wo,) = plant.work_orders()
    assert wo.priority is Priority.URGENT
    plant.send("booster-1", normal)
    (alarm,) = plant.alarms("booster-1")
    assert alarm.state is AlarmState.CLEARED


def test_the_schedule_rules_in_site_local_time(plant: Plant) -> None:
    """The night circuit lit in the day, then dark at night (Asia/Hong_Kong, from the
    inventory): recorded telemetry, since the simulated controller keeps its schedule."""
    lit = {"circuit_3_on": True, "circuit_3_tripped": False}
    plant.send("light-1", lit)  # 10:00 local
    plant.sim.advance(31 * 60)
    plant.send("light-1", lit)
    (alarm,) = plant.alarms("light-1")
    assert alarm.rule_id == "lighting.on_in_daylight"
    assert [w.priority for w in plant.work_orders()] == [Priority.LOW]
    plant.send("light-1", {**lit, "circuit_3_on": False})
    assert plant.alarms("light-1")[0].state is AlarmState.CLEARED

    # 20:00 local: the night circuit should be lit
    plant.sim.advance(START + 10 * 3600 - plant.sim.now)
    dark = {"circuit_3_on": False, "circuit_3_tripped": False}
    plant.send("light-1", dark)
    plant.sim.advance(16 * 60)
    plant.send("light-1", dark)
    night = [a for a in plant.alarms("light-1") if a.rule_id == "lighting.off_at_night"]
    assert len(night) == 1 and night[0].state is AlarmState.ACTIVE
    assert plant.work_orders()[-1].priority is Priority.NORMAL
    plant.send("light-1", {**dark, "circuit_3_on": True})
    night = [a for a in plant.alarms("light-1") if a.rule_id == "lighting.off_at_night"]
    assert night[0].state is AlarmState.CLEARED


def test_a_day_and_a_night_of_normal_running_raises_nothing(tmp_path: Path) -> None:
    """Every shipped rule stays quiet through 24 simulated hours of normal running (traffic
    peaks, pump cycles, lights switching on their schedule), straight on the engine."""
    plant = Plant(tmp_path)
    try:
        rule_set = load_rule_set()
        engine = RuleEngine(rule_set.rules, clock=lambda: plant.sim.now, timezone=plant.timezone)
        for equipment_id, device in plant.sim.devices.items():
            engine.track(equipment_id, device.kind.value)
        fired: list[str] = []
        for _ in range(24 * 60 * 2):
            plant.sim.advance(30)
            for equipment_id in plant.sim.devices:
                status, values = plant.view.sample(equipment_id)
                fired += [t.rule.id for t in engine.set_status(equipment_id, status)]
                if values is not None:
                    fired += [t.rule.id for t in engine.observe(equipment_id, values)]
            fired += [t.rule.id for t in engine.tick()]
        assert fired == []
    finally:
        plant.close()


def test_every_rule_reads_points_its_kind_publishes() -> None:
    """A misspelt point would never fire: each point a shipped rule reads is in the profile of
    its kind."""
    library = ProfileLibrary()
    for rule in load_rule_set().rules:
        profile, _ = library.get(PROFILE_OF_KIND[rule.kind])
        names = {p.name for p in profile.points}
        read = set().union(*(c.points() for c in rule.conditions()))
        read |= set(rule.history_points())
        assert read <= names, (rule.id, sorted(read - names))


def test_every_shipped_rule_is_tested_here() -> None:
    tested = {c.rule for c in CASES} | {
        "elevator.door_reopen_repeated",
        "pump.fault_code",
        "lighting.on_in_daylight",
        "lighting.off_at_night",
    }
    assert {r.id for r in load_rule_set().rules} == tested
