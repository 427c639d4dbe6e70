"""A real booster set's dry running raises the shipped alarm and work order, end to end: the
simulator plays sites/real-models.yaml's Grundfos Hydro MPC through its CIM 200 register map,
the edge agent polls it with the shipped profile and derives `dry_run` from alarm code 57,
the cloud's rule `pump.dry_run` fires on it and clears when the fault does. Real mosquitto,
Modbus TCP, the edge agent and the cloud service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.agent import EdgeAgent
from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from simulators.registers import Table
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite
from tests.edge.harness import settings_for, simulated
from tests.harness import REPO, wait_for_async

pytestmark = pytest.mark.integration

BOOSTER = "booster-r1"
ALARM_CODE = 204  # the CIM 200's system alarm register (00205), Grundfos code 57 = dry running


def real_models_booster(site: str, port: int) -> str:
    """sites/real-models.yaml with only its booster set, as site `site`, on Modbus `port`."""
    doc = yaml.safe_load((REPO / "sites" / "real-models.yaml").read_text(encoding="utf-8"))
    doc["site"]["id"] = site
    [building] = doc["buildings"]
    building["equipment"] = [e for e in building["equipment"] if e["id"] == BOOSTER]
    building["equipment"][0]["connection"]["port"] = port
    return yaml.safe_dump(doc, sort_keys=False)


async def test_a_grundfos_dry_run_raises_the_shipped_alarm_and_clears_it(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    site = LiveSite(tmp_path, mosquitto)
    site.settings.inventory.write_text(
        real_models_booster(site.site, free_port()), encoding="utf-8"
    )
    inventory = load_inventory(site.settings.inventory)
    edge = settings_for(mosquitto, tmp_path)
    async with (
        simulated(tmp_path, inventory) as sim,
        site.serving() as (api, _),
        EdgeAgent(edge, inventory),
    ):
        tech = site.token("tech1")
        booster = sim.devices[BOOSTER]

        async def values() -> dict[str, Any] | None:
            eq = (await api.get(f"/api/equipment/{BOOSTER}", headers=tech)).json()
            last = eq.get("last_values") or {}
            return last if "dry_run" in last else None

        first = await wait_for_async(values, "the derived points in the cloud", within=20.0)
        assert first["dry_run"] is False and first["alarm_code"] == "none"
        assert first["low_pressure"] is False and first["over_current"] is False
        assert isinstance(first["run_hours"], int | float)
        assert await site.active_alarms(api) is None

        booster.inject("dry_run")  # the booster set trips on dry running
        sim.advance(10.0)
        assert booster.read_registers(Table.HOLDING, ALARM_CODE, 1) == [57]

        async def dry_run_alarm() -> dict[str, Any] | None:
            alarms = await site.active_alarms(api) or []
            return next((a for a in alarms if a["rule_id"] == "pump.dry_run"), None)

        alarm = await wait_for_async(dry_run_alarm, "the dry-run alarm", within=20.0)
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

        async def cleared() -> Any:
            page = (await api.get("/api/alarms", params={"state": "cleared"}, headers=tech)).json()
            rules = [a["rule_id"] for a in page["items"]]
            return page if "pump.dry_run" in rules else None

        await wait_for_async(cleared, "the dry-run alarm to clear", within=20.0)
        assert await dry_run_alarm() is None
