"""The edge agent on Modbus RTU: a serial line (a socat pty pair) and RTU over TCP.

The simulator serves the equipment: on a serial line it opens one end of the pty pair, the
agent the other, exactly as it would open /dev/ttyUSB0 with an RS-485 adapter.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge.agent import EdgeAgent
from edge.availability import Status
from plantroom.inventory import Inventory
from plantroom.ports import free_port
from plantroom.schema import Telemetry
from plantroom.settings import EdgeSettings
from plantroom.topics import EquipmentTopic
from simulators.runner import Simulation
from stack.services import Mosquitto
from tests.edge.harness import (
    Collector,
    one_building,
    settings_for,
    sim_settings,
    simulated_device,
)
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
# beyond the harness's short commit window and backoffs
TUNING: dict[str, Any] = {
    "edge_normal_every": 2,
    "edge_slow_every": 4,
    "edge_inter_frame_delay_s": 0.005,
    "edge_offline_retry_max_s": 0.4,
}
# analog values: the simulated pump is a model with noise, so a reading is compared with the
# model's value within a few percent (a wrong scale or word order is off by far more)
CHECKED = ("speed", "current", "power", "discharge_pressure", "motor_temperature", "vibration")


def inventory(site: str, equipment: dict[str, tuple[str, dict[str, Any]]]) -> Inventory:
    """`equipment`: id → (kind, connection)."""
    return one_building(
        site, [simulated_device(eq_id, kind, conn) for eq_id, (kind, conn) in equipment.items()]
    )


def edge_settings(broker: Mosquitto, tmp_path: Path) -> EdgeSettings:
    return settings_for(broker, tmp_path, edge_offline_after=2, **TUNING)


def topic(site: str, eq: str, kind: str = "pump") -> EquipmentTopic:
    return EquipmentTopic(site, "b1", kind, eq)


def full_sample(c: Collector, t: EquipmentTopic) -> Telemetry | None:
    """The first message that carries the checked measurements (a normal-class poll)."""
    for m in c.telemetry(t.telemetry()):
        if all(name in m.points for name in CHECKED):
            return m
    return None


def assert_decoded(sample: Telemetry, model: dict[str, Any]) -> None:
    for name in CHECKED:
        assert sample.points[name] == pytest.approx(model[name], rel=0.05, abs=0.05), name
    assert sample.points["run_state"] == model["run_state"]
    assert sample.points["alarm_code"] == model["alarm_code"]
    assert sample.points["starts"] == model["starts"]
    assert sample.points["sump_level"] is None  # 0xFFFF: a booster has no level sensor
    assert sample.quality == {"sump_level": "unavailable"}


def last_status(c: Collector, t: EquipmentTopic) -> dict[str, Any] | None:
    payloads = c.payloads(t.status())
    return json.loads(payloads[-1]) if payloads else None


async def test_serial_line_with_a_dead_unit_on_the_same_bus(
    mosquitto: Mosquitto, tmp_path: Path, pty_pair: tuple[Path, Path]
) -> None:
    sim_end, agent_end = pty_pair
    site = f"r{uuid.uuid4().hex[:8]}"
    # a pty takes any speed but refuses parity changes once open: 19200 8N1
    line = {"type": "modbus_rtu", "baudrate": 19200, "parity": "N", "stopbits": 1}
    served = inventory(site, {"pump-s": ("pump", {**line, "device": str(sim_end), "unit": 5})})
    polled = inventory(
        site,
        {
            "pump-s": ("pump", {**line, "device": str(agent_end), "unit": 5}),
            "pump-dead": ("pump", {**line, "device": str(agent_end), "unit": 9}),
        },
    )
    live, dead = topic(site, "pump-s"), topic(site, "pump-dead")
    s = edge_settings(mosquitto, tmp_path)
    async with (
        Simulation(served, sim_settings(tmp_path), control=False) as sim,
        Collector(mosquitto, [live.telemetry(), live.status(), dead.status()]) as c,
        EdgeAgent(s, polled) as agent,
    ):
        assert len(agent.hubs) == 1  # one hub for the one serial line
        sample = await wait_for_async(lambda: full_sample(c, live), "pump-s telemetry", within=15)
        assert_decoded(sample, sim.models["pump-s"].values())
        status = await wait_for_async(
            lambda: (st := last_status(c, dead)) and st["status"] == "offline" and st,
            "pump-dead offline",
            within=15,
        )
        # a unit that never answered says so, and which one, rather than a bare timeout
        assert status["reason"].startswith("no answer from unit 9 at ")
        seen = len(c.telemetry(live.telemetry()))
        await wait_for_async(
            lambda: len(c.telemetry(live.telemetry())) >= seen + 10,
            "pump-s still publishing while pump-dead is offline",
            within=10,
        )
        live_status = last_status(c, live)
        assert live_status is not None and live_status["status"] == "online"
        stats = agent.poll_stats()
        assert stats["pump-dead"].timeouts >= 2 and stats["pump-s"].timeouts == 0
    seqs = [m.seq for m in c.telemetry(live.telemetry())]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_rtu_over_tcp_gateway(mosquitto: Mosquitto, tmp_path: Path) -> None:
    site = f"r{uuid.uuid4().hex[:8]}"
    bridge = {"type": "modbus_rtu_over_tcp", "host": HOST, "port": free_port()}
    inv = inventory(
        site,
        {"pump-r": ("pump", {**bridge, "unit": 11}), "lift-r": ("elevator", {**bridge, "unit": 1})},
    )
    pump_t, lift_t = topic(site, "pump-r"), topic(site, "lift-r", "elevator")
    s = edge_settings(mosquitto, tmp_path)
    async with (
        Simulation(inv, sim_settings(tmp_path), control=False) as sim,
        Collector(mosquitto, [pump_t.telemetry(), lift_t.telemetry()]) as c,
        EdgeAgent(s, inv) as agent,
    ):
        assert len(agent.hubs) == 1  # both units behind one gateway connection
        sample = await wait_for_async(lambda: full_sample(c, pump_t), "pump-r telemetry", within=15)
        assert_decoded(sample, sim.models["pump-r"].values())
        lift = sim.models["lift-r"].values()
        msg = await wait_for_async(
            lambda: next((m for m in c.telemetry(lift_t.telemetry()) if "load" in m.points), None),
            "lift-r telemetry with its load",
            within=15,
        )
        assert msg.points["floor"] == lift["floor"]
        assert msg.points["load"] == pytest.approx(lift["load"], abs=0.5)
        assert agent.poll_stats()["lift-r"].polls > 0


async def test_a_serial_port_that_cannot_be_opened_is_offline(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    controller, port = os.openpty()  # a pty refuses parity E: opening it raises termios.error
    try:
        site = f"r{uuid.uuid4().hex[:8]}"
        line = {"type": "modbus_rtu", "device": os.ttyname(port), "parity": "E", "unit": 3}
        inv = inventory(site, {"pump-e": ("pump", line)})
        t = topic(site, "pump-e")
        async with (
            Collector(mosquitto, [t.status()]) as c,
            EdgeAgent(edge_settings(mosquitto, tmp_path), inv) as agent,
        ):
            status = await wait_for_async(
                lambda: (st := last_status(c, t)) and st["status"] == "offline" and st,
                "pump-e offline",
                within=15,
            )
            assert status["reason"] == "cannot open serial port"
            (hub,) = agent.hubs.values()
            tries = hub.connects
            await wait_for_async(
                lambda: hub.connects > tries, "another attempt to open the port", within=10
            )
            assert not agent.task.done()  # the agent carries on
            assert agent.status("pump-e")[0] is Status.OFFLINE
    finally:
        os.close(controller)
        os.close(port)
