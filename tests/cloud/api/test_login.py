"""Login: failed attempts are throttled per username and per address, and an unknown
username costs the same password check as a known one."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import cloud.security
from cloud.enums import Role
from cloud.security import SCRYPT_N, LoginThrottle, verify_nobody
from tests.cloud.harness import Api, Clock, serve, settings_for


def test_each_failure_past_the_free_ones_doubles_the_block() -> None:
    ticks = Clock()
    throttle = LoginThrottle(free=3, base_s=1.0, max_s=5.0, clock=ticks.timestamp)
    keys = throttle.keys("Pat", "10.0.0.1")
    for _ in range(3):
        throttle.failed(keys)
    assert throttle.retry_after(keys) == 0
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 1.0
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 2.0
    for _ in range(5):
        throttle.failed(keys)
    assert throttle.retry_after(keys) == 5.0  # capped
    ticks.advance(5)
    assert throttle.retry_after(keys) == 0
    # the username is one key whatever its case, the address another
    assert throttle.retry_after(throttle.keys("pat", "10.0.0.2")) == 0
    ticks.advance(-1)
    assert throttle.retry_after(throttle.keys("PAT", "10.0.0.2")) == 1.0
    assert throttle.retry_after(throttle.keys("sam", "10.0.0.1")) == 1.0
    throttle.succeeded("pat")
    assert throttle.retry_after(throttle.keys("pat", "10.0.0.2")) == 0


def test_the_number_of_keys_is_bounded() -> None:
    throttle = LoginThrottle(free=0, max_keys=4, clock=Clock().timestamp)
    for i in range(10):
        throttle.failed(throttle.keys(f"u{i}", f"a{i}"))
    assert throttle.retry_after(throttle.keys("u0", "a0")) == 0  # forgotten
    assert throttle.retry_after(throttle.keys("u9", "a9")) == 1.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), Clock()) as a:
        a.user("pat", Role.SUPERVISOR, password="s3cret-enough")
        yield a


async def test_many_wrong_passwords_then_even_the_right_one_waits(api: Api) -> None:
    ticks = Clock()
    api.state.login_throttle = LoginThrottle(free=5, clock=ticks.timestamp)
    wrong = {"username": "pat", "password": "guess"}
    right = {"username": "pat", "password": "s3cret-enough"}
    for _ in range(6):
        r = await api.client.post("/api/auth/token", json=wrong)
        assert r.status_code == 401
    r = await api.client.post("/api/auth/token", json=right)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "too_many_requests"
    assert "try again in 1 s" in r.json()["error"]["message"]
    # the address is blocked too: guessing another username from it waits as well
    other = await api.client.post("/api/auth/token", json={"username": "x", "password": "y"})
    assert other.status_code == 429
    ticks.advance(1)
    r = await api.client.post("/api/auth/token", json=wrong)
    assert r.status_code == 401
    r = await api.client.post("/api/auth/token", json=right)
    assert (r.status_code, r.headers["retry-after"]) == (429, "2")  # doubled
    ticks.advance(2)
    r = await api.client.post("/api/auth/token", json=right)
    assert r.status_code == 200, r.text


async def test_an_unknown_username_costs_the_same_password_check(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.user("nopass", Role.TECHNICIAN)  # a user without a password
    verify_nobody("warm up")  # the dummy hash is made once, on first use
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw: Any) -> bytes:
        calls.append(kw["n"])
        return real(password, **kw)

    monkeypatch.setattr(cloud.security.hashlib, "scrypt", counting)
    for username in ("pat", "nobody-here", "nopass"):
        calls.clear()
        body = {"username": username, "password": "guess"}
        r = await api.client.post("/api/auth/token", json=body)
        assert r.status_code == 401
        assert calls == [SCRYPT_N], username
