"""The registry's live rows written at most every interval when only measurements moved, and
at once for a change of state or an alarm; on a temp SQLite file, the monitor fed by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud import registry
from cloud.alarms.model import Alarm
from cloud.monitor import Monitor, TickItem
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rules
from tests.cloud.rig import Rig

INTERVAL = 5.0


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    rig = Rig(tmp_path)
    engine = RuleEngine(load_rules(), clock=lambda: rig.clock().timestamp())
    rig.monitor = Monitor(
        rig.db, engine, site="s1", clock=rig.clock, sla=rig.sla, live_interval=INTERVAL
    )
    rig.monitor.load()
    return rig


def stored(rig: Rig, equipment: str = "p1") -> tuple[dict[str, Any], int | None]:
    with rig.db.sessions() as session:
        row = registry.get(session, equipment)
        return dict(row.last_values), row.last_seq


def second(rig: Rig, points: dict[str, Any]) -> None:
    """One second on, a pump sample and the rules' tick, as in a running service."""
    rig.clock.advance(1)
    rig.send(rig.item("p1", points), TickItem())


def test_measurements_are_written_at_most_every_interval_with_the_newest_sample(
    rig: Rig,
) -> None:
    rig.send(rig.item("p1", {"pressure": 3.1, "running": True}))  # new points: at once
    assert stored(rig) == ({"pressure": 3.1, "running": True}, 1)
    for n in range(1, 5):  # seconds 1-4: only the pressure moves
        second(rig, {"pressure": 3.1 + n / 10, "running": True})
        assert stored(rig) == ({"pressure": 3.1, "running": True}, 1)
    second(rig, {"pressure": 3.6, "running": True})  # second 5: due
    assert stored(rig) == ({"pressure": 3.6, "running": True}, rig.seq)
    written = rig.monitor.stats.rows_written
    second(rig, {"pressure": 3.7, "running": True})
    assert rig.monitor.stats.rows_written == written


def test_a_row_due_is_written_by_the_tick_when_no_sample_comes(rig: Rig) -> None:
    rig.send(rig.item("p1", {"pressure": 3.1}))
    rig.clock.advance(1)
    rig.send(rig.item("p1", {"pressure": 3.4}))
    assert stored(rig)[0] == {"pressure": 3.1}
    rig.clock.advance(INTERVAL - 1.5)
    rig.send(TickItem())
    assert stored(rig)[0] == {"pressure": 3.1}
    rig.clock.advance(0.5)
    rig.send(TickItem())
    assert stored(rig) == ({"pressure": 3.4}, rig.seq)


@pytest.mark.parametrize(
    "change",
    [
        {"running": False},  # a boolean
        {"run_state": "fault"},  # a text value
        {"leak_rate": 0.2},  # a point not reported before
        {"pressure": None},  # a measurement unavailable
    ],
)
def test_a_change_of_state_is_written_with_its_batch(rig: Rig, change: dict[str, Any]) -> None:
    rig.send(rig.item("p1", {"pressure": 3.1, "running": True, "run_state": "running"}))
    rig.clock.advance(1)
    rig.send(rig.item("p1", {"pressure": 3.2, "running": True, "run_state": "running"} | change))
    values, seq = stored(rig)
    assert seq == rig.seq and values["pressure"] == change.get("pressure", 3.2)
    assert all(values[name] == value for name, value in change.items())


def test_a_measurement_that_raises_an_alarm_is_written_with_it(rig: Rig) -> None:
    def level(value: float) -> dict[str, Any]:
        return {"sump_level": value, "high_level": False}

    rig.send(rig.item("p1", level(60.0)))
    rig.clock.advance(1)
    rig.send(rig.item("p1", level(95.0)))  # pump.high_level: above 90, at once
    assert rig.count(Alarm) == 1
    assert stored(rig) == (level(95.0), rig.seq)
    rig.clock.advance(1)
    rig.send(rig.item("p1", level(75.0)))  # cleared below 80: written too
    assert rig.monitor.stats.cleared == 1
    assert stored(rig) == (level(75.0), rig.seq)
    rig.clock.advance(1)
    rig.send(rig.item("p1", level(74.0)))  # nothing changes: it waits
    assert stored(rig)[0] == level(75.0)


def test_flush_writes_every_row_not_written_yet(rig: Rig) -> None:
    rig.send(
        rig.item("p1", {"pressure": 3.1}),
        rig.item("e1", {"speed": 1.0}, kind="elevator", building="b2"),
    )
    rig.clock.advance(1)
    rig.send(
        rig.item("p1", {"pressure": 3.3}),
        rig.item("e1", {"speed": 1.5}, kind="elevator", building="b2"),
    )
    assert stored(rig)[0] == {"pressure": 3.1} and stored(rig, "e1")[0] == {"speed": 1.0}
    rig.monitor.flush()  # at shutdown
    assert stored(rig) == ({"pressure": 3.3}, rig.seq - 1)
    assert stored(rig, "e1") == ({"speed": 1.5}, rig.seq)


def test_a_row_written_by_an_alarm_waits_its_interval_from_then(rig: Rig) -> None:
    def level(value: float) -> dict[str, Any]:
        return {"sump_level": value, "high_level": False}

    def lift(speed: float) -> Any:
        return rig.item("e1", {"speed": speed}, kind="elevator", building="b2")

    rig.send(rig.item("p1", level(60.0)), lift(1.0))
    rig.clock.advance(3)
    rig.send(rig.item("p1", level(61.0)), lift(1.1))  # both deferred: due at second 5
    rig.clock.advance(1)
    rig.send(rig.item("p1", level(95.0)))  # second 4: the alarm writes the pump's row
    assert stored(rig)[0] == level(95.0)
    rig.clock.advance(1)
    rig.send(rig.item("p1", level(96.0)), TickItem())  # second 5: not due again
    assert stored(rig)[0] == level(95.0)
    rig.clock.advance(INTERVAL - 2)
    rig.send(TickItem())  # second 8: not yet
    assert stored(rig)[0] == level(95.0)
    rig.clock.advance(1)
    rig.send(TickItem())  # second 9: due
    assert stored(rig)[0] == level(96.0)


def test_a_clock_set_back_does_not_hold_rows_back(rig: Rig) -> None:
    rig.send(rig.item("p1", {"pressure": 3.1}))
    edge_time = rig.clock() + timedelta(seconds=1)
    rig.clock.advance(hours=-1)  # the cloud's clock; the edge's goes on
    rig.send(rig.item("p1", {"pressure": 3.5}, ts=edge_time))
    assert stored(rig) == ({"pressure": 3.5}, rig.seq)


def test_without_an_interval_every_batch_writes_its_rows(tmp_path: Path) -> None:
    rig = Rig(tmp_path)  # the monitor's default: 0
    rig.send(rig.item("p1", {"pressure": 3.1}))
    rig.clock.advance(0.5)
    rig.send(rig.item("p1", {"pressure": 3.2}))
    assert stored(rig) == ({"pressure": 3.2}, rig.seq)
