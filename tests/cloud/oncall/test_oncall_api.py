"""The on-call API: anyone signed in reads who is on call and the rotas; supervisors (and
admins) set rotas, overrides and swaps; bad input is refused by field. On SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.enums import Role
from cloud.users.service import add_team
from tests.cloud.harness import Api, add_members, error, serve, settings_for

pytestmark = pytest.mark.integration

URL = "/api/oncall/rotas/b1-plumbing"
ROTA: dict[str, Any] = {
    "rotation": "weekly",
    "handover": "09:00",
    "timezone": "Asia/Hong_Kong",
    "starts_on": "2026-02-23",  # a Monday: tech1's week, then tech2's (from 2 March 01:00 UTC)
    "members": ["tech1", "tech2"],
}
STAFF = {"tech1": Role.TECHNICIAN, "tech2": Role.TECHNICIAN, "super1": Role.SUPERVISOR}


async def put(api: Api, who: str, url: str, body: dict[str, Any]) -> httpx.Response:
    return await api.client.put(url, headers=api.auth(who), json=body)


async def who(api: Api, at: str) -> str | None:
    r = await api.get(f"/api/oncall?team=b1-plumbing&at={at}")
    assert r.status_code == 200, r.text
    primary = r.json()[0]["primary"]
    return primary["username"] if primary else None


async def test_technicians_read_and_supervisors_set_the_rota(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(settings_for(tmp_path, database_url=database_url), users=STAFF) as api:
        with api.db.session() as session:
            team = add_team(session, "b1-plumbing", "plumbing", now=api.clock(), building="b1")
            add_members(session, team, STAFF)
        error(await api.get(URL), 404, "not_found")  # no rota yet
        r = await api.get("/api/oncall?building=b1")
        assert r.json()[0]["has_rota"] is False and r.json()[0]["primary"] is None
        assert r.json()[0]["supervisor"]["username"] == "super1"
        error(await put(api, "tech1", URL, ROTA), 403, "forbidden")
        r = await put(api, "super1", URL, ROTA)
        assert r.status_code == 200, r.text
        rota = r.json()
        assert [m["username"] for m in rota["members"]] == ["tech1", "tech2"]
        assert rota["routine"] == "hours" and rota["work_days"] == [1, 2, 3, 4, 5]
        first = rota["shifts"][0]  # now: Sunday 1 March 08:00 UTC, 16:00 in Hong Kong
        assert (first["starts_at"], first["ends_at"]) == (
            "2026-02-23T01:00:00Z",
            "2026-03-02T01:00:00Z",
        )
        assert first["scheduled"]["username"] == "tech1"
        assert first["backup"]["username"] == "tech2"

        now = (await api.get("/api/oncall?team=b1-plumbing")).json()
        assert len(now) == 1 and now[0]["primary"]["username"] == "tech1"
        assert now[0]["within_hours"] is False  # Sunday
        assert await who(api, "2026-03-02T00:59:59Z") == "tech1"
        assert await who(api, "2026-03-02T01:00:00Z") == "tech2"

        # an override: supervisors only, and it comes first
        cover = {
            "user": "tech2",
            "starts_at": "2026-03-01T10:00:00Z",
            "ends_at": "2026-03-01T12:00Z",
        }
        error(await api.post(f"{URL}/overrides", who="tech1", json=cover), 403, "forbidden")
        r = await api.post(f"{URL}/overrides", who="super1", json=cover)
        assert r.status_code == 201, r.text
        override = r.json()
        assert override["kind"] == "override" and override["created_by"]["username"] == "super1"
        assert await who(api, "2026-03-01T11:00:00Z") == "tech2"
        assert await who(api, "2026-03-01T12:00:00Z") == "tech1"
        r = await api.get("/api/oncall?team=b1-plumbing&at=2026-03-01T11:00:00Z")
        assert r.json()[0]["cover"]["id"] == override["id"]
        assert r.json()[0]["backup"]["username"] == "tech1"  # the rotation's person backs up

        # a swap: tech1 takes tech2's next week and tech2 takes the rest of tech1's
        swap = {"first": "2026-03-01T13:00:00Z", "second": "2026-03-05T00:00:00Z"}
        r = await api.post(f"{URL}/swaps", who="super1", json=swap)
        assert r.status_code == 201, r.text
        halves = r.json()
        assert [h["user"]["username"] for h in halves] == ["tech2", "tech1"]
        assert halves[0]["starts_at"] == "2026-03-01T08:00:00Z"  # from now, not the past
        assert halves[0]["pair_id"] == halves[1]["id"]
        assert await who(api, "2026-03-01T13:00:00Z") == "tech2"
        assert await who(api, "2026-03-05T00:00:00Z") == "tech1"
        assert len((await api.get(URL)).json()["covers"]) == 3
        # removing one half removes the swap
        r = await api.client.delete(f"{URL}/covers/{halves[1]['id']}", headers=api.auth("super1"))
        assert r.status_code == 204
        assert [c["kind"] for c in (await api.get(URL)).json()["covers"]] == ["override"]
        assert await who(api, "2026-03-05T00:00:00Z") == "tech2"

        r = await api.client.delete(URL, headers=api.auth("super1"))
        assert r.status_code == 204
        error(await api.get(URL), 404, "not_found")


@pytest.fixture
async def api(tmp_path: Path) -> Any:
    async with serve(settings_for(tmp_path), users=STAFF) as a:
        with a.db.session() as session:
            add_team(session, "b1-plumbing", "plumbing", now=a.clock(), building="b1")
        r = await put(a, "super1", URL, ROTA)
        assert r.status_code == 200, r.text
        yield a


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"handover": "25:00"}, "handover"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"members": []}, "members"),
        ({"members": ["tech1", "tech1"]}, "members"),
        ({"members": [f"u{n}" for n in range(51)]}, "members"),
        ({"members": ["nobody"]}, "members: user 'nobody' does not exist"),
        ({"hours_start": "18:00", "hours_end": "08:00"}, "hours_end"),
        ({"work_days": [0]}, "work_days"),
        ({"rotation": "monthly"}, "rotation"),
    ],
)
async def test_a_bad_rota_is_refused_by_field(api: Api, change: dict[str, Any], field: str) -> None:
    message = error(await put(api, "super1", URL, {**ROTA, **change}), 422, "invalid_request")
    assert field in message


@pytest.mark.parametrize(
    ("cover", "message"),
    [
        ({"starts_at": "2026-03-02T00:00:00", "ends_at": "2026-03-03T00:00:00Z"}, "starts_at"),
        ({"starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-03-02T00:00:00Z"}, "after"),
        ({"starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-04-03T00:00:00Z"}, "31 days"),
        ({"starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-02-02T00:00:00Z"}, "over"),
        ({"starts_at": "2027-04-01T00:00:00Z", "ends_at": "2027-04-02T00:00:00Z"}, "366 days"),
    ],
)
async def test_a_bad_override_is_refused_by_field(
    api: Api, cover: dict[str, str], message: str
) -> None:
    r = await api.post(f"{URL}/overrides", who="super1", json={"user": "tech2", **cover})
    assert message in error(r, 422, "invalid_request")


async def test_a_swap_needs_two_shifts_and_two_people(api: Api) -> None:
    same = {"first": "2026-03-01T09:00:00Z", "second": "2026-03-01T10:00:00Z"}
    r = await api.post(f"{URL}/swaps", who="super1", json=same)
    assert "same shift" in error(r, 422, "invalid_request")
    # a week later it is tech1's turn again: nothing to exchange
    again = {"first": "2026-03-01T09:00:00Z", "second": "2026-03-10T00:00:00Z"}
    r = await api.post(f"{URL}/swaps", who="super1", json=again)
    assert "two different people" in error(r, 422, "invalid_request")


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1999-12-31T23:59:59Z"]
)
async def test_instants_out_of_this_century_are_refused(api: Api, at: str) -> None:
    r = await api.get("/api/oncall", params={"team": "b1-plumbing", "at": at})
    assert "at: " in error(r, 422, "invalid_request")
    swap = {"first": at, "second": "2026-03-05T00:00:00Z"}
    r = await api.post(f"{URL}/swaps", who="super1", json=swap)
    assert "first: " in error(r, 422, "invalid_request")
