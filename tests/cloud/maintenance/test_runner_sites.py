"""Which consumer settles a window: the one evaluating the window's site, else the one of every
site (outside a cluster), else none (the runner's own thread)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.maintenance.runner import MaintenanceRunner
from cloud.maintenance.window import Board, Window
from cloud.sla import load_sla

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SITE_OF = {"pump-n": "north", "pump-s": "south", "pump-w": "west"}


def window(id_: int, equipment_id: str) -> Window:
    return Window(
        id=id_,
        equipment_id=equipment_id,
        building=None,
        starts_at=START,
        until=START + timedelta(minutes=10),
        reason="seal replaced",
        created_by="sup1",
    )


def runner() -> MaintenanceRunner:
    made = MaintenanceRunner(
        cast(Database, None), Board(), sla=load_sla(), clock=lambda: START, interval=1.0
    )
    made.site_of = lambda w: SITE_OF.get(w.equipment_id or "")
    return made


def consumer(name: str) -> TelemetryConsumer:
    return cast(TelemetryConsumer, cast(Any, name))  # only compared, never called


def test_each_window_goes_to_the_consumer_of_its_site() -> None:
    made = runner()
    north, south = consumer("north"), consumer("south")
    made.consumers = {"north": north, "south": south}
    due = [window(1, "pump-n"), window(2, "pump-s"), window(3, "pump-n"), window(4, "pump-w")]
    assert made._by_consumer(due) == [(north, [1, 3]), (south, [2]), (None, [4])]


def test_outside_a_cluster_the_one_consumer_settles_every_site() -> None:
    made = runner()
    every = consumer("every")
    made.consumers = {None: every}
    assert made._by_consumer([window(1, "pump-n"), window(2, "pump-w")]) == [(every, [1, 2])]
    made.consumers = {}  # an API-only process: its own thread
    assert made._by_consumer([window(1, "pump-n")]) == [(None, [1])]
