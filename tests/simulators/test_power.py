"""Power cuts: what each kind of device does without supply, and when the supply returns."""

from __future__ import annotations

import pytest

from plantroom.inventory import load_inventory
from plantroom.settings import SimSettings
from simulators.devices import ModbusDevice, MqttDevice
from simulators.models import ModelContext
from simulators.models.elevator import ElevatorModel
from simulators.models.elevator_spec import BOOT_S, CORRECTION_RUN_S
from simulators.models.fire_panel import FLOAT_V, FirePanelModel
from simulators.models.pump import PumpModel
from simulators.pdu import Answer
from simulators.runner import Simulation
from tests.harness import REPO

NOON = 1_767_268_800.0  # 2026-01-01 12:00 UTC


def running_loaded_car(seed: int = 3) -> ElevatorModel:
    car = ElevatorModel(ModelContext("lift", seed=seed, floors=20, start_time=NOON))
    for _ in range(3600):
        car.advance(0.5)
        if car.between_floors() and car.load > 0:
            return car
    raise AssertionError("the car never ran loaded within an hour")


def test_a_power_cut_strands_a_running_car_until_the_controller_rescues_it() -> None:
    car = running_loaded_car()
    trips = car.trips
    car.set_power(False)
    v = car.values()
    assert (v["at_landing"], v["passenger_trapped"], v["mode"]) == (False, True, "stopped")
    assert v["fault_code"] == "stopped_outside_landing_zone"
    car.advance(1800)  # half an hour in the dark: nothing moves
    assert car.values()["passenger_trapped"] is True and car.trips == trips
    car.set_power(True)
    car.advance(BOOT_S - 1)
    assert car.values()["passenger_trapped"] is True  # still booting
    car.advance(1 + CORRECTION_RUN_S + 3)
    v = car.values()
    assert v["at_landing"] is True and v["door_state"] in ("opening", "open")
    car.advance(10)
    assert car.values()["passenger_trapped"] is False and car.load == 0
    car.advance(3600)
    assert car.trips > trips  # back in service


def test_an_idle_car_stays_at_its_landing_unless_stranded() -> None:
    car = ElevatorModel(ModelContext("lift", seed=5, floors=10, start_time=NOON - 9 * 3600))
    car.advance(0.5)  # 03:00: the car waits at its landing
    assert not car.between_floors()
    car.set_power(False)
    v = car.values()
    assert (v["at_landing"], v["passenger_trapped"], v["mode"]) == (True, False, "out_of_service")
    car.set_power(True)
    car.strand(3)
    assert car.values()["passenger_trapped"] is True and car.load == 225


def test_the_fire_panel_runs_on_its_battery_and_keeps_answering() -> None:
    sim = Simulation(load_inventory(REPO / "sites" / "demo.yaml"), SimSettings(), start_time=NOON)
    panel = sim.devices["fire-b1"]
    assert isinstance(panel, ModbusDevice) and isinstance(panel.model, FirePanelModel)
    sim.set_power(["fire-b1"], on=False)
    assert panel.answer() is Answer.NORMAL
    v = panel.model.values()
    assert (v["mains_ok"], v["trouble"], v["panel_state"]) == (False, True, "fault")
    assert v["battery_voltage"] == pytest.approx(25.6, abs=0.01)
    sim.advance(2 * 3600)
    assert panel.model.values()["battery_voltage"] == pytest.approx(24.6, abs=0.05)
    sim.set_power(["fire-b1"], on=True)
    sim.advance(600)
    v = panel.model.values()
    assert v["mains_ok"] is True and v["panel_state"] == "normal"
    assert v["battery_voltage"] == pytest.approx(FLOAT_V, abs=0.15)


def test_pumps_stop_and_controllers_fall_silent_without_power() -> None:
    sim = Simulation(load_inventory(REPO / "sites" / "demo.yaml"), SimSettings(), start_time=NOON)
    booster, light = sim.devices["pump-b1"], sim.devices["light-b1"]
    assert isinstance(booster, ModbusDevice) and isinstance(booster.model, PumpModel)
    assert isinstance(light, MqttDevice)
    starts = booster.model.starts
    sim.set_power(["pump-b1", "light-b1"], on=False)
    assert booster.answer() is Answer.SILENT and not light.online
    sim.advance(1800)
    assert booster.model.starts == starts and not booster.model.running
    assert booster.model.pressure < 3.0  # the building went on drawing water
    message = light.lighting.payload("b-lc1")
    assert message["mains_v"] == 0.0 and not any(c["on"] for c in message["circuits"])
    sim.set_power(["pump-b1", "light-b1"], on=True)
    assert booster.answer() is Answer.NORMAL and light.online
    sim.advance(60)
    assert booster.model.starts == starts + 1
    assert any(c["on"] for c in light.lighting.payload("b-lc1")["circuits"])


def test_a_building_power_cut_traps_the_cars_asked_for() -> None:
    sim = Simulation(load_inventory(REPO / "sites" / "demo.yaml"), SimSettings(), start_time=NOON)
    tower_b = [d.id for d in sim.devices_of("tower-b")]
    trapped = sim.set_power(tower_b, on=False, trapped=2)
    assert sorted(trapped) == ["lift-b1", "lift-b2"]
    listing = {e["id"]: e["powered"] for e in sim.equipment_list()}
    assert not any(listing[e] for e in tower_b) and listing["lift-a1"] is True
    assert sim.set_power(tower_b, on=True) == ["lift-b1", "lift-b2"]  # until the rescue
    sim.advance(BOOT_S + CORRECTION_RUN_S + 20)
    assert not any(
        d.model.values()["passenger_trapped"] for d in sim.devices.values() if d.id in trapped
    )
