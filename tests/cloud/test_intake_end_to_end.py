"""The intake under overload, against a real mosquitto: a flood of routine samples waits while
the worker is held, one fault arrives last, and its work order is raised before the flood is
through; nothing is lost (every pump's last values, the short-cycling rule's counter), and the
lag alarm is raised while the intake is behind and cleared once it has caught up."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud import registry
from cloud.alarms.intake import TELEMETRY_INTAKE_BEHIND, IntakeAlarms
from cloud.alarms.model import Alarm, SystemAlarm
from cloud.clock import utcnow
from cloud.db import Database
from cloud.enums import AlarmState
from cloud.equipment import Equipment
from cloud.ingest import TelemetryConsumer
from cloud.monitor import Monitor, TelemetryItem
from cloud.rules.service import RulesService
from cloud.sla import load_sla
from cloud.workorders.model import WorkOrder
from plantroom.inventory import load_inventory
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

PUMPS = 20
ROUNDS = 40  # routine samples per pump in the flood
FAULTY = "pump-07"
CYCLING = "pump-03"  # its `starts` counter rises by ROUNDS: the short-cycling rule raises


def inventory(site: str) -> str:
    lines = [f"site: {{id: {site}}}", "buildings:", "  - id: tower-a", "    equipment:"]
    for n in range(1, PUMPS + 1):
        lines.append(
            f"      - {{id: pump-{n:02d}, kind: pump, profile: plantroom-sim-pump, "
            f"connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: {n}}}}}"
        )
    return "\n".join(lines) + "\n"


class Recorder(Monitor):
    """The real monitor, held at a gate, noting per batch which messages it applied and
    whether the faulty pump's work order existed once the batch had committed."""

    gate: threading.Event
    batches: list[tuple[list[Any], bool]]

    def process(self, items: Any, stop: Any = None) -> int:
        if not self.gate.wait(30):
            raise RuntimeError("the gate was never opened")
        applied = super().process(items, stop)
        items = items[:applied]
        with self._db.session() as session:
            ordered = session.scalar(select(WorkOrder.id).where(WorkOrder.equipment_id == FAULTY))
        self.batches.append(
            (
                [i.telemetry.points for i in items if isinstance(i, TelemetryItem)],
                ordered is not None,
            )
        )
        return applied


def held_site(
    tmp_path: Path, mosquitto: Mosquitto, **settings: Any
) -> tuple[LiveSite, Database, Recorder]:
    """The pumps' site (`settings` on top), its migrated database, and its recording monitor
    with the gate open."""
    site = LiveSite(tmp_path, mosquitto)
    (tmp_path / "pumps.yaml").write_text(inventory(site.site), encoding="utf-8")
    site.settings = site.settings.model_copy(
        update={
            "inventory": tmp_path / "pumps.yaml",
            "cloud_client_id": f"it-{uuid.uuid4().hex}",
            **settings,
        }
    )
    db = Database(site.settings.database_url)
    db.migrate()
    with db.session() as session:
        registry.sync_inventory(session, load_inventory(site.settings.inventory))
    rules = RulesService(None, timezone=UTC, clock=utcnow)
    monitor = Recorder(db, rules.engine(), site=site.site, clock=utcnow, sla=load_sla())
    monitor.gate = threading.Event()
    monitor.gate.set()
    monitor.batches = []
    return site, db, monitor


async def all_is_well(site: LiveSite, pub: Any, monitor: Recorder, pumps: list[str]) -> None:
    """Every pump's first sample (its states, the counter's baseline), processed."""
    for pump in pumps:
        sample = {"dry_run": False, "run_state": "running", "starts": 0, "speed": 0}
        await pub.publish(site.topic(pump, "pump"), site.telemetry(sample), qos=1)
    await wait_for_async(
        lambda: monitor.stats.telemetry >= len(pumps), "the first samples to be processed", 15
    )


