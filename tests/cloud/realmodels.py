"""A piece of sites/real-models.yaml run end to end: the simulator playing the real device,
an edge agent polling it with the shipped profile, the cloud service watching the site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from edge.agent import EdgeAgent
from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from simulators.runner import Simulation
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite
from tests.edge.harness import settings_for, simulated
from tests.harness import REPO, wait_for_async


def real_models_only(equipment: str, site: str, port: int) -> str:
    """sites/real-models.yaml with only `equipment`, as site `site`, on Modbus `port`."""
    doc = yaml.safe_load((REPO / "sites" / "real-models.yaml").read_text(encoding="utf-8"))
    doc["site"]["id"] = site
    [building] = doc["buildings"]
    building["equipment"] = [e for e in building["equipment"] if e["id"] == equipment]
    building["equipment"][0]["connection"]["port"] = port
    return yaml.safe_dump(doc, sort_keys=False)


@asynccontextmanager
async def real_model_running(
    tmp_path: Path, mosquitto: Mosquitto, equipment: str
) -> AsyncIterator[tuple[LiveSite, httpx.AsyncClient, Simulation]]:
    """One piece of sites/real-models.yaml simulated, polled by an edge agent and watched by
    the cloud service."""
    site = LiveSite(tmp_path, mosquitto)
    site.settings.inventory.write_text(
        real_models_only(equipment, site.site, free_port()), encoding="utf-8"
    )
    inventory = load_inventory(site.settings.inventory)
    edge = settings_for(mosquitto, tmp_path)
    async with (
        simulated(tmp_path, inventory) as sim,
        site.serving() as (api, _),
        EdgeAgent(edge, inventory),
    ):
        yield site, api, sim


async def cloud_values(
    site: LiveSite, api: httpx.AsyncClient, equipment: str, point: str
) -> dict[str, Any]:
    """The equipment's last values in the cloud, once they include `point`."""

    async def values() -> dict[str, Any] | None:
        eq = (await api.get(f"/api/equipment/{equipment}", headers=site.token("tech1"))).json()
        last = eq.get("last_values") or {}
        return last if point in last else None

    return await wait_for_async(values, f"{equipment}'s {point} in the cloud", within=20.0)


async def active_alarm(site: LiveSite, api: httpx.AsyncClient, rule: str) -> dict[str, Any] | None:
    """The site's active alarm of `rule`, or None."""
    alarms = await site.active_alarms(api) or []
    return next((a for a in alarms if a["rule_id"] == rule), None)


async def raised(site: LiveSite, api: httpx.AsyncClient, rule: str) -> dict[str, Any]:
    """The active alarm of `rule`, once the cloud has raised it."""
    return await wait_for_async(
        lambda: active_alarm(site, api, rule), f"the {rule} alarm", within=20.0
    )


async def cleared(site: LiveSite, api: httpx.AsyncClient, rule: str) -> dict[str, Any]:
    """The cleared alarm of `rule`, once there is exactly one; none of `rule` is active then."""

    async def of_rule() -> list[dict[str, Any]] | None:
        page = (
            await api.get("/api/alarms", params={"state": "cleared"}, headers=site.token("tech1"))
        ).json()
        return [a for a in page["items"] if a["rule_id"] == rule] or None

    (done,) = await wait_for_async(of_rule, f"the {rule} alarm to clear", within=20.0)
    assert await active_alarm(site, api, rule) is None
    return done
