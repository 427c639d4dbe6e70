"""Preventive maintenance: plans, calendar and use triggers, lead times, scheduling from
completion or from the plan, and never a second work order for one due date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cloud.enums import Priority, WorkOrderKind, WorkOrderStatus
from cloud.pm.loader import load_plans
from cloud.pm.model import FixedDate, Interval
from cloud.pm.schedule import (
    MeterState,
    advance_meter,
    after_done,
    first_due,
    grid_next,
    meter_due,
)
from cloud.pm.scheduler import PmScheduler
from cloud.sla import load_sla
from cloud.workorders import creation, queries
from cloud.workorders.model import PmSchedule, WorkOrder
from plantroom.errors import ConfigError
from tests.cloud.plant import Plant
from tests.cloud.pm.harness import HK, Site, write
from tests.harness import REPO

# -- the pure parts ------------------------------------------------------------------------


def test_intervals_keep_month_ends_in_range() -> None:
    monthly = Interval(n=1, unit="mo")
    assert monthly.after(date(2026, 1, 31)) == date(2026, 2, 28)
    assert monthly.after(date(2026, 1, 31), 2) == date(2026, 3, 31)  # from the anchor, no drift
    assert Interval(n=1, unit="y").after(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Interval(n=15, unit="d").after(date(2026, 1, 1)) == date(2026, 1, 16)
    assert Interval(n=2, unit="w").after(date(2026, 1, 1)) == date(2026, 1, 15)


def test_the_grid_and_fixed_dates() -> None:
    quarterly = Interval(n=3, unit="mo")
    anchor = date(2026, 1, 10)
    assert grid_next(anchor, quarterly, after=date(2026, 1, 10)) == date(2026, 4, 10)
    assert grid_next(anchor, quarterly, not_before=date(2026, 11, 1)) == date(2027, 1, 10)
    daily = Interval(n=1, unit="d")
    assert grid_next(anchor, daily, after=date(2030, 5, 5)) == date(2030, 5, 6)
    spring = FixedDate(month=4, day=1)
    assert spring.on_or_after(date(2026, 4, 2)) == date(2027, 4, 1)
    once = FixedDate(year=2026, month=6, day=30)
    assert once.on_or_after(date(2026, 7, 1)) is None


def test_meters_count_through_resets_and_rollovers() -> None:
    m = MeterState(None, 0.0, 0.0)
    m = advance_meter(m, 1000.0, None)  # the first reading: a baseline, no use yet
    assert m.used == 0
    m = advance_meter(m, 1100.0, None)
    assert m.used == 100
    m = advance_meter(m, 30.0, None)  # reset (controller replaced): 30 since the reset
    assert m.used == 130
    wrap = 2.0**32
    m = advance_meter(MeterState(wrap - 10, 5.0, 0.0), 20.0, wrap)  # wrapped around
    assert m.used == 35
    m = advance_meter(MeterState(300_000.0, 0.0, 0.0), 12.0, wrap)  # a reset, not a wrap
    assert m.used == 12


def plan_of(tmp: Path, text: str) -> Any:
    write(tmp / "pm", "site.yaml", text)
    (found,) = [p for p in load_plans(tmp / "pm") if p.plan.id.startswith("pump.test")]
    return found


def test_first_due_and_next_due(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """plans:
  - {id: pump.test, kind: pump, title: T, every: 1mo, schedule_from: plan, checklist: [x]}
""",
    )
    today = date(2026, 3, 10)
    assert first_due(plan, today) == (today, date(2026, 4, 10))
    # done late: the plan's rhythm holds, missed cycles are skipped
    anchor, due = after_done(
        plan,
        anchor=today,
        next_due=date(2026, 4, 10),
        last_due=date(2026, 4, 10),
        calendar_raised=True,
        done_on=date(2026, 6, 20),
        cancelled=False,
    )
    assert (anchor, due) == (today, date(2026, 7, 10))
    from_completion = plan.model_copy(update={"schedule_from": "completion"})
    assert after_done(
        from_completion,
        anchor=today,
        next_due=date(2026, 4, 10),
        last_due=date(2026, 4, 10),
        calendar_raised=True,
        done_on=date(2026, 4, 14),
        cancelled=False,
    ) == (date(2026, 4, 14), date(2026, 5, 14))


def test_plan_files_are_checked_and_override_by_id(tmp_path: Path) -> None:
    shipped = {p.id: p for p in load_plans()}
    assert shipped["elevator.professional_maintenance"].plan.every == Interval(n=3, unit="mo")
    assert shipped["pump.monthly_check"].plan.meter is not None
    write(
        tmp_path,
        "monthly.yaml",
        """plans:
  - id: elevator.professional_maintenance
    kind: elevator
    title: Lift professional maintenance (monthly at this site)
    every: 1mo
    checklist: [Contractor visit]
  - id: elevator.weekly_cleaning
    kind: elevator
    title: Not at this site
    every: 1w
    checklist: [x]
    enabled: false
