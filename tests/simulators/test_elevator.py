"""Elevator model: normal service on simulated time, and each fault's signature."""

from __future__ import annotations

import itertools
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import pytest

from simulators.models.base import ModelContext
from simulators.models.elevator import ElevatorModel
from simulators.models.elevator_spec import Phase
from simulators.registers import Value
from tests.simulators.harness import advance_until, sample_values

TZ = ZoneInfo("Asia/Hong_Kong")
MORNING = datetime(2026, 3, 2, 8, 0, tzinfo=TZ).timestamp()


def lift(seed: int = 1, start: float = MORNING) -> ElevatorModel:
    ctx = ModelContext("lift-1", seed=seed, start_time=start, timezone=TZ, floors=20)
    return ElevatorModel(ctx)


# a lift changes within a second: it is run and sampled half a second at a time
run_until = partial(advance_until, step=0.5)
sample = partial(sample_values, step=0.5)


def normal(v: dict[str, Value]) -> bool:
    return (
        v["fault_code"] == "none"
        and v["mode"] == "normal"
        and v["safety_circuit_ok"] is True
        and v["passenger_trapped"] is False
    )


def test_same_seed_same_trajectory_and_different_seed_differs() -> None:
    a, b, c = lift(seed=5), lift(seed=5), lift(seed=6)
    for m in (a, b, c):
        for _ in range(600):
            m.advance(1.0)
    assert a.values() == b.values()
    assert (a.trips, a.floor, a.load) != (c.trips, c.floor, c.load)


def test_step_size_does_not_change_the_car_s_journey() -> None:
    a, b = lift(), lift()
    a.advance(900)
    for _ in range(9000):
        b.advance(0.1)
    assert (a.trips, a.door_cycles, a.floor, a.load) == (b.trips, b.door_cycles, b.floor, b.load)


def test_morning_service_moves_the_car_and_counts() -> None:
    m = lift()
    start = m.values()
    values = sample(m, 3600)
    end = values[-1]
    floors = [v["floor"] for v in values]
    assert all(0 <= f <= 19 for f in floors)
    assert all(abs(b - a) <= 1 for a, b in itertools.pairwise(floors))
    assert len(set(floors)) > 5
    assert 20 < end["trips"] - start["trips"] < 400
    assert end["door_cycles"] > start["door_cycles"]
    assert end["run_hours"] > start["run_hours"]
    assert any(v["load"] > 0 for v in values)
    assert all(0 <= v["load"] <= 1000 for v in values)
    assert {v["direction"] for v in values} == {"idle", "up", "down"}
    assert {v["at_landing"] for v in values} == {True, False}
    assert all(normal(v) for v in values)
    temps = [v["drive_temperature"] for v in values]
    assert min(temps) >= 28 and max(temps) < 70
    # the car runs only with its doors closed, and stands at a landing with them open
    for v in values:
        if v["direction"] != "idle":
            assert v["door_state"] == "closed" and v["at_landing"] is False
        if v["door_state"] != "closed":
            assert v["at_landing"] is True


