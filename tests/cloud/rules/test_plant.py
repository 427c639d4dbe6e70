"""The simulated plant room of tests/cloud/plant.py feeds the monitor what the simulator
shows, and a quiet plant raises nothing."""

from __future__ import annotations

import math
from pathlib import Path

from tests.cloud.plant import Plant


def test_the_edge_view_decodes_what_the_simulator_shows(tmp_path: Path) -> None:
    plant = Plant(tmp_path)
    try:
        plant.sim.advance(30)
        for equipment_id, model in plant.sim.models.items():
            status, values = plant.view.sample(equipment_id)
            assert status == "online" and values is not None
            truth = model.values()
            for name, value in values.items():
                expected = truth.get(name)
                if isinstance(value, float) and isinstance(expected, float):
                    # measurements carry noise drawn afresh on each reading
                    assert math.isclose(value, expected, rel_tol=0.1, abs_tol=0.2), name
                elif name in truth:
                    assert value == expected, name
        plant.sim.inject("booster-1", "no_response")
        plant.sim.inject("light-1", "offline")
        assert plant.view.sample("booster-1") == ("offline", None)
        assert plant.view.sample("light-1") == ("stale", None)
    finally:
        plant.close()


def test_a_quiet_plant_raises_nothing(tmp_path: Path) -> None:
    plant = Plant(tmp_path)
    try:
        plant.run(600, step=10)
        assert plant.alarms() == []
        assert plant.work_orders() == []
    finally:
        plant.close()
