"""The reporter kept informed, on SQLite and PostgreSQL: the job's changes become messages
in the reporter's language (the tracking page and the outbox read them), and the reporter's
"fixed?" closes the job as confirmed, reopens it, or — unanswered — closes it unconfirmed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.requests.updates import mark_delivered, pending_reporter_messages
from cloud.sla.escalator import Escalator
from tests.cloud.harness import Api, error
from tests.cloud.requests.desk import act, desk, desk_app, job, report, tick, track, work_it

pytestmark = pytest.mark.integration  # PostgreSQL as well as SQLite


async def _reported(api: Api, code: str = "l1", **form: str) -> tuple[str, str]:
    created = await report(api, code, **form)
    assert created.status_code == 201, created.text
    reference = created.json()["reference"]
    rows = (await api.get("/api/requests", "desk1")).json()["items"]
    number = next(r["work_order"] for r in rows if r["reference"] == reference)
    return reference, number


async def _answer(api: Api, reference: str, fixed: bool) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/public/requests/{reference}/answer", json={"fixed": fixed}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_reporter_hears_of_each_step_and_confirms_the_fix(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        reference, number = await _reported(api)
        early = await api.client.post(
            f"/api/public/requests/{reference}/answer", json={"fixed": True}
        )
        error(early, 409, "not_asked")
        await act(api, number, "acknowledge")
        await act(api, number, "start")
        until = (api.clock() + timedelta(days=4)).isoformat()
        postponed = await api.post(
            f"/api/work-orders/{number}/postpone",
            "tech1",
            json={"until": until, "note": "waiting for a driver"},
        )
        assert postponed.status_code == 200, postponed.text
        tick(api)
        tracked = await track(api, reference)
        assert tracked["stage"] == "in_progress"
        assert tracked["postpone_reason"] == "waiting for a driver"
        assert tracked["postponed_to"] is not None
        assert [u["kind"] for u in tracked["updates"]] == [
            "received",
            "assigned",
            "started",
            "postponed",
        ]
        assert "waiting for a driver" in tracked["updates"][-1]["text"]
        await act(api, number, "resolve", note="replaced the driver")
        tick(api)
        tracked = await track(api, reference)
        assert tracked["stage"] == "resolved"
        assert tracked["asking"]
        answered = await _answer(api, reference, True)
        assert answered["stage"] == "closed"
        assert answered["confirmation"] == "confirmed"
        assert [u["kind"] for u in answered["updates"]][-2:] == ["resolved", "confirmed"]
        wo = await job(api, number)
        assert wo["status"] == "closed"
        assert wo["events"][-1]["note"] == "the reporter confirmed the fix"
        again = await api.client.post(
            f"/api/public/requests/{reference}/answer", json={"fixed": False}
        )
        error(again, 409, "already_answered")
        stats = (await api.get("/api/desk/stats", "desk1")).json()
        assert stats["confirmed"] == 1


async def test_not_fixed_reopens_the_job_for_every_reporter(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        first, number = await _reported(api)
        second, same = await _reported(api, what="still flickering")
        assert same == number
        await work_it(api, number)
        answered = await _answer(api, first, False)
        assert answered["stage"] == "assigned"  # open again; its owner keeps it
        assert answered["confirmation"] == "not_fixed"
        wo = await job(api, number)
        assert wo["status"] == "open"
        assert wo["reopens"] == 1
        other = await track(api, second)
        assert [u["kind"] for u in other["updates"]][-2:] == ["resolved", "reopened"]
        assert not other["asking"]
        await work_it(api, number)
        assert (await _answer(api, first, True))["confirmation"] == "confirmed"
        assert (await track(api, second))["stage"] == "closed"


async def test_an_unanswered_fixed_closes_the_job_unconfirmed(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url, request_confirm_timeout_h=48) as api:
        reference, number = await _reported(api)
        await work_it(api, number)
        tick(api)
        api.clock.advance(hours=47)
        tick(api)
        assert (await job(api, number))["status"] == "resolved"
        api.clock.advance(hours=1)
        tick(api)
        wo = await job(api, number)
        assert wo["status"] == "closed"
        assert wo["events"][-1]["note"].startswith("closed unconfirmed")
        tracked = await track(api, reference)
        assert tracked["confirmation"] == "unconfirmed"
        assert tracked["updates"][-1]["kind"] == "closed_unconfirmed"
        stats = (await api.get("/api/desk/stats", "desk1")).json()
        assert (stats["confirmed"], stats["unconfirmed"]) == (0, 1)
        late = await api.client.post(
            f"/api/public/requests/{reference}/answer", json={"fixed": True}
        )
        error(late, 409, "already_answered")


async def test_the_outbox_takes_the_reporters_messages_once(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        reference, number = await _reported(api, lang="zh-CN")
        await _reported(api, "b2", name="Anon", phone="", email="anon@example.com")
        await act(api, number, "acknowledge")
        tick(api)
        config = desk(api).config
        with api.db.session() as session:
            pending = pending_reporter_messages(session, config)
        mine = [m for m in pending if m.reference == reference]
        assert [m.kind for m in mine] == ["received", "assigned"]
        assert mine[0].lang == "zh-CN"
        assert "我们已收到您的报修" in mine[0].text
        assert mine[0].phone == "+86 138 0013 8000"
        assert mine[0].link.endswith(f"/track/{reference}")
        assert any(m.email == "anon@example.com" for m in pending)
        with api.db.session() as session:
            assert mark_delivered(session, [m.update_id for m in pending], at=api.clock()) == 3
        with api.db.session() as session:
            assert pending_reporter_messages(session, config) == []


async def test_a_fault_that_comes_back_after_closing_tells_its_reporters(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        api.fault("e1", "elevator.passenger_trapped")
        reference, number = await _reported(api, "e1", what="the lift is stuck")
        api.fault("e1", "elevator.passenger_trapped", clear=True)
        await work_it(api, number)
        api.clock.advance(seconds=api.state.sla.verification + 1)
        Escalator(api.db, api.state.sla, clock=api.clock).tick()  # verified: closed
        tick(api)
        assert (await track(api, reference))["stage"] == "closed"
        api.clock.advance(hours=1)
        api.fault("e1", "elevator.passenger_trapped")  # back within `reopen_within`
        assert (await job(api, number))["status"] == "open"
        tick(api)
        tracked = await track(api, reference)
        assert [u["kind"] for u in tracked["updates"]][-2:] == ["closed", "reopened"]
        assert tracked["stage"] == "assigned"
