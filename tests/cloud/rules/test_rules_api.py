"""The rules, alarm and PM endpoints over httpx's ASGI transport, on a temp SQLite file,
without a broker: rule reloads (on request and when files change), alarm acknowledgement,
incidents, and the PM ticker started by the app with its injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.alarms import service as alarms
from cloud.enums import Role
from cloud.incidents.service import IncidentManager
from cloud.rules.loader import load_rule_set
from cloud.workorders.model import WorkOrder
from plantroom.settings import CloudSettings
from tests.cloud import harness
from tests.cloud.harness import Api, Clock, serve
from tests.harness import wait_for_async

GOOD_RULE = """rules:
  - id: pump.motor_hot
    kind: pump
    title: Pump motor hot
    condition: {point: motor_temperature, above: 90, clear_below: 80}
    for: 2m
    severity: major
    priority: urgent
"""

BAD_RULE = """rules:
  - id: pump.motor_hot
    kind: pump
    title: Pump motor hot
    condition: {point: motor_temperature, above: 90, clear_below: 95}
    severity: major
    priority: urgent
"""


USERS = {"tech1": Role.TECHNICIAN, "eng1": Role.ENGINEER}
HK_10AM = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def settings_for(tmp: Path) -> CloudSettings:
    (tmp / "rules").mkdir(exist_ok=True)
    return harness.settings_for(tmp, "pump-and-lift", rules_dir=tmp / "rules")


@asynccontextmanager
async def running(
    settings: CloudSettings, clock: Clock, *, watch: float | None = None
) -> AsyncIterator[Api]:
    async with serve(settings, clock, users=USERS, rules_watch_s=watch) as api:
        yield api


async def test_rules_are_listed_and_reloaded_by_engineers(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with running(settings, Clock(HK_10AM)) as api:
        listed = (await api.get("/api/rules")).json()
        ids = {r["id"]: r for r in listed["rules"]}
        assert ids["pump.dry_run"]["priority"] == "urgent"
        assert ids["pump.dry_run"]["source"].endswith("cloud/rules/pump.yaml:4")
        assert ids["pump.bearing_wear"]["when"] == {"point": "run_state", "equals": "running"}
        assert listed["outage"] == {"enabled": True, "min_devices": 4, "window_s": 300.0}

        denied = await api.post("/api/rules/reload")
        assert denied.status_code == 403

        (tmp_path / "rules" / "site.yaml").write_text(GOOD_RULE, encoding="utf-8")
        done = await api.post("/api/rules/reload", who="eng1")
        assert done.status_code == 200, done.text
        assert done.json()["added"] == ["pump.motor_hot"]
        assert "pump.motor_hot" in {r.id for r in api.state.rules}

        bad = tmp_path / "rules" / "site.yaml"
        bad.write_text(BAD_RULE, encoding="utf-8")
        refused = await api.post("/api/rules/reload", who="eng1")
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "invalid_rules"
        assert f"{bad}:5: rule 'pump.motor_hot': rules.0.condition" in error["message"]
        assert "clear_below (95.0) must not be more than above (90.0)" in error["message"]
        listed = (await api.get("/api/rules")).json()
        assert listed["last_error"] == error["message"]
        # nothing changed: the good version is still in force
        motor = next(r for r in listed["rules"] if r["id"] == "pump.motor_hot")
        assert motor["condition"]["clear_below"] == 80.0


async def test_changed_rule_files_are_picked_up_without_a_request(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with running(settings, Clock(HK_10AM), watch=0.05) as api:
        (tmp_path / "rules" / "site.yaml").write_text(GOOD_RULE, encoding="utf-8")

        async def loaded() -> bool:
            return any(r.id == "pump.motor_hot" for r in api.rules.current.rules)

        await wait_for_async(loaded, "the new rule file to be loaded", within=10.0, interval=0.02)
        assert api.rules.reloads == 1
        (tmp_path / "rules" / "site.yaml").write_text(BAD_RULE, encoding="utf-8")

        async def refused() -> bool:
            return api.rules.last_error is not None

        await wait_for_async(refused, "the broken file to be reported", within=10.0, interval=0.02)
        assert any(r.id == "pump.motor_hot" for r in api.rules.current.rules)


async def test_an_alarm_is_acknowledged_once_with_who_and_when(tmp_path: Path) -> None:
    clock = Clock(HK_10AM)
    async with running(settings_for(tmp_path), clock) as api:
        rule = load_rule_set().by_id()["pump.dry_run"]
        with api.state.database().session() as session:
            alarm = harness.raise_alarm(
                session, "p1", rule, now=clock(), sla=api.state.sla, values={"dry_run": True}
            )
            assert alarm.message == "Pump running dry"
            alarm_id = alarm.id
        clock.now += timedelta(minutes=2)
        ack = await api.post(f"/api/alarms/{alarm_id}/acknowledge", json={"note": "on my way"})
        assert ack.status_code == 200, ack.text
        body = ack.json()
        assert body["lifecycle"] == "active_acknowledged"
        assert body["acknowledged_by"] == "tech1"
        assert body["acknowledged_at"].startswith("2026-03-02T02:02:00")
        again = await api.post(f"/api/alarms/{alarm_id}/acknowledge", who="eng1")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_acknowledged"
        assert "tech1" in again.json()["error"]["message"]
        missing = await api.post("/api/alarms/999/acknowledge")
        assert missing.status_code == 404
        with api.state.database().session() as session:
            wo = session.scalar(select(WorkOrder).where(WorkOrder.alarm_id == alarm_id))
            assert wo is not None
            assert [e.action for e in wo.events][-1] == "alarm_acknowledged"
            # the fault clears, then comes back: a person must see it again
            harness.clear_alarm(session, "p1", "pump.dry_run", now=clock())
            assert alarms.lifecycle(alarms.get(session, alarm_id)) == "cleared_acknowledged"
            again_alarm = harness.raise_alarm(
                session, "p1", rule, now=clock(), sla=api.state.sla, values={"dry_run": True}
            )
            assert again_alarm.id == alarm_id and again_alarm.occurrences == 2
            assert alarms.lifecycle(again_alarm) == "active_unacknowledged"
            assert again_alarm.acknowledged_by_id is None


async def test_incidents_are_listed_with_their_work_orders(tmp_path: Path) -> None:
    clock = Clock(HK_10AM)
    async with running(settings_for(tmp_path), clock) as api:
        assert (await api.get("/api/incidents")).json() == []
        rule_set = load_rule_set()
        manager = IncidentManager(rule_set.outage, rule_set.rules, site="s1")
        with api.state.database().session() as session:
            manager.open(session, "b1", {"p1", "e1"}, now=clock(), sla=api.state.sla)
        (incident,) = (await api.get("/api/incidents?building=b1")).json()
        assert incident["state"] == "active" and incident["devices_lost"] == 2
        assert incident["work_orders"] == ["WO-000001", "WO-000002"]  # the lift check first


PM_PLAN = """plans:
  - id: elevator.test_patrol
    kind: elevator
    title: Test patrol
    every: 1d
    start: 2026-03-02
    checklist: [Ride the car]