async def test_a_fault_overtakes_a_flood_and_nothing_is_lost(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    site, db, monitor = held_site(tmp_path, mosquitto, intake_lag_alarm_s=0.5)
    pumps = [f"pump-{n:02d}" for n in range(1, PUMPS + 1)]
    try:
        consumer = TelemetryConsumer(
            site.settings,
            monitor,
            batch_size=5,
            tick_interval=0.1,
            lag_alarms=IntakeAlarms(db, clock=utcnow),
        )
        async with consumer, site.publisher() as pub:
            await wait_for_async(lambda: consumer.stats.connected, "the consumer to connect", 15)
            await all_is_well(site, pub, monitor, pumps)
            monitor.gate.clear()  # the worker falls behind
            held = len(monitor.batches)
            for k in range(1, ROUNDS + 1):
                for pump in pumps:
                    routine: dict[str, Any] = {"speed": 1000 + k, "flow": k / 10}
                    if pump == CYCLING:
                        routine["starts"] = k
                    await pub.publish(site.topic(pump, "pump"), site.telemetry(routine), qos=1)
            flood = PUMPS * ROUNDS
            await wait_for_async(
                lambda: consumer.stats.received >= PUMPS + flood, "the flood to be queued", 30
            )
            await pub.publish(site.topic(FAULTY, "pump"), site.telemetry({"dry_run": True}), qos=1)
            await wait_for_async(
                lambda: consumer.stats.received >= PUMPS + flood + 1, "the fault to be queued", 15
            )
            assert consumer.intake.urgent_waiting >= 1
            assert consumer.intake.routine_waiting < flood  # folded while waiting
            await wait_for_async(lambda: consumer.lag.behind, "the intake to be judged behind", 15)
            monitor.gate.set()

            def drained() -> bool:
                return len(consumer.intake) == 0 and not consumer.lag.behind

            await wait_for_async(drained, "the intake to catch up", 30)

        after = monitor.batches[held:]
        first = next(n for n, (_, ordered) in enumerate(after) if ordered)
        fault_batch = after[first][0]
        assert {"dry_run": True} in fault_batch
        later = [p for points, _ in after[first + 1 :] for p in points if "speed" in p]
        assert later, "the work order was raised only after the whole flood"
        # every message processed or folded into one that was (QoS 1: perhaps some twice)
        assert monitor.stats.telemetry + consumer.intake.coalesced >= PUMPS + flood + 1
        assert consumer.intake.coalesced > 0
        assert consumer.delays.urgent_s is not None and consumer.delays.routine_s is not None
        with db.session() as session:
            for row in session.scalars(select(Equipment).where(Equipment.id.in_(pumps))):
                values = row.last_values or {}
                assert values["speed"] == 1000 + ROUNDS and values["flow"] == ROUNDS / 10, row.id
                assert values["starts"] == (ROUNDS if row.id == CYCLING else 0), row.id
            active = set(
                session.execute(
                    select(Alarm.equipment_id, Alarm.rule_id).where(
                        Alarm.state == AlarmState.ACTIVE
                    )
                ).all()
            )
            assert (FAULTY, "pump.dry_run") in active
            assert (CYCLING, "pump.short_cycling") in active  # the window was fed
            lag = session.scalars(
                select(SystemAlarm).where(SystemAlarm.code == TELEMETRY_INTAKE_BEHIND)
            ).all()
            assert lag and all(a.state is AlarmState.CLEARED for a in lag)
            assert lag[0].subject == f"intake:{site.settings.cloud_client_id}"
    finally:
        monitor.gate.set()
        db.close()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto of this test's own: what other tests left on the session's broker would
    join the batches the test counts."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_a_fault_cuts_into_the_routine_batch_being_applied(
    tmp_path: Path, own_broker: Mosquitto
) -> None:
    site, db, monitor = held_site(tmp_path, own_broker)
    pumps = [f"pump-{n:02d}" for n in range(1, PUMPS + 1)]
    try:
        consumer = TelemetryConsumer(site.settings, monitor, batch_size=PUMPS, tick_interval=60)
        async with consumer, site.publisher() as pub:
            await wait_for_async(lambda: consumer.stats.connected, "the consumer to connect", 15)
            await all_is_well(site, pub, monitor, pumps)
            monitor.gate.clear()  # the next batch is taken and held before its first sample
            held = len(monitor.batches)
            # the faulty pump's sample first: it is in the batch taken, however few arrived
            # before it was taken, so its fault has no earlier sample waiting and goes first
            for pump in [FAULTY, *(p for p in pumps if p != FAULTY)]:
                await pub.publish(site.topic(pump, "pump"), site.telemetry({"speed": 1200}), qos=1)
            await wait_for_async(
                lambda: consumer.stats.received >= 2 * PUMPS and consumer.queued < PUMPS,
                "the routine samples to arrive and a batch of them to be taken",
                15,
            )
            await pub.publish(site.topic(FAULTY, "pump"), site.telemetry({"dry_run": True}), qos=1)
            await wait_for_async(
                lambda: consumer.intake.urgent_waiting >= 1, "the fault to be queued", 15
            )
            monitor.gate.set()
            await wait_for_async(
                lambda: monitor.stats.telemetry >= 2 * PUMPS + 1, "everything to be applied", 15
            )

        after = monitor.batches[held:]
        assert after[0] == ([{"speed": 1200}], False)  # stopped after its first sample
        fault_batch, ordered = after[1]
        assert {"dry_run": True} in fault_batch and ordered
        assert len(fault_batch) <= 2  # the fault, after its pump's earlier sample if put back
        with db.session() as session:
            for row in session.scalars(select(Equipment).where(Equipment.id.in_(pumps))):
                assert (row.last_values or {})["speed"] == 1200, row.id  # none lost
    finally:
        monitor.gate.set()
        db.close()
