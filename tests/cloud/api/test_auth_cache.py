"""Verified tokens are remembered briefly: changes in this process take effect at once, an
expiry on the next request, a revocation by another process within `TOKEN_CACHE_S`."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cloud import deps
from cloud.enums import Role
from cloud.users.service import add_user, get_user, issue_token, revoke_tokens
from tests.cloud.harness import Api, serve, settings_for

# short enough to wait for, long enough that a loaded machine's request, or another
# process's commit (an fsync), cannot outlast it between two requests of a test
SHORT_TTL_S = 2.0


@pytest.fixture
def short_ttl() -> Iterator[None]:
    """A short cache life, so that the bound can be waited for; the real one restored."""
    ttl = deps.tokens.ttl_s
    deps.tokens.ttl_s = SHORT_TTL_S
    deps.tokens.clear()
    try:
        yield
    finally:
        deps.tokens.ttl_s = ttl
        deps.tokens.clear()


@pytest.fixture
async def api(tmp_path: Path, short_ttl: None) -> AsyncIterator[Api]:
    async with serve(
        settings_for(tmp_path), users={"tech1": Role.TECHNICIAN, "admin1": Role.ADMIN}
    ) as a:
        yield a


def database_file(api: Api) -> str:
    path = api.db.engine.url.database
    assert path
    return path


async def test_a_verified_token_is_remembered(api: Api) -> None:
    assert (await api.get("/api/me")).status_code == 200
    assert len(deps.tokens) == 1
    r = await api.get("/api/me")  # from the cache: the same answer
    assert r.status_code == 200
    assert r.json()["username"] == "tech1"
    assert len(deps.tokens) == 1


async def test_acting_with_a_remembered_user_records_them(api: Api) -> None:
    """The cached user is merged into each request's session: acknowledging assigns the job
    to them and the audit trail names them."""
    super_token = api.user("super1", Role.SUPERVISOR)
    for _ in range(2):  # the second request is served from the cache
        r = await api.post("/api/work-orders", json={"title": "Leak in B1", "building": "b1"})
        assert r.status_code == 201, r.text
    wo = r.json()["id"]
    r = await api.post(f"/api/work-orders/{wo}/acknowledge")
    assert r.status_code == 200, r.text
    assert r.json()["assignee"]["username"] == "tech1"
    trail = (await api.get(f"/api/work-orders/{wo}/audit")).json()
    assert [e["actor"] for e in trail][-1] == "tech1"
    r = await api.client.get("/api/work-orders", headers={"Authorization": f"Bearer {super_token}"})
    assert r.json()["total"] == 2


async def test_revoked_by_another_process_stops_within_the_bound(api: Api) -> None:
    # taken before the token is remembered, so that the entry's whole life lies after it
    started = time.monotonic()
    assert (await api.get("/api/me")).status_code == 200  # verified and remembered
    # Another process (a second API worker, the CLI) revokes it: this one sees no commit.
    revoked_at = api.clock().replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(database_file(api)) as other:
        other.execute("UPDATE api_tokens SET revoked_at = ?", (revoked_at,))
    assert (await api.get("/api/me")).status_code == 200  # still remembered
    deadline = started + SHORT_TTL_S + 5.0  # the slack is for this loop on a loaded machine
    while (r := await api.get("/api/me")).status_code == 200:
        assert time.monotonic() < deadline, "a revoked token was still accepted"
        await asyncio.sleep(0.02)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"
    assert time.monotonic() - started >= SHORT_TTL_S * 0.9  # it was the cache's life


async def test_revoked_in_this_process_stops_at_once(api: Api) -> None:
    assert (await api.get("/api/me")).status_code == 200
    assert (await api.post("/api/auth/logout")).status_code == 200
    assert (await api.get("/api/me")).status_code == 401

    api.user("tech2", Role.TECHNICIAN)
    assert (await api.get("/api/me", who="tech2")).status_code == 200
    with api.db.session() as session:  # e.g. the CLI's code in this process
        user = get_user(session, "tech2")
        assert user is not None
        assert revoke_tokens(session, user, now=api.clock()) == 1
    assert (await api.get("/api/me", who="tech2")).status_code == 401


async def test_deactivated_user_stops_at_once(api: Api) -> None:
    assert (await api.get("/api/me")).status_code == 200
    r = await api.client.delete("/api/users/tech1", headers=api.auth("admin1"))
    assert r.status_code == 204, r.text
    assert (await api.get("/api/me")).status_code == 401


async def test_an_expired_token_is_refused_although_remembered(api: Api) -> None:
    with api.db.session() as session:
        user = add_user(session, "temp", Role.TECHNICIAN, now=api.clock())
        token = issue_token(session, user, now=api.clock(), ttl=timedelta(minutes=5))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.get("/api/me", headers=headers)).status_code == 200
    api.clock.advance(300)
    r = await api.client.get("/api/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_unknown_tokens_are_not_remembered(api: Api) -> None:
    for n in range(3):
        headers = {"Authorization": f"Bearer prt_unknown{n}"}
        assert (await api.client.get("/api/me", headers=headers)).status_code == 401
    assert len(deps.tokens) == 0


def test_the_cache_is_bounded() -> None:
    cache = deps.TokenCache(ttl_s=60, size=3)
    user = deps.User(id=1, username="u", role=Role.TECHNICIAN, active=True)
    for n in range(5):
        cache.put(("db", f"hash{n}"), user, None, cache.generation)
    assert len(cache) == 3
    assert cache.get(("db", "hash0")) is None  # the oldest went first
    assert cache.get(("db", "hash4")) is not None


def test_an_entry_lapses_after_its_life() -> None:
    cache = deps.TokenCache(ttl_s=0.05, size=3)
    user = deps.User(id=1, username="u", role=Role.TECHNICIAN, active=True)
    cache.put(("db", "h"), user, None, cache.generation)
    assert cache.get(("db", "h")) is not None
    deadline = time.monotonic() + 2
    while cache.get(("db", "h")) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(cache) == 0


def test_a_lookup_begun_before_a_change_is_not_remembered() -> None:
    """A token looked up while another request revokes it is not remembered afterwards."""
    cache = deps.TokenCache(ttl_s=60, size=3)
    user = deps.User(id=1, username="u", role=Role.TECHNICIAN, active=True)
    began = cache.generation
    cache.clear()  # a commit that touched users or tokens, while the lookup ran
    cache.put(("db", "h"), user, None, began)
    assert cache.get(("db", "h")) is None
    cache.put(("db", "h"), user, None, cache.generation)
    assert cache.get(("db", "h")) is not None