""",
    )
    plans = {p.id: p for p in load_plans(tmp_path)}
    assert plans["elevator.professional_maintenance"].plan.every == Interval(n=1, unit="mo")
    assert "elevator.weekly_cleaning" not in plans
    bad = write(
        tmp_path,
        "bad.yaml",
        """plans:
  - id: pump.bad
    kind: pump
    title: Bad
    every: fortnightly
    checklist: [x]
""",
    )
    with pytest.raises(ConfigError) as err:
        load_plans(tmp_path)
    assert f"{bad}:5: plan 'pump.bad': plans.0.every" in str(err.value)
    assert "not an interval" in str(err.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("every: 1w\n    dates: ['04-01']", "not both"),
        ("lead: 1d", "needs a trigger"),
        ("every: 1w\n    meter: {point: x, every: 5, lead: 5}", "less than every"),
        ("dates: ['02-30']", "not a day of the year"),
    ],
)
def test_bad_plans_say_what_is_wrong(tmp_path: Path, body: str, message: str) -> None:
    write(
        tmp_path,
        "bad.yaml",
        f"plans:\n  - id: pump.bad\n    kind: pump\n    title: Bad\n    {body}\n"
        "    checklist: [x]\n",
    )
    with pytest.raises(ConfigError, match=message):
        load_plans(tmp_path)


def test_a_building_plan_has_no_meter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bad.yaml",
        """plans:
  - id: building.bad
    kind: building
    title: Bad
    meter: {point: run_hours, every: 5}
    checklist: [x]
""",
    )
    with pytest.raises(ConfigError, match="no counters"):
        load_plans(tmp_path)


# -- the scheduler on simulated time ---------------------------------------------------------


WEEKLY = """plans:
  - id: pump.test_weekly
    kind: pump
    match: {system: sump}
    title: Sump weekly check
    every: 1w
    lead: 1d
    schedule_from: completion
    priority: normal
    checklist: [Float switch, Pit clean]
"""


@pytest.fixture
def weekly(tmp_path: Path) -> Iterator[Site]:
    site = Site(tmp_path, WEEKLY)
    yield site
    site.close()


def test_a_calendar_plan_raises_ahead_by_its_lead_with_its_checklist(weekly: Site) -> None:
    assert weekly.run() == []  # the first day: scheduled a week on
    assert weekly.schedule("pump.test_weekly", "p2").next_due == date(2026, 3, 9)
    weekly.clock.advance(days=5, hours=13)  # 2026-03-07 23:00 local: lead not reached
    assert weekly.run() == []
    weekly.clock.advance(hours=1)  # 2026-03-08 00:00 local: one day before the due date
    (number,) = weekly.run()
    (wo,) = weekly.work_orders()
    assert wo.number == number and wo.kind is WorkOrderKind.PM
    assert wo.equipment_id == "p2" and wo.priority is Priority.NORMAL
    assert wo.pm_plan_id == "pump.test_weekly" and wo.pm_due_on == date(2026, 3, 9)
    assert [i["item"] for i in wo.checklist] == ["Float switch", "Pit clean"]
    assert not any(i["done"] for i in wo.checklist)
    assert wo.resolve_due_at == datetime(2026, 3, 10, tzinfo=HK)
    # evaluated again and again, and by a restarted scheduler: still one
    for _ in range(3):
        weekly.clock.advance(hours=6)
        assert weekly.run() == []
    weekly.scheduler = weekly.new_scheduler()
    assert weekly.run() == []
    assert len(weekly.work_orders()) == 1


def test_the_next_one_is_scheduled_from_completion(weekly: Site) -> None:
    weekly.run()
    weekly.clock.advance(days=6)
    (first,) = weekly.run()
    weekly.clock.advance(days=3)  # done two days late, on 2026-03-11
    weekly.complete(first)
    assert weekly.run() == []
    state = weekly.schedule("pump.test_weekly", "p2")
    assert state.last_done == date(2026, 3, 11) and state.next_due == date(2026, 3, 18)
    weekly.clock.advance(days=6)  # 2026-03-17 10:00, within the lead
    (second,) = weekly.run()
    assert [w.pm_due_on for w in weekly.work_orders()] == [date(2026, 3, 9), date(2026, 3, 18)]
    assert second != first


def test_a_plan_rhythm_ignores_late_completion(tmp_path: Path) -> None:
    site = Site(tmp_path, WEEKLY.replace("schedule_from: completion", "schedule_from: plan"))
    try:
        site.run()
        site.clock.advance(days=6)
        (first,) = site.run()
        site.clock.advance(days=3)
        site.complete(first)
        site.run()
        assert site.schedule("pump.test_weekly", "p2").next_due == date(2026, 3, 16)
    finally:
        site.close()


USE = """plans:
  - id: pump.test_use
    kind: pump
    match: {system: domestic-water}
    title: Booster service
    every: 3mo
    meter: {point: run_hours, every: 500, lead: 25, rollover: 42949672.96}
    lead: 7d
    schedule_from: completion
    checklist: [Seal, Bearings]
