"""A simulated plant room feeding the cloud's monitor as the edge would: the simulator's
register images decoded with the edge's own profiles and decode pipeline, lighting JSON with
the profile's paths, and a device that does not answer reported offline (or stale, for a
controller that stops publishing). Simulated time drives the cloud's clock.

The library, incident and PM tests use `Plant`; tests/cloud/rules/test_plant.py checks that
what it feeds is what the simulator shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cloud import registry
from cloud.alarms.model import Alarm
from cloud.db import Database
from cloud.enums import EquipmentStatus
from cloud.incidents.model import Incident
from cloud.monitor import Item, Monitor, StatusItem, TelemetryItem, TickItem
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import RuleSet, load_rule_set
from cloud.sla import load_sla
from cloud.workorders.model import WorkOrder
from edge.decode import decode_bit, decode_registers
from edge.mqtt_devices import VendorDecoder
from plantroom.inventory import Inventory, load_inventory
from plantroom.profiles import ModbusProfile, MqttProfile, Profile, ProfileLibrary
from plantroom.schema import Telemetry
from plantroom.settings import SimSettings
from plantroom.topics import EquipmentTopic
from simulators.devices import ModbusDevice, MqttDevice
from simulators.pdu import Answer
from simulators.registers import Table
from simulators.runner import Simulation

TIMEZONE = "Asia/Hong_Kong"
# a Monday, mid-morning: lifts busy, night lighting off
START = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo(TIMEZONE)).timestamp()

INVENTORY = f"""
site: {{id: lib, timezone: {TIMEZONE}}}
buildings:
  - id: b1
    floors: 12
    equipment:
      - {{id: lift-1, kind: elevator, profile: plantroom-sim-elevator,
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 1}}}}
      - {{id: booster-1, kind: pump, profile: plantroom-sim-pump, tags: {{system: domestic-water}},
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}}}
      - {{id: sump-1, kind: pump, profile: plantroom-sim-pump, tags: {{system: sump}},
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 12}}}}
      - {{id: fire-1, kind: fire_panel, profile: plantroom-sim-fire-panel,
          connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 21}}}}
      - {{id: light-1, kind: lighting, profile: lumen-lc4,
          connection: {{type: mqtt, topic: lumen/l1/state}}}}
"""


class EdgeView:
    """What an edge agent would publish for each simulated device."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        library = ProfileLibrary()
        self.profiles: dict[str, Profile] = {
            eid: library.get(d.equipment.profile)[0] for eid, d in sim.devices.items()
        }

    def sample(self, equipment_id: str) -> tuple[str, dict[str, Any] | None]:
        """(status, point values); values are None while the device says nothing."""
        device = self.sim.devices[equipment_id]
        profile = self.profiles[equipment_id]
        if isinstance(device, MqttDevice):
            if not device.online:
                return "stale", None
            assert isinstance(profile, MqttProfile)
            decoded = VendorDecoder(equipment_id, profile).decode(
                device.topic, device.message(), int(device.model.now * 1000)
            )
            return "online", dict(decoded.values)
        assert isinstance(device, ModbusDevice) and isinstance(profile, ModbusProfile)
        if device.answer() is not Answer.NORMAL:
            return "offline", None
        image = device.image
        values: dict[str, Any] = {}
        for point in profile.points:
            table = Table(point.table)
            if point.type == "bool":
                values[point.name] = decode_bit(point, image.bits[table][point.address])
            else:
                words = image.registers[table][point.address : point.address + point.count]
                values[point.name] = decode_registers(point, words)
        return "online", values


