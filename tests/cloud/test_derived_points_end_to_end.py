"""A pump that has only an alarm code raises the shipped dry-run alarm and work order: the
edge derives `dry_run` from code 57 (a derived point of the site's profile), the cloud's rule
`pump.dry_run` fires on it, and clears when the code goes back to 0. Real mosquitto, the edge
agent polling a Modbus TCP device, the cloud service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.agent import EdgeAgent
from plantroom.inventory import load_inventory
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite
from tests.edge.device import ModbusDevice, Unit
from tests.edge.harness import settings_for
from tests.harness import site_yaml, wait_for_async

pytestmark = pytest.mark.integration

# The booster pump of issue 16: a CIM-style block with an alarm code, no dry-run input.
BOOSTER = """\
name: booster-57
kind: pump
description: Booster pump controller with an alarm code and no dry-run input
protocol: modbus
points:
  - {name: run_state, table: input, address: 0, type: enum, role: state, poll: fast,
     enum: {0: stopped, 1: running, 2: fault}}
  - {name: speed, table: input, address: 1, type: uint16, unit: rpm, not_available: 0xFFFF}
  - {name: power, table: input, address: 3, type: uint16, unit: W}
  - {name: alarm_code, table: input, address: 14, type: enum, role: alarm, poll: fast,
     enum: {0: none, 48: overload, 57: dry_run, 64: motor_over_temperature}}
  - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}
"""


async def test_an_alarm_code_raises_the_shipped_dry_run_alarm_and_clears_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "booster-57.yaml").write_text(BOOSTER, encoding="utf-8")
    site = LiveSite(tmp_path, mosquitto, inventory="tower-a-pump")
    unit = Unit(input={0: 1, 1: 1450, 3: 4120, 14: 0})
    async with ModbusDevice({11: unit}) as device:
        inventory = site_yaml("tower-a-pump", {5020: device.port}, id=site.site)
        site.settings.inventory.write_text(
            inventory.replace("plantroom-sim-pump", "booster-57"), encoding="utf-8"
        )
        site.settings = site.settings.model_copy(update={"profiles_dir": profiles})
        edge = settings_for(mosquitto, tmp_path, edge_profiles_dir=profiles)
        inv = load_inventory(site.settings.inventory)
        async with site.serving() as (api, _), EdgeAgent(edge, inv):
            tech = site.token("tech1")

            async def values() -> dict[str, Any] | None:
                eq = (await api.get("/api/equipment/pump-a1", headers=tech)).json()
                last = eq.get("last_values") or {}
                return last if "dry_run" in last else None

            first = await wait_for_async(values, "the derived point in the cloud", within=15.0)
            assert first["dry_run"] is False and first["alarm_code"] == "none"
            assert first["power"] == 4.12  # W on the wire, kW (canonical) in telemetry

            unit.input[14] = 57  # the controller trips on dry running
            [alarm] = await wait_for_async(
                lambda: site.active_alarms(api), "the dry-run alarm", within=15.0
            )
            assert alarm["rule_id"] == "pump.dry_run"

            async def work_order() -> dict[str, Any] | None:
                page = (await api.get("/api/work-orders", headers=tech)).json()
                return page["items"][0] if page["total"] else None

            wo = await wait_for_async(work_order, "the work order", within=15.0)
            assert wo["title"] == "Pump running dry: pump-a1"
            assert (wo["kind"], wo["priority"]) == ("fault", "urgent")

            unit.input[14] = 0  # water is back, the code clears

            async def cleared() -> Any:
                page = (
                    await api.get("/api/alarms", params={"state": "cleared"}, headers=tech)
                ).json()
                return page if page["total"] == 1 else None

            page = await wait_for_async(cleared, "the alarm to clear", within=15.0)
            assert page["items"][0]["rule_id"] == "pump.dry_run"
            assert await site.active_alarms(api) is None
