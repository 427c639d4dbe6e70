"""One message that fails in the database costs only itself: its batch neighbours are
processed and it is dead-lettered, on SQLite and on PostgreSQL, end to end through mosquitto.

The contract now refuses `seq` ≥ 2^63 at the boundary (tests/plantroom/test_schema.py), so no
published message reaches the database with one. To exercise the isolation behind that
boundary, this test's consumer lets exactly one marked message past the contract check with
`seq` = 2^63: a value the database itself rejects (SQLite's driver: "Python int too large to
convert to SQLite INTEGER"; PostgreSQL: "bigint out of range"). Nothing else is faked.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from cloud import registry
from cloud.clock import utcnow
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.monitor import Item, Monitor, TelemetryItem
from cloud.rules.service import RulesService
from cloud.sla import load_sla
from plantroom.inventory import load_inventory
from plantroom.schema import Telemetry
from plantroom.topics import parse_equipment_topic
from stack.services import Mosquitto
from tests.cloud.harness import LiveSite
from tests.cloud.rows import equipment_row
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

POISON_SEQ = 2**63  # one past the contract's bound


class OnePastTheContract(TelemetryConsumer):
    """The real consumer, except that a message marked `"poison": true` skips validation and
    carries seq 2^63 into the database."""

    @staticmethod
    def parse(topic: str, payload: Any, **kw: Any) -> Item | None:
        doc = json.loads(payload)
        if doc.pop("poison", False):
            where, _ = parse_equipment_topic(topic)
            bad = Telemetry.model_construct(
                ts=doc["ts"], seq=POISON_SEQ, points=doc["points"], quality=None
            )
            return TelemetryItem(where, bad)
        return TelemetryConsumer.parse(topic, payload, **kw)


async def test_one_poison_message_among_100_is_dead_lettered_and_the_100_are_processed(
    tmp_path: Path,
    fresh_mosquitto: Mosquitto,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a broker of its own: the statuses other tests left retained would join the batch
    site = LiveSite(tmp_path, fresh_mosquitto)
    site.settings = site.settings.model_copy(update={"database_url": database_url})
    db = Database(database_url)
    db.migrate()
    with db.session() as session:
        registry.sync_inventory(session, load_inventory(site.settings.inventory))
    rules = RulesService(None, timezone=UTC, clock=utcnow)
    monitor = Monitor(db, rules.engine(), site=site.site, clock=utcnow, sla=load_sla())
    good = 100
    try:
        # a batch of exactly the 101 messages, however slowly they arrive (a batch that
        # lingers out early leaves the rest to queue while it fails, and the queue folds a
        # piece of equipment's waiting samples into one): the poison has 100 neighbours
        consumer = OnePastTheContract(
            site.settings, monitor, batch_size=good + 1, batch_linger=30.0, tick_interval=3600
        )
        async with consumer:

            async def is_connected() -> bool:
                return consumer.stats.connected

            await wait_for_async(is_connected, "the consumer to connect", within=15.0)
            pump = site.topic("pump-a1", "pump")
            # the poison's row (another piece of equipment) is written only by it, in the
            # middle of the batch
            lift = site.topic("lift-a1", "elevator")
            async with site.publisher() as pub:
                for i in range(1, good + 1):
                    await pub.publish(pump, site.telemetry({"speed": 1000 + i}), qos=1)
                    if i == good // 2:
                        poison = json.loads(site.telemetry({"floor": 3}))
                        site.seq -= 1  # the poison takes no number of the good ones
                        poison["poison"] = True
                        await pub.publish(lift, json.dumps(poison).encode(), qos=1)

            async def settled() -> bool:
                return consumer.stats.processed + consumer.stats.dead_lettered == good + 1

            with caplog.at_level(logging.ERROR, logger="cloud.batches"):
                await wait_for_async(settled, "every message processed or dead-lettered", within=60)
            assert (consumer.stats.processed, consumer.stats.dead_lettered) == (good, 1)
            assert consumer.stats.dropped == 0
            assert monitor.stats.telemetry >= good
        [record] = [r for r in caplog.records if "dead-lettered" in r.getMessage()]
        message = record.getMessage()
        assert lift in message
        assert f"in a batch of {good + 1}" in message  # it had neighbours, and they committed
        with db.sessions() as session:
            row = equipment_row(session, "pump-a1")
            assert row is not None and row.last_seq == good
            assert row.last_values["speed"] == 1000 + good
            poisoned = equipment_row(session, "lift-a1")
            assert poisoned is not None and poisoned.last_seq is None
    finally:
        db.close()
