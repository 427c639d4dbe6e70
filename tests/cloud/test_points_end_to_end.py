"""Sample points checked against the equipment's profile, end to end through a real mosquitto:
a point of the wrong type is refused and counted, the sample's good points are applied."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cloud.harness import LiveSite
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration


async def test_a_string_flow_is_refused_and_the_samples_good_points_applied(
    live_site: LiveSite,
) -> None:
    site = live_site
    async with site.serving() as (api, mqtt):
        pump = site.topic("pump-a1", "pump")
        await mqtt.publish(pump, site.telemetry({"flow": 41.5, "speed": 1450}), qos=1)
        # the message of the security review: a string where the profile has a number
        await mqtt.publish(
            pump, site.telemetry({"flow": "x", "speed": 1460, "dry_run": True}), qos=1
        )
        eq = await wait_for_async(
            lambda: site.caught_up(api, "pump-a1"), "the sample's good points"
        )
        assert eq["last_values"] == {"flow": 41.5, "speed": 1460, "dry_run": True}

        health = (await api.get("/api/health")).json()["mqtt"]
        assert health["refused_points"] == 1
        assert health["refused_alarm_points"] == 0
        assert health["last_refused_point"] == (
            f"equipment 'pump-a1' of site {site.site!r}: point 'flow' must be a number, got str 'x'"
        )
        assert health["unchecked_equipment"] == []
        assert health["invalid"] == 0

        # the good dry-run point of that sample fed the rules
        [alarm] = await wait_for_async(lambda: site.active_alarms(api), "the dry-run alarm")
        assert alarm["rule_id"] == "pump.dry_run"

        # a point the profile does not have, on an alarm-free sample of only bad points
        await mqtt.publish(pump, site.telemetry({"boost": 1.0}), qos=1)

        async def refused_twice() -> Any:
            mqtt_health = (await api.get("/api/health")).json()["mqtt"]
            return mqtt_health if mqtt_health["refused_points"] == 2 else None

        mqtt_health = await wait_for_async(refused_twice, "the unknown point to be refused")
        assert (
            "point 'boost' is not a point of profile 'plantroom-sim-pump'"
            in (mqtt_health["last_refused_point"])
        )
        eq = (await api.get("/api/equipment/pump-a1", headers=site.token("tech1"))).json()
        assert "boost" not in eq["last_values"] and eq["last_seq"] == site.seq - 1
