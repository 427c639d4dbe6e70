"""System alarms on SQLite and PostgreSQL: one active alarm per code and subject (the
database refuses a second), raised again it is updated, cleared and raised again it is a new
one; the API lists them for everyone and lets a supervisor acknowledge them; the health
names the active ones; the edge clock alarm is raised and cleared from the skew's changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from cloud.alarms.edge_clock import EDGE_CLOCK_WRONG, EdgeClockAlarms
from cloud.alarms.model import SystemAlarm
from cloud.alarms.system import (
    active_system_alarm,
    clear_system_alarm,
    raise_system_alarm,
    search_system_alarms,
)
from cloud.clockskew import AgentClock
from cloud.db import Database
from cloud.enums import AlarmState, Role, Severity
from tests.cloud.harness import Clock, error, serve, settings_for

pytestmark = pytest.mark.integration

STAFF = {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR}


async def test_one_active_alarm_per_code_and_subject(database_url: str, tmp_path: Path) -> None:
    clock = Clock()
    async with serve(settings_for(tmp_path, database_url=database_url), clock) as api:
        with api.db.session() as session:
            first = raise_system_alarm(
                session,
                "channel_failing",
                "channel:smtp",
                "3 sends failed",
                severity=Severity.MINOR,
                details={"failures": 3},
                now=clock(),
            )
        clock.advance(60)
        with api.db.session() as session:  # raised again while active: the same alarm
            again = raise_system_alarm(
                session,
                "channel_failing",
                "channel:smtp",
                "5 sends failed",
                severity=Severity.MAJOR,
                details={"failures": 5},
                now=clock(),
            )
            assert again.id == first.id
            assert (again.severity, again.message, again.details) == (
                Severity.MAJOR,
                "5 sends failed",
                {"failures": 5},
            )
            assert again.last_raised_at > again.raised_at
            # the database itself refuses a second active alarm for the pair
            with pytest.raises(IntegrityError), session.begin_nested():
                session.add(
                    SystemAlarm(
                        code="channel_failing",
                        subject="channel:smtp",
                        active_key="channel_failing|channel:smtp",
                        severity=Severity.MINOR,
                        state=AlarmState.ACTIVE,
                        message="twin",
                        details={},
                        raised_at=clock(),
                        last_raised_at=clock(),
                    )
                )
                session.flush()
            # another subject, or another code, is another alarm
            other = raise_system_alarm(
                session,
                "channel_failing",
                "channel:sms",
                "down",
                severity=Severity.MINOR,
                now=clock(),
            )
            assert other.id != first.id
        clock.advance(60)
        with api.db.session() as session:
            cleared = clear_system_alarm(
                session, "channel_failing", "channel:smtp", clock(), note="sent again"
            )
            assert cleared is not None and cleared.state is AlarmState.CLEARED
            assert cleared.cleared_at == clock() and cleared.active_key is None
            assert clear_system_alarm(session, "channel_failing", "channel:smtp", clock()) is None
            assert active_system_alarm(session, "channel_failing", "channel:smtp") is None
        with api.db.session() as session:  # after it cleared: a new episode
            back = raise_system_alarm(
                session,
                "channel_failing",
                "channel:smtp",
                "failing again",
                severity=Severity.MINOR,
                now=clock(),
            )
            assert back.id not in (first.id, other.id)
            old = session.get(SystemAlarm, first.id)
            assert old is not None
            assert [(e.action, e.actor) for e in old.events] == [
                ("raised", "system"),
                ("updated", "system"),
                ("cleared", "system"),
            ]
            items, total = search_system_alarms(session, limit=10, offset=0)
            assert total == 3
            # active first, newest raised first
            assert [a.id for a in items] == [back.id, other.id, first.id]


def test_bad_codes_subjects_and_details_are_refused_by_name(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/db/cloud.sqlite")
    db.migrate()
    try:
        with db.session() as session:
            for code, subject, details, message in (
                ("Bad Code", "edge:b01", None, "system alarm code 'Bad Code'"),
                ("edge_clock_wrong", "", None, "system alarm subject ''"),
                ("edge_clock_wrong", "x" * 129, None, "1 to 128 characters"),
                ("edge_clock_wrong", "edge:b01", {"x": "y" * 9000}, "details over 8192"),
            ):
                with pytest.raises(ValueError, match=message):
                    raise_system_alarm(
                        session,
                        code,
                        subject,
                        "m",
                        severity=Severity.MINOR,
                        details=details,
                        now=Clock()(),
                    )
    finally:
        db.close()


async def test_the_api_lists_them_and_a_supervisor_acknowledges(
    database_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    settings = settings_for(tmp_path, database_url=database_url)
    async with serve(settings, clock, users=STAFF) as api:
        assert (await api.get("/api/health")).json()["counts"]["active_system_alarms"] == 0
        clocks = EdgeClockAlarms(api.db, clock=clock, max_skew_s=300)
        ahead = AgentClock("b01", -600.0, 12, 0, off=True)
        clocks.apply([ahead, AgentClock("b02", 400.0, 3, 0, off=True)])
        assert clocks.active_agents() == ["b01", "b02"]

        page = (await api.get("/api/system-alarms", params={"state": "active"})).json()
        assert page["total"] == 2
        alarm = next(a for a in page["items"] if a["subject"] == "edge:b01")
        assert alarm["code"] == EDGE_CLOCK_WRONG and alarm["severity"] == "major"
        assert alarm["message"].startswith("edge agent 'b01': clock 600 s ahead of the cloud's")
        assert alarm["details"] == {
            "agent": "b01",
            "skew_s": -600.0,
            "max_clock_skew_s": 300,
            "reports": 12,
        }
        assert alarm["acknowledged"] is False

        health = (await api.get("/api/health")).json()
        assert health["counts"]["active_system_alarms"] == 2
        assert any(
            line.startswith("edge_clock_wrong on edge:b01: edge agent 'b01'")
            for line in health["system_alarms"]
        )

        url = f"/api/system-alarms/{alarm['id']}/acknowledge"
        error(await api.post(url, who="tech1"), 403, "forbidden")
        acked = await api.post(url, who="super1", json={"note": "NTP server down, on it"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledged_by"] == "super1"
        assert acked.json()["state"] == "active"  # seen is not fixed
        error(await api.post(url, who="super1"), 409, "already_acknowledged")
        error(await api.post("/api/system-alarms/999/acknowledge", who="super1"), 404, "not_found")

        clock.advance(120)
        clocks.apply([AgentClock("b01", 0.05, 30, 0, off=False)])
        assert clocks.active_agents() == ["b02"]
        detail = (await api.get(f"/api/system-alarms/{alarm['id']}")).json()
        assert detail["state"] == "cleared" and detail["details"]["skew_s"] == 0.05
        assert [(e["action"], e["actor"], e["note"]) for e in detail["events"]] == [
            ("raised", "system", alarm["message"]),
            ("acknowledged", "super1", "NTP server down, on it"),
            (
                "cleared",
                "system",
                "edge agent 'b01': clock 0 s behind the cloud's, back within the bound",
            ),
        ]
        cleared = (await api.get("/api/system-alarms", params={"state": "cleared"})).json()
        assert [a["id"] for a in cleared["items"]] == [alarm["id"]]
        error(await api.get("/api/system-alarms", params={"limit": 501}), 422, "invalid_request")
