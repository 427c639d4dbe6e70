"""The indicators: each pure function against figures worked out by hand, and `GET /api/kpis`
on a small month of real work orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud import kpi
from cloud.enums import Priority, Role, WorkOrderKind, WorkOrderStatus
from cloud.kpi import Equip, Job
from cloud.sla import Targets
from tests.cloud.harness import Clock, error, serve, settings_for

S = WorkOrderStatus
K = WorkOrderKind
P = Priority
T = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
NOW = T + timedelta(days=3)


def at(**kw: float) -> datetime:
    return T + timedelta(**kw)


# The month's jobs. Hand-worked figures are in each test.
JOBS = [
    # 1: pump fault, acknowledged in 2 min, fixed in 1 h (due in 24 h), followed up
    Job(1, K.FAULT, P.URGENT, S.CLOSED, T, T, equipment_id="p1", equipment_kind="pump",
        acknowledged_at=at(minutes=2), resolved_at=at(hours=1), closed_at=at(hours=2),
        respond_due_at=at(minutes=30), resolve_due_at=at(hours=24), follow_up=True),
    # 2: lift fault reopened a day later (the fault came back); this episode acknowledged in
    #    6 min and fixed in 3 h against a 4 h promise
    Job(2, K.FAULT, P.EMERGENCY, S.CLOSED, T, at(days=1), equipment_id="e1",
        equipment_kind="elevator", acknowledged_at=at(days=1, minutes=6),
        resolved_at=at(days=1, hours=3), closed_at=at(days=1, hours=4),
        respond_due_at=at(days=1, minutes=3), resolve_due_at=at(days=1, hours=4), reopens=1),
    # 3: a reported problem, acknowledged in 30 min, never fixed, due 2 days after it was raised
    Job(3, K.REQUEST, P.NORMAL, S.ACKNOWLEDGED, at(hours=1), at(hours=1),
        acknowledged_at=at(hours=1, minutes=30), respond_due_at=at(hours=3),
        resolve_due_at=at(hours=1, days=2)),
    # 4: a lighting problem nobody acknowledged; its completion is not due yet
    Job(4, K.REQUEST, P.LOW, S.OPEN, at(hours=2), at(hours=2), equipment_id="l1",
        equipment_kind="lighting", respond_due_at=at(hours=4), resolve_due_at=at(hours=2, days=7)),
    # 5: cancelled: counts nowhere but in the counts
    Job(5, K.FAULT, P.URGENT, S.CANCELLED, T, T, equipment_id="p2", equipment_kind="pump",
        acknowledged_at=at(minutes=1), cancelled_at=at(minutes=5), resolve_due_at=at(hours=24)),
    # 6 and 7: PM due a day after raising: one done in 12 h, one not done
    Job(6, K.PM, P.LOW, S.CLOSED, T, T, equipment_id="f1", equipment_kind="fire_panel",
        acknowledged_at=at(hours=1), resolved_at=at(hours=12), closed_at=at(hours=12),
        resolve_due_at=at(days=7), pm_due_at=at(days=1)),
    Job(7, K.PM, P.LOW, S.OPEN, T, T, equipment_id="f1", equipment_kind="fire_panel",
        resolve_due_at=at(days=1), pm_due_at=at(days=1)),
]  # fmt: skip
EQUIPMENT = [
    Equip("p1", "pump", "b1"),
    Equip("p2", "pump", "b1"),
    Equip("e1", "elevator", "b1"),
    Equip("f1", "fire_panel", "b1"),
    Equip("l1", "lighting", "b1"),
]


def test_mean_time_to_acknowledge() -> None:
    # repairs acknowledged: 120 s, 360 s (from the reopen), 1800 s; the cancelled one is out
    figure = kpi.mean_time_to_acknowledge(JOBS)
    assert (figure.numerator, figure.denominator) == (2280.0, 3)
    assert figure.value == 760.0


def test_mean_time_to_repair() -> None:
    # repairs resolved: 3600 s and 10 800 s; PM and open jobs are out
    assert kpi.mean_time_to_repair(JOBS) == kpi.Figure(7200.0, 14400.0, 2)


def test_sla_compliance() -> None:
    # decided: 1 on time, 2 on time, 3 overdue and unresolved; 4 is not yet due
    figure = kpi.sla_compliance(JOBS, NOW)
    assert (figure.numerator, figure.denominator) == (2.0, 3)
    assert figure.value == pytest.approx(66.6667, abs=1e-4)
    # a day earlier job 3 was not yet due either
    assert kpi.sla_compliance(JOBS, at(days=1)).value == 100.0


def test_good_order_now_and_earlier() -> None:
    # now only l1 has an open repair (job 4): 4 of 5 in good order, fire 1/1, lighting 0/1
    assert kpi.good_order(EQUIPMENT, JOBS, NOW) == kpi.Figure(80.0, 4.0, 5)
    assert kpi.good_order(EQUIPMENT, JOBS, NOW, kpi.FIRE_KINDS).value == 100.0
    assert kpi.good_order(EQUIPMENT, JOBS, NOW, kpi.LIGHTING_KINDS).value == 0.0
    # 30 min after T only p1 is out (job 1, fixed at T+1h): job 2's episode had not opened,
    # job 4 was not raised yet, and a cancelled job (5) never counts: it was not needed
    assert kpi.good_order(EQUIPMENT, JOBS, at(minutes=30)) == kpi.Figure(80.0, 4.0, 5)
    assert kpi.good_order(EQUIPMENT, JOBS, at(hours=1)).value == 100.0  # fixed at that instant
    assert kpi.good_order([], JOBS, NOW).value is None


def test_equipment_in_maintenance_is_counted_beside_good_order_not_as_bad() -> None:
    # l1 (its repair job 4 open) and p2 are in maintenance: of the other three none has a
    # repair open, so good order is 3/3; in maintenance 2 of 5; lighting has nothing to measure
    held = [replace(e, in_maintenance=e.id in ("l1", "p2")) for e in EQUIPMENT]
    assert kpi.good_order(held, JOBS, NOW) == kpi.Figure(100.0, 3.0, 3)
    assert kpi.good_order(held, JOBS, NOW, kpi.LIGHTING_KINDS).value is None
    assert kpi.in_maintenance(held) == kpi.Figure(40.0, 2.0, 5)
    assert kpi.in_maintenance(EQUIPMENT) == kpi.Figure(0.0, 0.0, 5)
    report = kpi.evaluate(
        JOBS, JOBS, held, building="b1", start=T, end=NOW, now=NOW, targets=Targets()
    )
    assert report.values()["equipment_good_pct"] == 100.0
    assert report.values()["maintenance_pct"] == 40.0
    assert report.indicators["maintenance_pct"].name == "Equipment in maintenance"


def test_pm_compliance() -> None:
    # PM 6 done 12 h after raising, due in 24 h; PM 7 not done and past due
    assert kpi.pm_compliance(JOBS, NOW) == kpi.Figure(50.0, 1.0, 2)
    # before their due time only the done one is decided
    assert kpi.pm_compliance(JOBS, at(hours=13)) == kpi.Figure(100.0, 1.0, 1)


def test_repeat_fault_rate() -> None:
    # faults fixed at least once: 1 and 2; job 2 came back
    assert kpi.repeat_fault_rate(JOBS) == kpi.Figure(50.0, 1.0, 2)


def test_follow_up_rate() -> None:
    # repairs resolved: 1 (followed up) and 2 (not)
    assert kpi.follow_up_rate(JOBS) == kpi.Figure(50.0, 1.0, 2)


def test_counts() -> None:
    c = kpi.counts(JOBS, NOW)
    assert (c.raised, c.open, c.acknowledged, c.closed, c.cancelled, c.reopened) == (
        7,
        2,
        1,
        3,
        1,
        1,
    )
    # overdue now: 3 (completion), 4 (never acknowledged), 7 (PM past due)
    assert c.overdue == 3


def test_nothing_to_measure_is_none_not_zero() -> None:
    empty = kpi.evaluate([], [], [], building=None, start=T, end=NOW, now=NOW, targets=Targets())
    assert all(i.figure.value is None for i in empty.indicators.values())
    assert all(i.met is None for i in empty.indicators.values())


def test_targets_are_met_or_missed() -> None:
    report = kpi.evaluate(
        JOBS, JOBS, EQUIPMENT, building="b1", start=T, end=NOW, now=NOW, targets=Targets()
    )
    met = {k: i.met for k, i in report.indicators.items()}
    assert met == {
        "mtta_s": None,
        "mttr_s": None,
        "sla_compliance_pct": False,  # 66.7 < 99
        "equipment_good_pct": False,  # 80 < 100
        "fire_good_pct": True,
        "lighting_good_pct": False,
        "maintenance_pct": None,  # no target: shown beside the good-order figures
        "pm_compliance_pct": False,
        "repeat_fault_pct": False,  # 50 > 0
        "follow_up_pct": True,  # 50 >= 30
        "dispatched_pct": None,  # no target; nobody was told of these by message
        "ack_in_dispatch_pct": None,
        "complaint_pct": None,  # no service desk facts given
        "satisfaction": None,
    }


def test_told_and_acknowledged_within_the_dispatch_time() -> None:
    told = {  # job → when its first message was delivered (None: not yet)
        1: at(minutes=1),  # in time; acknowledged at 2 min: in time
        2: at(minutes=4),  # late; this episode acknowledged 6 min after reopening: late
        3: None,  # never delivered, three days on: late; acknowledged after 30 min: late
        5: at(seconds=10),  # cancelled: counts nowhere
        6: at(seconds=30),  # in time; acknowledged after an hour: late
    }
    jobs = [replace(j, told=j.id in told, first_sent_at=told.get(j.id)) for j in JOBS]
    # raised a minute ago, nothing delivered or acknowledged yet: not known, in no rate
    jobs.append(Job(8, K.FAULT, P.URGENT, S.OPEN, NOW - timedelta(minutes=1),
                    NOW - timedelta(minutes=1), told=True))  # fmt: skip
    sent = kpi.dispatched_in_time(jobs, NOW, 180.0)
    assert (sent.numerator, sent.denominator, sent.value) == (2.0, 4, 50.0)
    acked = kpi.acknowledged_in_time(jobs, NOW, 180.0)
    assert (acked.numerator, acked.denominator, acked.value) == (1.0, 4, 25.0)
    # a dispatch time of 6 min lets job 2's first message and its acknowledgement count
    assert kpi.dispatched_in_time(jobs, NOW, 360.0).value == 75.0
    assert kpi.acknowledged_in_time(jobs, NOW, 360.0).value == 50.0
    # once job 8's three minutes have passed it counts as late on both
    later = NOW + timedelta(minutes=3)
    assert kpi.dispatched_in_time(jobs, later, 180.0).denominator == 5
    assert kpi.acknowledged_in_time(jobs, later, 180.0).value == 20.0


def test_month_bounds() -> None:
    assert kpi.month_bounds("2026-11") == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert kpi.month_bounds("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    for bad in ("2026", "2026-13", "nov"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            kpi.month_bounds(bad)


async def test_the_kpi_api_on_a_month_of_work_orders(tmp_path: Path) -> None:
    clock = Clock()  # 2026-03-01 08:00 UTC
    async with serve(settings_for(tmp_path), clock) as api:
        api.user("tech1", Role.TECHNICIAN)
        api.user("super1", Role.SUPERVISOR)
        # job 1: pump fault acknowledged after 60 s, fixed after 600 s (due in 24 h)
        api.fault("p1", "pump.dry_run")
        clock.advance(60)
        await api.post("/api/work-orders/1/acknowledge")
        clock.advance(540)
        api.fault("p1", "pump.dry_run", clear=True)
        r = await api.post("/api/work-orders/1/resolve", json={"note": "primed"})
        assert r.status_code == 200, r.text
        # job 2: fire alarm at +600 s, acknowledged after 240 s, still open (due in 4 h)
        api.fault("f1", "fire_panel.fire_alarm")
        clock.advance(240)
        await api.post("/api/work-orders/2/acknowledge")
        # a follow-up visit on job 1
        r = await api.post(
            "/api/work-orders/1/follow-up", who="super1", json={"note": "pressure fine"}
        )
        assert r.status_code == 200, r.text
        clock.advance(5 * 3600)  # job 2 is now past its 4 h promise

        r = await api.get(
            "/api/kpis", params={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        ind = body["indicators"]
        assert ind["mtta_s"]["value"] == 150.0  # (60 + 240) / 2
        assert ind["mttr_s"]["value"] == 600.0
        assert ind["sla_compliance_pct"] | {"name": None} == {
            "name": None,
            "value": 50.0,  # job 1 on time, job 2 late
            "unit": "%",
            "target": 99.0,
            "met": False,
            "numerator": 1.0,
            "denominator": 2,
        }
        assert ind["equipment_good_pct"]["value"] == 75.0  # f1 of p1, p2, e1, f1
        assert ind["fire_good_pct"]["value"] == 0.0
        assert ind["lighting_good_pct"]["value"] is None  # no lighting in this inventory
        assert ind["follow_up_pct"]["value"] == 100.0
        assert ind["repeat_fault_pct"]["value"] == 0.0
        assert body["counts"]["raised"] == 2 and body["counts"]["overdue"] == 1
        # one building, and the default period (the last 30 days) sees the same jobs
        b2 = (await api.get("/api/kpis", params={"building": "b2"})).json()
        assert b2["counts"]["raised"] == 1 and b2["indicators"]["fire_good_pct"]["value"] == 0.0
        # a month with nothing in it
        empty = await api.get(
            "/api/kpis", params={"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
        )
        assert empty.json()["indicators"]["mtta_s"]["value"] is None
        for bad in (
            {"building": "nowhere"},
            {"from": "2026-03-01T00:00:00"},
            {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        ):
            error(await api.get("/api/kpis", params=bad), 422, "invalid_request")