"""


async def test_the_pm_ticker_raises_once_across_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pm").mkdir()
    (tmp_path / "pm" / "site.yaml").write_text(PM_PLAN, encoding="utf-8")
    monkeypatch.setenv("PLANTROOM_PM_DIR", str(tmp_path / "pm"))
    monkeypatch.setenv("PLANTROOM_PM_INTERVAL_S", "0.05")
    settings = settings_for(tmp_path)
    clock = Clock(HK_10AM)  # 2026-03-02 10:00 in Hong Kong: the patrol's first due date
    for _ in range(2):  # the second time round is a restart
        async with running(settings, clock) as api:

            async def evaluated() -> bool:
                return bool(api.app.state.pm_scheduler.runs >= 2)

            await wait_for_async(evaluated, "two PM evaluations", within=10.0, interval=0.02)
            with api.state.database().sessions() as session:
                patrols = session.scalars(
                    select(WorkOrder).where(WorkOrder.pm_plan_id == "elevator.test_patrol")
                ).all()
                assert [(w.equipment_id, str(w.pm_due_on)) for w in patrols] == [
                    ("e1", "2026-03-02")
                ]
            plans = (await api.get("/api/pm/plans")).json()
            assert "elevator.test_patrol" in {p["id"] for p in plans}
            assert "lighting.daily_check" in {p["id"] for p in plans}
            schedules = (await api.get("/api/pm/schedules")).json()
            patrol = next(s for s in schedules if s["plan_id"] == "elevator.test_patrol")
            assert patrol["next_due"] == "2026-03-02" and patrol["open_work_order_id"]
            assert (await api.post("/api/pm/run")).status_code == 403
            run = await api.post("/api/pm/run", who="eng1")
            assert run.status_code == 200 and run.json()["raised"] == []
