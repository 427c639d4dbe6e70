"""Follow-up calls, complaints and their indicators, on SQLite and PostgreSQL: closed
repairs sampled onto the call list by the hash of their number, calls recorded, complaints
registered and resolved, and the complaint rate, follow-up rate and satisfaction in
`/api/kpis` and the monthly report, computed by hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cloud.requests.followups import sampled
from tests.cloud.harness import Api, error
from tests.cloud.requests.desk import desk_app, report, tick, work_it

pytestmark = pytest.mark.integration  # PostgreSQL as well as SQLite


async def _closed_jobs(api: Api, codes: list[str], *, close: int) -> list[str]:
    """One report per code; the first `close` jobs worked and confirmed fixed."""
    numbers = []
    for code in codes:
        reference = (await report(api, code, category="other")).json()["reference"]
        rows = (await api.get("/api/requests", "desk1")).json()["items"]
        numbers.append(next(r["work_order"] for r in rows if r["reference"] == reference))
        if len(numbers) <= close:
            await work_it(api, numbers[-1])
            answer = await api.client.post(
                f"/api/public/requests/{reference}/answer", json={"fixed": True}
            )
            assert answer.status_code == 200, answer.text
    return numbers


async def test_closed_repairs_are_sampled_by_their_number(
    database_url: str, tmp_path: Path
) -> None:
    async with desk_app(tmp_path, database_url) as api:
        numbers = await _closed_jobs(api, ["l1", "p1", "e1", "b1", "b2"], close=5)
        tick(api)
        listed = (await api.get("/api/follow-ups?pending=false", "desk1")).json()
        expected = sorted(n for n in numbers if sampled(n, 30))
        assert 0 < len(expected) < len(numbers)  # WO-000002 and WO-000004 of five
        assert sorted(f["work_order"] for f in listed["items"]) == expected
        tick(api)  # decided once: nothing new
        assert (await api.get("/api/follow-ups?pending=false", "desk1")).json() == listed
        error(await api.get("/api/follow-ups", "tech1"), 403, "forbidden")


async def test_calls_complaints_and_their_indicators(database_url: str, tmp_path: Path) -> None:
    async with desk_app(tmp_path, database_url, request_follow_up_pct=100) as api:
        start = api.clock().isoformat()
        numbers = await _closed_jobs(api, ["l1", "p1", "e1", "b1"], close=3)
        tick(api)
        calls = (await api.get("/api/follow-ups", "desk1")).json()["items"]
        assert [c["work_order"] for c in calls] == numbers[:3]
        first, second, third = (c["id"] for c in calls)

        async def record(follow_up: int, who: str = "desk1", **body: Any) -> dict[str, Any]:
            response = await api.post(f"/api/follow-ups/{follow_up}", who, json=body)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            return found

        await record(first, reached=True, satisfaction=5, comment="quick and tidy")
        await record(second, "super1", reached=True, satisfaction=2, comment="came twice")
        missed = await record(third, reached=False)
        assert (missed["attempts"], missed["reached"]) == (1, False)
        again = await api.post(f"/api/follow-ups/{first}", "desk1", json={"reached": False})
        error(again, 409, "already_recorded")
        no_score = await api.post(f"/api/follow-ups/{third}", "desk1", json={"reached": True})
        assert error(no_score, 422, "invalid_request").startswith("satisfaction:")
        pending = (await api.get("/api/follow-ups", "desk1")).json()["items"]
        assert [c["id"] for c in pending] == [third]

        async def complain(**body: Any) -> dict[str, Any]:
            response = await api.post("/api/complaints", "desk1", json=body)
            assert response.status_code == 201, response.text
            found: dict[str, Any] = response.json()
            return found

        upheld = await complain(
            summary="nobody came for two days", owner="super1", work_order=numbers[3]
        )
        assert upheld["building"] == "b1"
        unfounded = await complain(summary="noise", owner="desk1", building="b2")
        await complain(summary="still waiting", owner="super1", complainant="Wang Fang")
        for complaint, valid in ((upheld, True), (unfounded, False)):
            resolved = await api.post(
                f"/api/complaints/{complaint['id']}/resolve",
                "super1",
                json={"resolution": "called back and explained", "valid": valid},
            )
            assert resolved.status_code == 200, resolved.text
        twice = await api.post(
            f"/api/complaints/{upheld['id']}/resolve",
            "super1",
            json={"resolution": "again", "valid": True},
        )
        error(twice, 409, "already_resolved")
        bad_owner = await api.post(
            "/api/complaints", "desk1", json={"summary": "x", "owner": "tech1"}
        )
        assert error(bad_owner, 422, "invalid_request").startswith("owner:")
        error(
            await api.post("/api/complaints", "tech1", json={"summary": "x", "owner": "super1"}),
            403,
            "forbidden",
        )
        still_open = (await api.get("/api/complaints?open=true", "super1")).json()
        assert still_open["total"] == 1

        api.clock.advance(minutes=1)
        end = api.clock().isoformat()
        kpis = (await api.get("/api/kpis", "eng1", params={"from": start, "to": end})).json()
        figures = kpis["indicators"]
        # 4 repairs raised; 1 upheld complaint (1 unfounded, 1 open do not count): 25 %
        assert figures["complaint_pct"]["value"] == 25.0
        assert (figures["complaint_pct"]["target"], figures["complaint_pct"]["met"]) == (2, False)
        # 3 repairs resolved, 2 followed up (the third was not reached): 66.667 %
        assert figures["follow_up_pct"]["value"] == 66.667
        # scores 5 and 2: 3.5 of 5
        assert figures["satisfaction"] == {
            "name": "Reporters' satisfaction (1 to 5)",
            "value": 3.5,
            "unit": "score",
            "target": None,
            "met": None,
            "numerator": 7.0,
            "denominator": 2,
        }
        month = api.clock().strftime("%Y-%m")
        page = (await api.get(f"/api/reports/monthly?month={month}", "eng1")).text
        rows = dict(re.findall(r'data-kpi="(\w+)" data-value="([0-9.]*)"', page))
        assert rows["complaint_pct"] == "25.000"
        assert rows["follow_up_pct"] == "66.667"
        assert rows["satisfaction"] == "3.500"
        assert "3.50 of 5" in page
        desk = re.search(r'<table id="desk">.*?</tr><tr>(.*?)</tr>', page, re.S)
        assert desk is not None
        # 4 reports, no calls, none joined; 3 confirmed; 3 complaints, 1 upheld, 1 open;
        # 2 follow-ups reached, 1 not
        assert re.findall(r"<td>(\d+)</td>", desk.group(1)) == [
            "4", "0", "0", "3", "0", "0", "3", "1", "1", "2", "1",
        ]  # fmt: skip
