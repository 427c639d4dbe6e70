"""Building a simulation from an inventory (no sockets): what is served, what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import Inventory, load_inventory
from plantroom.settings import SimSettings
from simulators.devices import ModbusDevice, MqttDevice
from simulators.errors import UnknownEquipment, UnknownFault
from simulators.runner import Simulation
from tests.harness import REPO


def inventory(*equipment: dict[str, Any], floors: int = 10) -> Inventory:
    return Inventory.model_validate(
        {
            "site": {"id": "s", "timezone": "Europe/London"},
            "buildings": [{"id": "b", "floors": floors, "equipment": list(equipment)}],
        }
    )


def tcp(port: int, unit: int) -> dict[str, Any]:
    return {"type": "modbus_tcp", "host": "127.0.0.1", "port": port, "unit": unit}


LIFT = {
    "id": "lift",
    "kind": "elevator",
    "profile": "plantroom-sim-elevator",
    "connection": tcp(5020, 1),
}
SETTINGS = SimSettings(sim_seed=9)


def test_the_demo_campus_is_served_whole() -> None:
    sim = Simulation(load_inventory(REPO / "sites" / "demo.yaml"), SETTINGS, start_time=0.0)
    assert len(sim.devices) == 21 and not sim.skipped
    assert sorted(sim.modbus_addresses) == [
        ("127.0.0.1", 5020),
        ("127.0.0.1", 5021),
        ("127.0.0.1", 5022),
    ]
    assert sorted(sim.gateways[("127.0.0.1", 5020)]) == [1, 2, 11, 12, 21, 22]
    # the annex: real equipment models served through their vendors' register maps
    annex = sim.gateways[("127.0.0.1", 5022)]
    assert sorted(annex) == [1, 2, 3, 21, 31]
    assert all(isinstance(d, ModbusDevice) and d.served is not None for d in annex.values())
    assert [d.topic for d in sim.lighting] == [
        "lumen/a-lc1/state",
        "lumen/a-lc2/state",
        "lumen/b-lc1/state",
        "lumen/b-lc2/state",
    ]
    assert sim.control_url == "http://127.0.0.1:8090"
    kinds = {type(d) for d in sim.devices.values()}
    assert kinds == {ModbusDevice, MqttDevice}


def test_same_seed_same_campus() -> None:
    inv = load_inventory(REPO / "sites" / "demo.yaml")
    a = Simulation(inv, SETTINGS, start_time=1.8e9)
    b = Simulation(inv, SETTINGS, start_time=1.8e9)
    c = Simulation(inv, SimSettings(sim_seed=10), start_time=1.8e9)
    for sim in (a, b, c):
        for _ in range(300):
            sim.advance(2.0)
    state = {eid: d.model.detail() | {"now": d.model.now} for eid, d in a.devices.items()}
    assert state == {eid: d.model.detail() | {"now": d.model.now} for eid, d in b.devices.items()}
    assert a.devices["lift-a1"].model.values() == b.devices["lift-a1"].model.values()
    assert a.devices["lift-a1"].model.values() != c.devices["lift-a1"].model.values()


def test_every_modbus_transport_is_served_and_the_rest_skipped() -> None:
    sim = Simulation(
        inventory(
            LIFT,
            {
                "id": "rtu-pump",
                "kind": "pump",
                "profile": "plantroom-sim-pump",
                "connection": {"type": "modbus_rtu", "device": "/dev/ttyUSB0", "unit": 3},
            },
            {
                "id": "bridged-panel",
                "kind": "fire_panel",
                "profile": "plantroom-sim-fire-panel",
                "connection": {"type": "modbus_rtu_over_tcp", "host": "127.0.0.1", "port": 5030},
            },
            {
                "id": "modbus-light",
                "kind": "lighting",
                "profile": "lumen-lc4",
                "connection": tcp(5020, 3),
            },
            {
                "id": "mqtt-lift",
                "kind": "elevator",
                "profile": "plantroom-sim-elevator",
                "connection": {"type": "mqtt", "topic": "lifts/1"},
            },
        ),
        SETTINGS,
    )
    assert list(sim.devices) == ["lift", "rtu-pump", "bridged-panel"]
    assert sorted(sim.serial_lines["/dev/ttyUSB0"]) == [3]
    assert sorted(sim.modbus_addresses) == [("127.0.0.1", 5020), ("127.0.0.1", 5030)]
    assert {g["id"]: g["framing"] for g in sim.gateway_list()} == {
        "127.0.0.1:5020": "mbap",
        "127.0.0.1:5030": "rtu",
        "/dev/ttyUSB0": "rtu",
    }
    assert "lighting over modbus_tcp is not simulated" in sim.skipped["modbus-light"]
    assert "elevator over mqtt is not simulated" in sim.skipped["mqtt-lift"]
    assert sim.publisher is None


def test_one_port_speaks_one_framing_and_one_line_one_speed() -> None:
    rtu_lift = {
        **LIFT,
        "id": "rtu-lift",
        "connection": {"type": "modbus_rtu_over_tcp", "host": "127.0.0.1", "port": 5020},
    }
    with pytest.raises(
        ConfigError, match=r"'rtu-lift' uses modbus_rtu_over_tcp on 127\.0\.0\.1:5020"
    ):
        Simulation(inventory(LIFT, rtu_lift), SETTINGS)

    def on_line(eid: str, unit: int, baud: int) -> dict[str, Any]:
        return {
            **LIFT,
            "id": eid,
            "connection": {
                "type": "modbus_rtu",
                "device": "/dev/ttyS1",
                "unit": unit,
                "baudrate": baud,
            },
        }

    with pytest.raises(ConfigError, match=r"'b' sets serial line /dev/ttyS1 to 19200 8N1 but"):
        Simulation(inventory(on_line("a", 1, 9600), on_line("b", 2, 19200)), SETTINGS)
    with pytest.raises(ConfigError, match="'b' and 'a' both use unit 1 on /dev/ttyS1"):
        Simulation(inventory(on_line("a", 1, 9600), on_line("b", 1, 9600)), SETTINGS)


def test_a_unit_id_used_twice_on_one_address_is_refused() -> None:
    twin = {**LIFT, "id": "twin"}
    message = r"'twin' and 'lift' both use unit 1 on 127\.0\.0\.1:5020"
    with pytest.raises(ConfigError, match=message):
        Simulation(inventory(LIFT, twin), SETTINGS)
    Simulation(inventory(LIFT, {**twin, "connection": tcp(5021, 1)}), SETTINGS)


def test_an_elevator_needs_floors_to_travel() -> None:
    with pytest.raises(ConfigError, match="'lift': elevator 'lift' needs at least 2 floors"):
        Simulation(inventory(LIFT, floors=1), SETTINGS)


def test_control_operations_name_what_is_wrong() -> None:
    sim = Simulation(inventory(LIFT), SETTINGS)
    with pytest.raises(UnknownEquipment, match="no simulated equipment 'x' \\(simulated: lift\\)"):
        sim.inject("x", "door_open_fault")
    with pytest.raises(UnknownFault, match="unknown fault 'leak' for elevator 'lift'"):
        sim.inject("lift", "leak")
    out = sim.inject("lift", "stopped_outside_landing_zone", {"passengers": 3})
    assert out["active"] == {"stopped_outside_landing_zone": {"passengers": 3}}
    assert sim.active_faults() == {"lift": ["stopped_outside_landing_zone"]}
    assert sim.equipment_state("lift")["points"]["passenger_trapped"] is True
    assert sim.clear("lift", "leveling_error")["cleared"] == []
    assert sim.clear("lift")["cleared"] == ["stopped_outside_landing_zone"]
    assert sim.active_faults() == {}