"""


def test_use_falls_due_first_and_counts_through_a_counter_reset(tmp_path: Path) -> None:
    site = Site(tmp_path, USE)
    try:
        site.meter("p1", run_hours=12_000.0)
        assert site.run() == []  # the baseline
        site.clock.advance(days=10)
        site.meter("p1", run_hours=12_300.0)
        assert site.run() == []
        site.meter("p1", run_hours=40.0)  # the controller was replaced: its counter restarts
        assert site.run() == []
        site.meter("p1", run_hours=180.0)  # 300 + 180 = 480 hours of use: within the lead
        (number,) = site.run()
        (wo,) = site.work_orders()
        assert wo.pm_due_on == date(2026, 3, 12)  # the day it fell due by use
        assert "run_hours reached 480" in (wo.description or "")
        site.clock.advance(days=1)
        site.complete(number)
        assert site.run() == []
        state = site.schedule("pump.test_use", "p1")
        # whichever first: the calendar, too, counts from the service
        assert state.next_due == date(2026, 6, 13)
        assert MeterState.of(state.meters["run_hours"]).used == 0
        site.clock.advance(days=60)
        site.meter("p1", run_hours=400.0)  # 220 hours since the service
        assert site.run() == []
        site.clock.advance(days=25)  # 2026-06-07: the calendar's lead time has come
        (calendar,) = site.run()
        assert site.work_orders()[-1].pm_due_on == date(2026, 6, 13)
        assert calendar != number
    finally:
        site.close()


def test_meter_due_picks_the_point_that_reached_it(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """plans:
  - id: pump.test_lamps
    kind: pump
    title: T
    meter: {points: [a, b], every: 100, lead: 10}
    checklist: [x]
""",
    )
    meters = {"a": MeterState(5.0, 50.0, 0.0), "b": MeterState(5.0, 95.0, 0.0)}
    assert meter_due(plan, meters) == ("b", 95.0)
    assert meter_due(plan, {"a": MeterState(5.0, 50.0, 0.0)}) is None


def test_a_due_date_is_never_raised_twice(weekly: Site) -> None:
    weekly.run()
    weekly.clock.advance(days=6)
    (number,) = weekly.run()
    # the database refuses a second work order for the same plan, equipment and due date
    with pytest.raises(IntegrityError), weekly.db.session() as session:
        wo = session.scalar(select(WorkOrder))
        assert wo is not None
        twin = creation.create_work_order(
            session,
            title="twin",
            kind=WorkOrderKind.PM,
            priority=Priority.LOW,
            now=weekly.clock(),
            sla=load_sla(),
            channel=wo.events[0].channel,
            building="b1",
        )
        twin.pm_plan_id, twin.equipment_id, twin.pm_due_on = (
            wo.pm_plan_id,
            wo.equipment_id,
            wo.pm_due_on,
        )
        session.flush()
    # a second scheduler that lost track of the job adopts it rather than raising another
    with weekly.db.session() as session:
        session.execute(update(PmSchedule).values(open_work_order_id=None, last_due=None))
    assert weekly.run() == [number]
    assert len(weekly.work_orders()) == 1
    assert weekly.schedule("pump.test_weekly", "p2").open_work_order_id is not None


def test_building_plans_and_fixed_dates(tmp_path: Path) -> None:
    site = Site(
        tmp_path,
        """plans:
  - id: building.test_ac
    kind: building
    title: AC before summer
    dates: ["04-01"]
    lead: 20d
    checklist: [Filters, Coils]
