"""A fire alarm on a panel whose Modbus gateway has no zone points raises the shipped alarm
and clears it, end to end (issue 16): the simulator plays sites/real-models.yaml's Notifier
CGW-MB, the edge agent derives `fire_alarm` from the loop alarm counters, and the cloud's
rule `fire_panel.fire_alarm` — an `any` that also reads `panel_state` and `zone_1..8`, which
this gateway does not provide — clears when the counters fall back to zero. Real mosquitto,
Modbus TCP, the edge agent and the cloud service."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.registers import Table
from stack.services import Mosquitto
from tests.cloud.realmodels import cleared, cloud_values, raised, real_model_running

pytestmark = pytest.mark.integration

PANEL = "fire-r1"
L1_DETECTOR_ALARMS = 14100  # the gateway's loop 1 detector alarm counter (profile address)
RULE = "fire_panel.fire_alarm"


async def test_a_notifier_fire_alarm_raises_the_shipped_alarm_and_clears_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    async with real_model_running(tmp_path, mosquitto, PANEL) as (site, api, sim):
        panel = sim.devices[PANEL]
        first = await cloud_values(site, api, PANEL, "fire_alarm")
        assert first["fire_alarm"] is False and first["active_alarms"] == 0
        assert "panel_state" not in first and "zone_1" not in first  # not this gateway's
        assert await site.active_alarms(api) is None

        panel.inject("fire_alarm", {"zone": 3})  # a detector on loop 1 goes into alarm
        sim.advance(10.0)
        assert panel.read_registers(Table.HOLDING, L1_DETECTOR_ALARMS, 1) == [1]

        alarm = await raised(site, api, RULE)
        assert alarm["equipment_id"] == PANEL

        panel.clear("fire_alarm")  # the detector is reset
        sim.advance(10.0)
        assert panel.read_registers(Table.HOLDING, L1_DETECTOR_ALARMS, 1) == [0]

        done = await cleared(site, api, RULE)
        assert done["equipment_id"] == PANEL
