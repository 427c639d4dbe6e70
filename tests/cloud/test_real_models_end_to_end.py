"""A real booster set's dry running raises the shipped alarm and work order, end to end: the
simulator plays sites/real-models.yaml's Grundfos Hydro MPC through its CIM 200 register map,
the edge agent polls it with the shipped profile and derives `dry_run` from alarm code 57,
the cloud's rule `pump.dry_run` fires on it and clears when the fault does. Real mosquitto,
Modbus TCP, the edge agent and the cloud service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulators.registers import Table
from stack.services import Mosquitto
from tests.cloud.realmodels import cleared, cloud_values, raised, real_model_running
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

BOOSTER = "booster-r1"
ALARM_CODE = 204  # the CIM 200's system alarm register (00205), Grundfos code 57 = dry running


async def test_a_grundfos_dry_run_raises_the_shipped_alarm_and_clears_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with real_model_running(tmp_path, mosquitto, BOOSTER) as (site, api, sim):
        tech = site.token("tech1")
        booster = sim.devices[BOOSTER]
        first = await cloud_values(site, api, BOOSTER, "dry_run")
        assert first["dry_run"] is False and first["alarm_code"] == "none"
        assert first["low_pressure"] is False and first["over_current"] is False
        assert isinstance(first["run_hours"], int | float)
        assert await site.active_alarms(api) is None

        booster.inject("dry_run")  # the booster set trips on dry running
        sim.advance(10.0)
        assert booster.read_registers(Table.HOLDING, ALARM_CODE, 1) == [57]

        alarm = await raised(site, api, "pump.dry_run")
        assert alarm["equipment_id"] == BOOSTER

        async def work_order() -> dict[str, Any] | None:
            page = (await api.get("/api/work-orders", headers=tech)).json()
            items = [w for w in page["items"] if w["title"] == f"Pump running dry: {BOOSTER}"]
            return items[0] if items else None

        wo = await wait_for_async(work_order, "the work order", within=20.0)
        assert (wo["kind"], wo["priority"]) == ("fault", "urgent")

        booster.clear("dry_run")  # water is back at the suction
        sim.advance(10.0)
        assert booster.read_registers(Table.HOLDING, ALARM_CODE, 1) == [0]

        done = await cleared(site, api, "pump.dry_run")
        assert done["equipment_id"] == BOOSTER