""",
    )
    try:
        assert site.run() == []
        site.clock.advance(days=9)  # 2026-03-11 10:00 local: 21 days before 1 April
        assert site.run() == []
        site.clock.advance(days=1)  # 2026-03-12: within the 20 days of lead
        raised = site.run()
        assert len(raised) == 2  # one per building
        assert {(w.building, w.equipment_id, w.pm_due_on) for w in site.work_orders()} == {
            ("b1", None, date(2026, 4, 1)),
            ("b2", None, date(2026, 4, 1)),
        }
        site.scheduler = site.new_scheduler()
        assert site.run() == []
    finally:
        site.close()


def test_cancelled_jobs_keep_the_plan_rhythm(weekly: Site) -> None:
    weekly.run()
    weekly.clock.advance(days=6)
    (number,) = weekly.run()
    with weekly.db.session() as session:
        wo_id = queries.by_number(session, number)
        assert wo_id is not None
        session.execute(
            update(WorkOrder).where(WorkOrder.id == wo_id).values(status=WorkOrderStatus.CANCELLED)
        )
    weekly.clock.advance(days=2)
    assert weekly.run() == []
    assert weekly.schedule("pump.test_weekly", "p2").next_due == date(2026, 3, 16)


def test_use_comes_from_live_telemetry_of_the_simulated_pump(tmp_path: Path) -> None:
    """The booster's own run-hour counter, decoded as the edge decodes it and kept in the
    registry by the monitor, brings its PM due."""
    plant = Plant(tmp_path)
    try:
        write(
            tmp_path / "pm",
            "site.yaml",
            """plans:
  - id: pump.test_hours
    kind: pump
    match: {system: domestic-water}
    title: Booster service by hours
    meter: {point: run_hours, every: 6, lead: 0.5}
    checklist: [Seal]
""",
        )
        scheduler = PmScheduler(
            plant.db,
            [p for p in load_plans(tmp_path / "pm") if p.id == "pump.test_hours"],
            inventory=plant.inventory,
            clock=plant.now,
            sla=load_sla(),
            timezone=plant.timezone,
        )
        start_hours = plant.sim.models["booster-1"].run_hours  # type: ignore[attr-defined]
        raised: list[str] = []
        for _ in range(48 * 6):  # two simulated days, evaluated every 10 minutes
            plant.run(600, step=600, only=["booster-1"])
            raised += scheduler.evaluate().raised
            if raised:
                break
        assert len(raised) == 1
        used = plant.sim.models["booster-1"].run_hours - start_hours  # type: ignore[attr-defined]
        assert 5.5 <= used < 6.5  # raised within one evaluation of reaching every - lead
        (wo,) = [w for w in plant.work_orders() if w.pm_plan_id == "pump.test_hours"]
        assert wo.equipment_id == "booster-1" and wo.kind is WorkOrderKind.PM
    finally:
        plant.close()


def test_every_shipped_plan_is_documented() -> None:
    doc = (REPO / "docs" / "pm.md").read_text()
    for plan in load_plans():
        assert f"| `{plan.id}` |" in doc, plan.id


def test_a_scheduler_that_lost_its_place_adopts_the_open_job(weekly: Site) -> None:
    weekly.run()
    weekly.clock.advance(days=6)
    (number,) = weekly.run()
    with weekly.db.session() as session:  # where the plan stood is lost
        session.query(PmSchedule).delete()
    weekly.run()  # starts again: due a week on
    weekly.clock.advance(days=7)
    assert weekly.run() == [number]  # the job still open is the plan's: no second one
    assert len(weekly.work_orders()) == 1
    state = weekly.schedule("pump.test_weekly", "p2")
    assert state.last_due == date(2026, 3, 9)
