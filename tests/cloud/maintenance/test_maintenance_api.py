"""Maintenance windows through the API on a SQLite database: who may set them and what is
refused; an alarm raised in one is held (shelved, no work order) and goes the normal way at
the window's end, exactly once; one cleared meanwhile raises nothing; a PM job in progress
puts its equipment in maintenance; the good-order KPI counts equipment in maintenance apart;
and a restart loses nothing.

The fault path is driven as the monitor drives it (`faults.apply` with the service's board);
the real broker and mail server are in test_maintenance_end_to_end.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from cloud.enums import Role
from cloud.notify.influx import maintenance_lines
from tests.cloud.harness import STAFF, Api, Clock, error, serve, settings_for
from tests.cloud.maintenance.harness import REASON, fault, runner, start


async def jobs(api: Api, equipment_id: str) -> list[dict[str, Any]]:
    page = (await api.get(f"/api/work-orders?equipment_id={equipment_id}&limit=50")).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def alarms(api: Api, equipment_id: str) -> list[dict[str, Any]]:
    page = (await api.get(f"/api/alarms?equipment_id={equipment_id}")).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_a_supervisor_sets_a_window_lists_it_and_ends_it_early(api: Api) -> None:
    w = await start(api, minutes=60)
    assert (w["equipment_id"], w["building"], w["reason"], w["created_by"]) == (
        "p1",
        None,
        REASON,
        "super1",
    )
    assert w["starts_at"] == "2026-03-01T08:00:00Z" and w["ends_at"] == "2026-03-01T09:00:00Z"
    assert w["until"] == w["ends_at"] and w["ended_at"] is None
    assert [e["action"] for e in w["events"]] == ["created"]

    listed = (await api.get("/api/maintenance?current=true")).json()
    assert [x["id"] for x in listed] == [w["id"]]
    assert [x["id"] for x in (await api.get("/api/maintenance?building=b1")).json()] == [w["id"]]
    assert (await api.get("/api/maintenance?equipment_id=p2")).json() == []
    assert (await api.get("/api/maintenance?current=false")).json() == []

    api.clock.advance(minutes=15)
    r = await api.post(f"/api/maintenance/{w['id']}/end", who="super1", json={"note": "seal done"})
    assert r.status_code == 200, r.text
    ended = r.json()
    assert ended["ended_at"] == "2026-03-01T08:15:00Z" and ended["ended_by"] == "super1"
    assert ended["until"] == ended["ended_at"]
    assert [(e["action"], e["actor"], e["note"]) for e in ended["events"]] == [
        ("created", "super1", REASON),
        ("ended_early", "super1", "seal done"),
    ]
    assert (await api.get("/api/maintenance?current=true")).json() == []
    error(await api.post(f"/api/maintenance/{w['id']}/end", who="super1"), 409, "already_ended")
    error(await api.get("/api/maintenance/999"), 404, "not_found")


async def test_who_may_set_a_window_and_what_is_refused(api: Api) -> None:
    api.user("desk1", Role.DISPATCHER)
    body = {"equipment_id": "p1", "minutes": 60, "reason": REASON}
    message = error(await api.post("/api/maintenance", json=body), 403, "forbidden")
    assert "technician role may not" in message
    error(await api.post("/api/maintenance", who="eng1", json=body), 403, "forbidden")
    r = await api.post("/api/maintenance", who="desk1", json={**body, "building": None})
    assert r.status_code == 201, r.text
    error(await api.post(f"/api/maintenance/{r.json()['id']}/end"), 403, "forbidden")

    def refused(extra: dict[str, Any], status: int = 422) -> Any:
        return api.post("/api/maintenance", who="super1", json={**body, **extra})

    assert "exactly one" in error(await refused({"building": "b1"}), 422, "invalid_request")
    message = error(await refused({"equipment_id": None}), 422, "invalid_request")
    assert "equipment_id or building" in message
    assert "ends_at or minutes" in error(
        await refused({"ends_at": "2026-03-01T10:00:00Z"}), 422, "invalid_request"
    )
    assert "'p9' is not in the registry" in error(
        await refused({"equipment_id": "p9"}), 422, "invalid_request"
    )
    assert "'b9' has no equipment" in error(
        await refused({"equipment_id": None, "building": "b9"}), 422, "invalid_request"
    )
    assert "is in the past" in error(
        await refused({"starts_at": "2026-03-01T07:50:00Z"}), 422, "invalid_request"
    )
    assert "at most 30 days" in error(
        await refused({"minutes": 31 * 24 * 60}), 422, "invalid_request"
    )
    error(await refused({"minutes": 4}), 422, "invalid_request")
    error(await refused({"reason": "  x "}), 422, "invalid_request")
    error(await refused({"reason": "x" * 501}), 422, "invalid_request")
    # a start a few minutes ago (a phone's clock) is taken as now
    r = await refused({"starts_at": "2026-03-01T07:58:00Z", "equipment_id": "p2"})
    assert r.status_code == 201 and r.json()["starts_at"] == "2026-03-01T08:00:00Z"


async def test_an_alarm_in_maintenance_is_held_then_raises_one_job_at_the_end(api: Api) -> None:
    w = await start(api, minutes=10)
    fault(api, "p1", "pump.dry_run")
    fault(api, "p2", "pump.dry_run")  # not in maintenance: the normal way at once
    [held] = await alarms(api, "p1")
    assert held["state"] == "active"
    assert held["shelved_until"] == "2026-03-01T08:10:00Z"
    assert held["shelved_reason"] == f"in maintenance: {REASON}" and held["shelved_by"] == "super1"
    assert await jobs(api, "p1") == []
    assert len(await jobs(api, "p2")) == 1
    # shelved: lists asked for the others leave it out
    page = (await api.get("/api/alarms?state=active&shelved=false")).json()
    assert [a["equipment_id"] for a in page["items"]] == ["p2"]

    assert await runner(api).run_once() is None  # nothing over yet
    api.clock.advance(minutes=10)
    done = await runner(api).run_once()
    assert done is not None and (done.windows, done.released, done.raised) == ([w["id"]], 1, 1)
    [job] = await jobs(api, "p1")
    assert job["kind"] == "fault" and job["status"] == "open" and job["alarm_id"] == held["id"]
    [released] = await alarms(api, "p1")
    assert released["shelved_until"] is None
    trail = (await api.get(f"/api/maintenance/{w['id']}")).json()
    assert trail["settled_at"] == "2026-03-01T08:10:00Z"
    assert [e["action"] for e in trail["events"]] == [
        "created",
        "alarm_held",
        "alarm_released",
        "settled",
    ]
    assert trail["events"][2]["details"]["work_order"] == job["number"]
    # exactly once: later passes, and the fault firing again, raise nothing new
    api.clock.advance(minutes=1)
    assert await runner(api).run_once() is None
    fault(api, "p1", "pump.dry_run")
    assert [j["number"] for j in await jobs(api, "p1")] == [job["number"]]


async def test_a_fault_cleared_during_the_window_raises_nothing(api: Api) -> None:
    w = await start(api, minutes=10)
    fault(api, "p1", "pump.dry_run")
    api.clock.advance(minutes=3)
    fault(api, "p1", "pump.dry_run", clear=True)
    api.clock.advance(minutes=7)
    done = await runner(api).run_once()
    assert done is not None and (done.windows, done.released, done.raised) == ([w["id"]], 0, 0)
    assert await jobs(api, "p1") == []
    [alarm] = await alarms(api, "p1")
    assert alarm["state"] == "cleared"
    trail = (await api.get(f"/api/maintenance/{w['id']}")).json()
    assert [e["action"] for e in trail["events"]] == ["created", "alarm_held", "settled"]


async def test_an_open_job_is_left_alone_and_a_building_window_outlasts_the_pumps(api: Api) -> None:
    fault(api, "p2", "pump.dry_run")  # before any window: its job is open
    [before] = await jobs(api, "p2")
    pump = await start(api, "p1", minutes=10)
    building = (
        await api.post(
            "/api/maintenance",
            who="super1",
            json={"building": "b1", "minutes": 30, "reason": "Riser valves replaced"},
        )
    ).json()
    fault(api, "p2", "pump.dry_run")  # re-fires on the open job: nothing added to its trail
    [after] = await jobs(api, "p2")
    assert after["updated_at"] == before["updated_at"]
    # held by the window running longest: the building's
    fault(api, "p1", "pump.dry_run")
    [alarm] = await alarms(api, "p1")
    assert alarm["shelved_until"] == "2026-03-01T08:30:00Z"
    api.clock.advance(minutes=10)
    done = await runner(api).run_once()
    assert done is not None and done.windows == [pump["id"]] and done.raised == 0
    assert await jobs(api, "p1") == []
    api.clock.advance(minutes=20)
    done = await runner(api).run_once()
    assert done is not None and done.windows == [building["id"]] and done.raised == 1
    assert len(await jobs(api, "p1")) == 1


async def test_a_pm_job_in_progress_puts_its_pump_in_maintenance(api: Api) -> None:
    with api.db.session() as session:
        wo = api.pm_job(session, "p1", "Pump monthly check")
        wo.pm_plan_id = "pump.monthly_check"
        number = wo.number
    assert "pump.monthly_check" in runner(api).pm_plans
    await api.post(f"/api/work-orders/{number}/acknowledge")
    await runner(api).run_once()
    assert (await api.get("/api/maintenance?current=true")).json() == []  # not yet in progress
    await api.post(f"/api/work-orders/{number}/start")
    await runner(api).run_once()
    [w] = (await api.get("/api/maintenance?current=true")).json()
    assert (w["equipment_id"], w["created_by"], w["work_order_id"]) == ("p1", "system", 1)
    assert w["reason"] == f"{number} in progress: Pump monthly check"
    assert w["ends_at"] == "2026-03-01T20:00:00Z"  # PLANTROOM_MAINTENANCE_PM_HOURS, 12 h
    fault(api, "p1", "pump.dry_run")
    assert [j["kind"] for j in await jobs(api, "p1")] == ["pm"]
    api.clock.advance(minutes=20)
    r = await api.post(f"/api/work-orders/{number}/hold", json={"note": "waiting for a seal"})
    assert r.status_code == 200, r.text
    done = await runner(api).run_once()  # the hold ends the window; its end is applied
    assert done is not None and done.raised == 1
    assert sorted(j["kind"] for j in await jobs(api, "p1")) == ["fault", "pm"]
    trail = (await api.get(f"/api/maintenance/{w['id']}")).json()
    assert trail["ended_at"] == "2026-03-01T08:20:00Z" and trail["ended_by"] == "system"
    assert trail["events"][-3]["note"] == f"PM job {number} is on hold"
    # resumed: a new window
    await api.post(f"/api/work-orders/{number}/resume")
    await runner(api).run_once()
    [again] = (await api.get("/api/maintenance?current=true")).json()
    assert again["id"] != w["id"] and again["work_order_id"] == 1


async def test_the_good_order_kpi_counts_equipment_in_maintenance_apart(api: Api) -> None:
    fault(api, "p2", "pump.dry_run")
    await start(api, "e1", minutes=60)
    ind = (await api.get("/api/kpis")).json()["indicators"]
    # p1 and f1 good, p2 with a job open, e1 in maintenance: 2 of 3, and 1 of 4 in maintenance
    good = ind["equipment_good_pct"]
    assert (good["numerator"], good["denominator"], good["value"]) == (2, 3, 66.667)
    assert (ind["maintenance_pct"]["numerator"], ind["maintenance_pct"]["denominator"]) == (1, 4)
    assert ind["maintenance_pct"]["name"] == "Equipment in maintenance"


async def test_a_window_and_its_held_alarm_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    settings = settings_for(tmp_path)
    async with serve(settings, clock, users=STAFF) as api:
        w = await start(api, minutes=10)
        fault(api, "p1", "pump.dry_run")
    clock.advance(minutes=10)
    async with serve(settings, clock, users=STAFF) as api:
        assert [x.id for x in runner(api).board.windows()] == [w["id"]]  # loaded at start
        done = await runner(api).run_once()
        assert done is not None and done.raised == 1
        assert len(await jobs(api, "p1")) == 1


async def test_windows_are_written_for_grafana_as_regions_per_piece_of_equipment(api: Api) -> None:
    pump = await start(api, "p1", minutes=60)
    r = await api.post(
        "/api/maintenance",
        who="super1",
        json={"building": "b2", "minutes": 30, "reason": "Power shutdown"},
    )
    assert r.status_code == 201, r.text
    start_ms = int(api.clock().timestamp() * 1000)

    def lines() -> list[str]:
        with api.db.session() as session:
            return maintenance_lines(session, site="s1", since=api.clock() - timedelta(days=1))

    written = sorted(lines())
    assert len(written) == 3  # the pump, and the lift and fire panel of building b2
    assert written[0].startswith("events,building=b1,equipment=p1,site=s1,type=maintenance ")
    assert f"time_end_ms={start_ms + 3_600_000}i" in written[0]
    assert 'text="In maintenance until 2026-03-01T09:00+00:00: Seal replacement' in written[0]
    assert written[0].endswith(f" {start_ms}")
    assert [w.split(",")[2] for w in written[1:]] == ["equipment=e1", "equipment=f1"]
    assert all(f"time_end_ms={start_ms + 1_800_000}i" in w for w in written[1:])
    # ended early: written again, same point, the shorter end
    api.clock.advance(minutes=10)
    await api.post(f"/api/maintenance/{pump['id']}/end", who="super1")
    (again,) = [w for w in lines() if "equipment=p1" in w]
    assert f"time_end_ms={start_ms + 600_000}i" in again and again.endswith(f" {start_ms}")


async def test_lost_communication_in_a_building_window_raises_no_job(api: Api) -> None:
    r = await api.post(
        "/api/maintenance",
        who="super1",
        json={"building": "b1", "minutes": 60, "reason": "Plant room power off"},
    )
    assert r.status_code == 201, r.text
    for pump in ("p1", "p2"):
        fault(api, pump, "pump.lost_communication")
        [alarm] = await alarms(api, pump)
        assert alarm["rule_id"] == "pump.lost_communication"
        assert alarm["shelved_reason"] == "in maintenance: Plant room power off"
        assert await jobs(api, pump) == []
    assert (await api.get("/api/incidents")).json() == []
    fault(api, "e1", "elevator.lost_communication")  # building b2 is not in maintenance
    assert len(await jobs(api, "e1")) == 1