def test_doors_cycle_opening_open_closing_closed() -> None:
    m = lift()
    states = [v["door_state"] for v in sample(m, 600, step=0.25)]
    changes = [str(s) for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
    joined = " ".join(changes)
    assert joined.count("closed opening open closing closed") >= 3
    for a, b in itertools.pairwise(changes):
        assert (a, b) in {
            ("closed", "opening"),
            ("opening", "open"),
            ("open", "closing"),
            ("closing", "closed"),
        }


def test_drive_warms_with_running_and_cools_at_rest() -> None:
    m = lift()
    m.advance(3600)  # a busy morning hour
    warm = m.drive_temperature
    assert warm > 32
    night = lift(start=datetime(2026, 3, 2, 2, 0, tzinfo=TZ).timestamp())
    night.drive_temperature = warm
    night.advance(3 * 3600)
    assert night.drive_temperature < warm - 3


def test_stopped_outside_landing_zone_traps_passengers_until_cleared() -> None:
    m = lift()
    run_until(m, lambda x: x.phase is Phase.MOVING and x.load > 0, 1800)
    floor = m.floor
    m.inject("stopped_outside_landing_zone", {"passengers": None})
    for v in [m.values(), *sample(m, 120)]:
        assert v["at_landing"] is False
        assert v["passenger_trapped"] is True
        assert v["fault_code"] == "stopped_outside_landing_zone"
        assert v["mode"] == "stopped"
        assert v["direction"] == "idle"
        assert v["floor"] == floor
        assert v["load"] > 0
    m.clear("stopped_outside_landing_zone")
    values = sample(m, 30)
    assert values[-1]["at_landing"] is True
    assert all(v["passenger_trapped"] is False for v in values)
    assert values[-1]["fault_code"] == "none" and values[-1]["mode"] == "normal"
    assert any(v["door_state"] == "open" and v["load"] == 0 for v in values)


def test_stopped_with_an_empty_car_traps_nobody() -> None:
    m = lift()
    m.inject("stopped_outside_landing_zone", {"passengers": 0})
    v = m.values()
    assert v["at_landing"] is False and v["load"] == 0 and v["passenger_trapped"] is False
    assert v["fault_code"] == "stopped_outside_landing_zone"


def test_stopped_at_rest_puts_someone_in_the_car() -> None:
    m = lift(start=datetime(2026, 3, 2, 3, 0, tzinfo=TZ).timestamp())
    run_until(m, lambda x: x.phase is Phase.IDLE and x.load == 0, 600)
    m.inject("stopped_outside_landing_zone", {"passengers": None})
    assert m.values()["passenger_trapped"] is True


def test_door_open_fault_holds_the_doors_shut() -> None:
    m = lift()
    run_until(m, lambda x: x.phase is Phase.IDLE, 600)
    m.inject("door_open_fault", {})
    for v in [m.values(), *sample(m, 60)]:
        assert v["door_state"] == "fault"
        assert v["fault_code"] == "door_open_fault"
        assert v["mode"] == "out_of_service"
        assert v["at_landing"] is True
        assert v["passenger_trapped"] is (v["load"] > 0)
    m.clear("door_open_fault")
    assert m.values()["door_state"] == "opening"
    values = sample(m, 60)
    assert values[-1]["fault_code"] == "none"
    assert normal(values[-1])


def test_door_close_fault_leaves_the_doors_open() -> None:
    m = lift()
    run_until(m, lambda x: x.phase is Phase.IDLE, 600)
    m.inject("door_close_fault", {})
    run_until(m, lambda x: x.values()["door_state"] == "fault", 30)
    for v in sample(m, 60):
        assert v["fault_code"] == "door_close_fault"
        assert v["mode"] == "out_of_service"
        assert v["passenger_trapped"] is False
    m.clear()
    assert m.values()["door_state"] == "closing"
    assert normal(sample(m, 10)[-1])


def test_drive_over_temperature_parks_the_car_until_it_cools() -> None:
    m = lift()
    m.inject("drive_over_temperature", {})
    run_until(m, lambda x: x.values()["fault_code"] == "drive_over_temperature", 1800, step=1.0)
    assert m.drive_temperature >= 90
    m.advance(60)
    v = m.values()
    assert v["mode"] == "out_of_service" and v["at_landing"] is True and v["direction"] == "idle"
    assert v["drive_temperature"] > 90
    trips = m.trips
    m.advance(300)
    assert m.trips == trips
    m.clear("drive_over_temperature")
    run_until(m, lambda x: x.values()["fault_code"] == "none", 3600, step=5.0)
    assert m.drive_temperature < 75
    m.advance(600)
    assert m.trips > trips and normal(m.values())


def test_safety_circuit_open_stops_service() -> None:
    m = lift()
    run_until(m, lambda x: x.phase is Phase.IDLE, 600)
    m.inject("safety_circuit_open", {})
    floor = m.floor
    for v in sample(m, 120):
        assert v["safety_circuit_ok"] is False
        assert v["fault_code"] == "safety_circuit_open"
        assert v["mode"] == "out_of_service"
        assert v["floor"] == floor and v["direction"] == "idle"
    m.clear("safety_circuit_open")
    values = sample(m, 120)
    assert all(v["safety_circuit_ok"] is True for v in values)
    assert any(v["direction"] != "idle" for v in values)
    assert values[-1]["fault_code"] == "none"


def test_safety_circuit_open_while_running_stops_between_floors() -> None:
    m = lift()
    run_until(m, lambda x: x.phase is Phase.MOVING, 600)
    m.inject("safety_circuit_open", {})
    v = m.values()
    assert v["at_landing"] is False and v["mode"] == "stopped"
    assert v["fault_code"] == "safety_circuit_open"
    m.clear()
    m.advance(20)
    assert m.values()["at_landing"] is True


def test_leveling_error_relevels_at_every_stop_and_stays_in_service() -> None:
    m = lift()
    m.inject("leveling_error", {})
    trips = m.trips
    values = sample(m, 900)
    assert all(v["fault_code"] == "leveling_error" and v["mode"] == "normal" for v in values)
    assert m.trips > trips + 5
    releveling = [v for v in values if v["direction"] == "idle" and v["at_landing"] is False]
    assert releveling
    m.clear("leveling_error")
    assert normal(m.values())


def test_out_of_service_command_parks_the_car() -> None:
    m = lift()
    m.write("out_of_service_command", True)
    run_until(m, lambda x: x.values()["mode"] == "out_of_service", 600)
    trips = m.trips
    m.advance(600)
    assert m.trips == trips
    m.write("out_of_service_command", False)
    m.advance(600)
    assert m.trips > trips and m.values()["mode"] == "normal"
    with pytest.raises(ValueError, match="not writable"):
        m.write("floor", 3)


def test_counters_only_grow() -> None:
    m = lift()
    last = m.values()
    for v in sample(m, 1200, step=2.0):
        for name in ("trips", "door_cycles", "run_hours"):
            assert v[name] >= last[name], name
        last = v
