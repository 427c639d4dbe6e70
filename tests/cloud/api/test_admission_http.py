"""Admission control over real HTTP (uvicorn on a free port): past its one place and its
queue the API answers a burst 503 with Retry-After at once, a request whose client left while
it waited is never served, health answers throughout, and once the burst is over every
request is served again."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.app import create_app
from plantroom.settings import CloudSettings
from tests.cloud.harness import over_http, read_response
from tests.harness import REPO, wait_for

pytestmark = pytest.mark.integration

QUEUED = 2
BURST = 10
FIRST, REST = b'{"username": "nobody",', b' "password": "not it"}'  # a login in two parts


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """The API with one place and a queue of two that waits as long as a test runs: (host,
    port, a technician's token)."""
    settings = CloudSettings(
        inventory=REPO / "sites" / "demo.yaml",
        database_url=f"sqlite:///{tmp_path}/db/cloud.sqlite",
        demo_mode=True,
        demo_credentials_path=tmp_path / "credentials.json",
        api_max_in_progress=1,
        api_max_queued=QUEUED,
        api_queue_wait_s=60,
        api_queue_target_ms=60_000,  # a queue that stands still serves those waiting
    )
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    with over_http(app) as (host, port):
        users = json.loads((tmp_path / "credentials.json").read_text())["users"]
        token = next(u["token"] for u in users if u["role"] == "technician")
        yield host, port, token


def get(host: str, port: int, token: str) -> tuple[int, dict[str, str], bytes]:
    """A list page on a connection of its own."""
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(
            f"GET /api/work-orders HTTP/1.1\r\nHost: cloud\r\nAuthorization: Bearer {token}"
            "\r\n\r\n".encode()
        )
        return read_response(sock)


def api_load(host: str, port: int) -> dict[str, Any]:
    health = httpx.get(f"http://{host}:{port}/api/health", timeout=10)
    assert health.status_code == 200  # its own lane: answered while the API is full
    load: dict[str, Any] = health.json()["load"]["api"]
    return load


def hold_the_place(host: str, port: int) -> socket.socket:
    """A login whose body is only half sent: it holds the API's one place until the rest
    comes."""
    sock = socket.create_connection((host, port), timeout=60)
    sock.sendall(
        b"POST /api/auth/token HTTP/1.1\r\nHost: cloud\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(FIRST + REST), FIRST)
    )
    return sock


def test_a_burst_past_the_queue_is_answered_503_at_once_and_then_all_is_served(
    server: tuple[str, int, str],
) -> None:
    host, port, token = server
    holder = hold_the_place(host, port)
    try:
        wait_for(lambda: api_load(host, port)["in_progress"] == 1, "the place taken", within=20)

        # a client that gives up while it waits is dropped unserved
        leaver = socket.create_connection((host, port), timeout=10)
        leaver.sendall(
            f"GET /api/me HTTP/1.1\r\nHost: cloud\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        )
        wait_for(lambda: api_load(host, port)["waiting"] == 1, "the leaver waiting", within=20)
        leaver.close()
        wait_for(lambda: api_load(host, port)["gone"] == 1, "the leaver dropped", within=20)
        assert api_load(host, port)["waiting"] == 0

        with ThreadPoolExecutor(max_workers=BURST) as pool:
            burst = [pool.submit(get, host, port, token) for _ in range(BURST)]
            wait_for(
                lambda: sum(f.done() for f in burst) == BURST - QUEUED,
                "the requests past the queue answered",
                within=30,
            )
            # answered while the place is still held, and the rest still wait
            assert api_load(host, port) == {
                "in_progress": 1,
                "waiting": QUEUED,
                "served": 1,
                "shed": BURST - QUEUED,
                "gone": 1,
            }
            for status, headers, body in [f.result() for f in burst if f.done()]:
                assert status == 503
                assert headers["retry-after"] == "1"
                assert json.loads(body)["error"]["code"] == "overloaded"
            waiting = [f for f in burst if not f.done()]

            holder.sendall(REST)  # the held login ends, and the place passes on
            status, _, _ = read_response(holder)
            assert status == 401
            assert [f.result(timeout=60)[0] for f in waiting] == [200] * QUEUED
    finally:
        holder.close()

    # the burst is over: every request is served again, none waits
    for _ in range(BURST):
        status, _, _ = get(host, port, token)
        assert status == 200
    load = api_load(host, port)
    assert (load["in_progress"], load["waiting"], load["shed"], load["gone"]) == (
        0,
        0,
        BURST - QUEUED,
        1,
    )
