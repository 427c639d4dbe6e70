"""The API benchmark's database: the demo registry, technicians with tokens, and a backlog of
work orders with their audit events, bulk-inserted."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import insert, update

from benchmarks.api_params import CHUNK, INVENTORY, OPEN, STATUSES, TECHNICIANS, WORK_ORDERS
from cloud import registry
from cloud.db import Database
from cloud.enums import Channel, Priority, Role, WorkOrderKind, WorkOrderStatus
from cloud.equipment import Equipment
from cloud.orm import Counter
from cloud.users.service import add_user, issue_token
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from plantroom.inventory import load_inventory


def populate(url: str, now: datetime) -> tuple[list[str], list[int], float]:
    """The database: registry, technicians with tokens, and the backlog. Returns the tokens,
    the open jobs' ids and the seconds the bulk insert took."""
    rng = random.Random(7)
    db = Database(url)
    try:
        db.migrate()
        with db.session() as session:
            registry.sync_inventory(session, load_inventory(INVENTORY))
            tokens = []
            for i in range(TECHNICIANS):
                user = add_user(session, f"tech{i + 1}", Role.TECHNICIAN, now=now)
                tokens.append(issue_token(session, user, now=now))
            equipment = [(e.id, e.building) for e in session.query(Equipment).all()]
        started = time.perf_counter()
        open_ids = []
        with db.engine.begin() as connection:
            for first in range(0, WORK_ORDERS, CHUNK):
                rows, events = [], []
                for n in range(first + 1, min(first + CHUNK, WORK_ORDERS) + 1):
                    created = now - timedelta(minutes=5 * (WORK_ORDERS - n))
                    eq, building = rng.choice(equipment)
                    if n > WORK_ORDERS - OPEN:
                        status = WorkOrderStatus.OPEN
                        open_ids.append(n)
                    else:
                        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
                    opened = created
                    rows.append(
                        {
                            "id": n,
                            "number": f"WO-{n:06d}",
                            "title": f"Job {n} on {eq}",
                            "kind": rng.choice(list(WorkOrderKind)).value,
                            "equipment_id": eq,
                            "building": building,
                            "priority": rng.choice(list(Priority)).value,
                            "status": status.value,
                            "created_at": created,
                            "updated_at": created,
                            "opened_at": opened,
                            "dispatched_at": opened,
                            # far enough ahead that the ticker has nothing to escalate
                            "respond_due_at": (now + timedelta(days=30)),
                            "resolve_due_at": (now + timedelta(days=30)),
                            "holds": 0,
                            "version": 1,
                            "escalation_stage": 0,
                            "postponements": 0,
                            "reopens": 0,
                            "follow_up": False,
                        }
                    )
                    events.append(
                        {
                            "work_order_id": n,
                            "at": created,
                            "actor": "system",
                            "action": "created",
                            "to_status": "open",
                            "channel": Channel.SYSTEM.value,
                        }
                    )
                connection.execute(insert(WorkOrder), rows)
                connection.execute(insert(WorkOrderEvent), events)
            connection.execute(
                update(Counter).where(Counter.name == "work_order_number").values(value=WORK_ORDERS)
            )
        took = time.perf_counter() - started
    finally:
        db.close()
    rng.shuffle(open_ids)
    return tokens, open_ids, took
