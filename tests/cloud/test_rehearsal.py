"""The fault rehearsed after the monitor's first load: nothing of it kept or logged, and the
first real fault then compiles no statement of its own."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from cloud import rehearsal
from cloud.alarms.model import Alarm
from cloud.orm import Counter
from cloud.workorders.model import WorkOrder, WorkOrderEvent
from tests.cloud.rig import Rig

FAULT_TABLES = ("alarms", "work_orders", "work_order_events", "counters", "teams")


def compiled(engine: Engine) -> dict[int, str]:
    """The statements the engine has compiled and kept (what the rehearsal fills), by id."""
    cache: Any = engine._compiled_cache
    return {id(c): str(c) for c in cache.values()}


def fault_path(statements: list[str]) -> list[str]:
    """Those of `statements` that touch the alarms, the jobs, their events, numbers or teams
    (a fault's batch also saves the rule timers that changed, which is not the fault path)."""
    return [s for s in statements if any(f" {table}" in s for table in FAULT_TABLES)]


def compiled_by_a_fault(rig: Rig) -> list[str]:
    """The fault path's statements compiled by the first fault of p1, after a routine batch."""
    rig.send(rig.item("p1", {"dry_run": False, "speed": 1450}))
    before = compiled(rig.db.engine)
    rig.send(rig.item("p1", {"dry_run": True}))
    after = compiled(rig.db.engine)
    assert rig.count(WorkOrder) == 1
    return fault_path([sql for key, sql in after.items() if key not in before])


def counters(rig: Rig) -> list[tuple[str, int]]:
    with rig.db.sessions() as session:
        return [(c.name, c.value) for c in session.scalars(select(Counter).order_by(Counter.name))]


def test_nothing_of_the_rehearsal_is_kept_or_logged(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    numbers = counters(rig)
    rig.monitor = rig.new_monitor()  # a start: loads, then rehearses
    assert not [r for r in caplog.records if r.name.startswith("cloud.")]
    assert rig.count(Alarm) == rig.count(WorkOrder) == rig.count(WorkOrderEvent) == 0
    assert counters(rig) == numbers
    rig.send(rig.item("p1", {"dry_run": True, "speed": 1450}))
    (wo,) = rig.work_orders()
    assert wo.number == "WO-000001"  # the rehearsal's number was rolled back


def test_the_first_fault_finds_its_statements_compiled(rig: Rig) -> None:
    assert compiled_by_a_fault(rig) == []


def test_without_the_rehearsal_the_first_fault_compiles_them(rig: Rig) -> None:
    """The other side of the test above: what it reads does change when nothing rehearsed."""
    rig.db.engine.clear_compiled_cache()
    assert len(compiled_by_a_fault(rig)) >= 5


def test_a_rehearsal_that_fails_is_logged_and_the_monitor_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no team file")

    monkeypatch.setattr(rehearsal.faults, "apply", broken)
    rig.monitor = rig.new_monitor()
    assert "rehearsing a fault failed" in caplog.text
    monkeypatch.undo()
    rig.send(rig.item("p1", {"dry_run": True, "speed": 1450}))
    assert rig.count(WorkOrder) == 1
