"""The offline reason of a unit that never answered names the unit and suggests the check."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.availability import Availability, never_answered
from stack.services import Mosquitto
from tests.edge.device import ModbusDevice, pump_unit
from tests.edge.harness import modbus_pump, one_building, running, settings, site_id
from tests.harness import wait_for_async


def test_the_reason_names_the_unit_where_it_was_asked_and_the_check() -> None:
    assert never_answered(7, "10.0.0.5:502") == (
        "no answer from unit 7 at 10.0.0.5:502 — check the unit id (`plantroom check --probe`)"
    )


def test_availability_remembers_a_first_answer() -> None:
    a = Availability("pump-1", offline_after=1)
    assert not a.answered
    a.failed("timeout", 1)
    assert not a.answered
    a.succeeded(2)
    a.failed("timeout", 3)
    assert a.answered


@pytest.mark.integration
async def test_a_wrong_unit_id_is_reported_with_the_unit_and_the_check(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    async with ModbusDevice({11: pump_unit()}) as device:
        inv = one_building(
            site_id(),
            [modbus_pump("pump-1", device.port, 11), modbus_pump("pump-7", device.port, 7)],
        )
        async with running(settings(mosquitto, tmp_path), inv) as agent:
            status = await wait_for_async(
                lambda: agent.status("pump-7")[0] == "offline" and agent.status("pump-7"),
                "pump-7 offline",
                within=15,
            )
            assert status[1] == never_answered(7, f"127.0.0.1:{device.port}")
            # its neighbour on the same link answers, and a unit that answered before and then
            # falls silent is a plain timeout (test_agent covers it)
            await wait_for_async(
                lambda: agent.status("pump-1") == ("online", None), "pump-1 online", within=15
            )
