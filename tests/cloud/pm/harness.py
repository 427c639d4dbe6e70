"""A site for the preventive-maintenance tests: its inventory (Hong Kong time, pumps and a
lift), plan files written in a folder, and the PM scheduler on a test clock with a
technician who completes the work orders it raises."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from cloud.enums import Role
from cloud.pm.loader import load_plans
from cloud.pm.scheduler import PmScheduler
from cloud.sla import load_sla
from cloud.users.model import User
from cloud.users.service import add_user
from cloud.workorders import commands, queries, steps
from cloud.workorders.model import PmSchedule, WorkOrder
from cloud.workorders.rules import Action
from tests.cloud.harness import Clock, site_database
from tests.cloud.rows import equipment_row

HK = ZoneInfo("Asia/Hong_Kong")


INVENTORY = """
site: {id: s1, timezone: Asia/Hong_Kong}
buildings:
  - id: b1
    equipment:
      - {id: p1, kind: pump, profile: plantroom-sim-pump, tags: {system: domestic-water},
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}
      - {id: p2, kind: pump, profile: plantroom-sim-pump, tags: {system: sump},
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 12}}
      - {id: e1, kind: elevator, profile: plantroom-sim-elevator,
         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 1}}
  - id: b2
    equipment: []
"""


def write(folder: Path, name: str, text: str) -> Path:
    """`text` written as file `name` in `folder`, made if need be."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


class Site:
    """The site's database, its technician, a clock at 10:00 in Hong Kong and a scheduler of
    the plans in `plans_text` whose id has `.test` in it."""

    def __init__(self, tmp: Path, plans_text: str) -> None:
        self.inventory, self.db = site_database(tmp, INVENTORY)
        with self.db.session() as session:
            self.tech = add_user(session, "tech1", Role.TECHNICIAN, now=datetime.now(UTC))
        self.clock = Clock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # 10:00 in Hong Kong
        write(tmp / "pm", "site.yaml", plans_text)
        self.plans = [p for p in load_plans(tmp / "pm") if ".test" in p.id]
        self.scheduler = self.new_scheduler()

    def new_scheduler(self) -> PmScheduler:
        return PmScheduler(
            self.db,
            self.plans,
            inventory=self.inventory,
            clock=self.clock,
            sla=load_sla(),
            timezone=HK,
        )

    def run(self) -> list[str]:
        return self.scheduler.evaluate().raised

    def meter(self, equipment: str, **values: float) -> None:
        with self.db.session() as session:
            row = equipment_row(session, equipment)
            assert row is not None
            row.last_values = {**row.last_values, **values}

    def work_orders(self) -> list[WorkOrder]:
        with self.db.sessions() as session:
            return list(session.scalars(select(WorkOrder).order_by(WorkOrder.id)))

    def schedule(self, plan_id: str, target: str) -> PmSchedule:
        """The schedule of `plan_id` for a building (`building:<id>`) or a piece of equipment
        (its id: the test site has one of each)."""
        mine = PmSchedule.target == target
        if not target.startswith("building:"):
            mine = PmSchedule.equipment_id == target
        with self.db.sessions() as session:
            row = session.scalar(select(PmSchedule).where(PmSchedule.plan_id == plan_id, mine))
            assert row is not None
            return row

    def complete(self, number: str) -> None:
        """The technician does the job: acknowledges, ticks every item, resolves."""
        with self.db.session() as session:
            wo_id = queries.by_number(session, number)
            assert wo_id is not None
            tech = session.get(User, self.tech.id)
            assert tech is not None
            now = self.clock()
            commands.act(session, wo_id, Action.ACKNOWLEDGE, user=tech, now=now)
            commands.act(session, wo_id, Action.START, user=tech, now=now)
            wo = queries.get(session, wo_id)
            for i in range(len(wo.checklist)):
                steps.check_item(session, wo_id, i, done=True, user=tech, now=now)
            commands.act(session, wo_id, Action.RESOLVE, user=tech, now=now, note="done")

    def close(self) -> None:
        self.db.close()