class Plant:
    """The simulator, an edge view of it, and the cloud's monitor on a SQLite file."""

    def __init__(
        self,
        tmp: Path,
        *,
        inventory_text: str = INVENTORY,
        seed: int = 3,
        start: float = START,
        rule_set: RuleSet | None = None,
    ) -> None:
        (tmp / "site.yaml").write_text(inventory_text, encoding="utf-8")
        self.inventory: Inventory = load_inventory(tmp / "site.yaml")
        self.site = self.inventory.site.id
        self.timezone = ZoneInfo(self.inventory.site.timezone)
        self.sim = Simulation(
            self.inventory, SimSettings(sim_seed=seed), start_time=start, control=False
        )
        self.view = EdgeView(self.sim)
        self.db = Database(f"sqlite:///{tmp}/db/cloud.sqlite")
        self.db.migrate()
        with self.db.session() as session:
            registry.sync_inventory(session, self.inventory)
        self.rule_set = rule_set or load_rule_set()
        self.sla = load_sla()
        self.status: dict[str, str] = {}
        self.seq = 0
        self.monitor = self.new_monitor()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.now, UTC)

    def new_monitor(self) -> Monitor:
        """A monitor as a fresh process would build it (a restart)."""
        engine = RuleEngine(self.rule_set.rules, clock=lambda: self.sim.now, timezone=self.timezone)
        monitor = Monitor(
            self.db,
            engine,
            site=self.site,
            clock=self.now,
            sla=self.sla,
            outage=self.rule_set.outage,
        )
        monitor.load()
        return monitor

    def topic(self, equipment_id: str) -> EquipmentTopic:
        building, equipment = self.inventory.find(equipment_id)
        return self.inventory.topic(building, equipment)

    def items(self, only: Iterable[str] | None = None) -> list[Item]:
        out: list[Item] = []
        for equipment_id in only if only is not None else self.sim.devices:
            status, values = self.view.sample(equipment_id)
            topic = self.topic(equipment_id)
            if status != self.status.get(equipment_id):
                self.status[equipment_id] = status
                out.append(StatusItem(topic, EquipmentStatus(status)))
            if values is not None:
                self.seq += 1
                telemetry = Telemetry(ts=int(self.sim.now * 1000), seq=self.seq, points=values)
                out.append(TelemetryItem(topic, telemetry))
        return out

    def poll(self, only: Iterable[str] | None = None) -> None:
        """One poll of the devices (all, or `only`) and one tick of the rules."""
        self.monitor.process([*self.items(only), TickItem()])

    def run(self, seconds: float, *, step: float = 5.0, only: Iterable[str] | None = None) -> None:
        """Simulated time goes on, polled every `step` seconds."""
        chosen = list(only) if only is not None else None
        for _ in range(max(1, math.ceil(seconds / step))):
            self.sim.advance(step)
            self.poll(chosen)

    def send(self, equipment_id: str, points: dict[str, Any]) -> None:
        """Recorded telemetry, as the edge would publish it, at the simulated time."""
        self.seq += 1
        telemetry = Telemetry(ts=int(self.sim.now * 1000), seq=self.seq, points=points)
        self.monitor.process([TelemetryItem(self.topic(equipment_id), telemetry), TickItem()])

    def alarms(self, equipment_id: str | None = None) -> list[Alarm]:
        with self.db.sessions() as session:
            query = select(Alarm).order_by(Alarm.id)
            if equipment_id is not None:
                query = query.where(Alarm.equipment_id == equipment_id)
            return list(session.scalars(query))

    def work_orders(self) -> list[WorkOrder]:
        with self.db.sessions() as session:
            return list(session.scalars(select(WorkOrder).order_by(WorkOrder.id)))

    def incidents(self) -> list[Incident]:
        with self.db.sessions() as session:
            return list(session.scalars(select(Incident).order_by(Incident.id)))

    def close(self) -> None:
        self.db.close()


# -- a campus of two towers, each a full plant room ------------------------------------------


def _unit(n: int) -> str:
    return f"connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: {n}}}"


def building(b: str, base: int) -> str:
    """Tower `b` of 20 floors: two lifts, two pumps, two fire panels on Modbus units from
    `base`, and two lighting controllers on MQTT."""
    return f"""
  - id: tower-{b}
    floors: 20
    equipment:
      - {{id: lift-{b}1, kind: elevator, profile: plantroom-sim-elevator, {_unit(base + 1)}}}
      - {{id: lift-{b}2, kind: elevator, profile: plantroom-sim-elevator, {_unit(base + 2)}}}
      - {{id: pump-{b}1, kind: pump, profile: plantroom-sim-pump, {_unit(base + 11)},
          tags: {{system: domestic-water}}}}
      - {{id: pump-{b}2, kind: pump, profile: plantroom-sim-pump, {_unit(base + 12)},
          tags: {{system: sump}}}}
      - {{id: fire-{b}1, kind: fire_panel, profile: plantroom-sim-fire-panel, {_unit(base + 21)}}}
      - {{id: fire-{b}2, kind: fire_panel, profile: plantroom-sim-fire-panel, {_unit(base + 22)}}}
      - {{id: light-{b}1, kind: lighting, profile: lumen-lc4,
          connection: {{type: mqtt, topic: lumen/{b}1/state}}}}
      - {{id: light-{b}2, kind: lighting, profile: lumen-lc4,
          connection: {{type: mqtt, topic: lumen/{b}2/state}}}}"""


CAMPUS = f"""
site: {{id: campus, timezone: {TIMEZONE}}}
buildings:{building("a", 0)}{building("b", 100)}
"""


# the equipment of tower a
TOWER_A = [
    "lift-a1",
    "lift-a2",
    "pump-a1",
    "pump-a2",
    "fire-a1",
    "fire-a2",
    "light-a1",
    "light-a2",
]
