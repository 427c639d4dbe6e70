"""The monitor on a test database, fed by hand: a site of a pump, a lighting controller and a
lift, a clock the test moves, telemetry items made to order, and what came of them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cloud.alarms.model import Alarm
from cloud.monitor import Monitor, TelemetryItem, TickItem
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rules
from cloud.sla import load_sla
from cloud.workorders import queries
from cloud.workorders.model import WorkOrder
from plantroom.schema import Telemetry
from plantroom.topics import EquipmentTopic
from tests.cloud.harness import Clock, site_database

INVENTORY = """
site: {id: s1}
buildings:
  - id: b1
    equipment:
      - {id: p1, kind: pump, profile: plantroom-sim-pump, floor: B2, zone: plant-room,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}
      - {id: l1, kind: lighting, profile: lumen-lc4, connection: {type: mqtt, topic: x/l1}}
  - id: b2
    equipment:
      - {id: e1, kind: elevator, profile: plantroom-sim-elevator,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5021, unit: 1}}
"""


class Rig:
    """Site s1's monitor with the shipped rules on a database in `tmp`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = Clock()
        self.inventory, self.db = site_database(tmp, INVENTORY)
        self.sla = load_sla()
        self.seq = 0
        self.monitor = self.new_monitor()

    def new_monitor(self) -> Monitor:
        engine = RuleEngine(load_rules(), clock=lambda: self.clock().timestamp())
        monitor = Monitor(self.db, engine, site="s1", clock=self.clock, sla=self.sla)
        monitor.load()
        return monitor

    def item(
        self,
        equipment: str,
        points: dict[str, Any],
        *,
        kind: str = "pump",
        building: str = "b1",
        ts: datetime | None = None,
        quality: dict[str, str] | None = None,
    ) -> TelemetryItem:
        self.seq += 1
        at = ts or self.clock()
        t = Telemetry.model_validate(
            {
                "ts": int(at.timestamp() * 1000),
                "seq": self.seq,
                "points": points,
                "quality": quality,
            }
        )
        return TelemetryItem(EquipmentTopic("s1", building, kind, equipment), t)

    def send(self, *items: Any) -> None:
        self.monitor.process(list(items))

    def raises_after(self, seconds: float) -> None:
        """Ticking on: nothing is raised `seconds` - 1 s from now, the alarm and its work order
        are at `seconds`."""
        self.clock.advance(seconds - 1)
        self.send(TickItem())
        assert self.count(Alarm) == 0
        self.clock.advance(1)
        self.send(TickItem())
        assert self.count(Alarm) == 1 and self.count(WorkOrder) == 1

    def count(self, model: Any) -> int:
        with self.db.sessions() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def work_orders(self) -> list[WorkOrder]:
        with self.db.sessions() as session:
            return list(session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all())

    def alarm_list(self) -> list[Alarm]:
        with self.db.sessions() as session:
            return list(session.scalars(select(Alarm).order_by(Alarm.id)).all())

    def events(self, wo_id: int) -> list[tuple[str, str]]:
        with self.db.sessions() as session:
            wo = queries.get(session, wo_id, with_events=True)
            return [(e.action, e.actor) for e in wo.events]
