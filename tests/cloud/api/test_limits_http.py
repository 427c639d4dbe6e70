"""The request-body limit over real HTTP (uvicorn on a free port): an oversized body is
answered 413 before it is read, a chunked one as soon as it passes the limit, and the API
keeps answering meanwhile."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from cloud.app import create_app
from plantroom.settings import CloudSettings
from tests.cloud.harness import over_http, read_response
from tests.harness import REPO

pytestmark = pytest.mark.integration

ELEVEN_MB = 11 * 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    settings = CloudSettings(
        inventory=REPO / "sites" / "demo.yaml",
        database_url=f"sqlite:///{tmp_path}/db/cloud.sqlite",
        demo_mode=True,
        demo_credentials_path=tmp_path / "credentials.json",
    )
    app = create_app(settings, ingest=False, escalate=False, notify=False)
    with over_http(app) as address:
        yield address


def announce_eleven_megabytes(host: str, port: int) -> tuple[int, dict[str, str], bytes]:
    """A login whose body announces 11 MB; the answer comes before a byte of it is sent."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/auth/token HTTP/1.1\r\nHost: cloud\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n\r\n" % ELEVEN_MB
        )
        return read_response(sock)


def chunked_until_refused(host: str, port: int) -> tuple[int, dict[str, str], bytes, int]:
    """A chunked login body sent 64 KiB at a time until the server answers; also how many
    bytes went out."""
    piece = b"x" * 65536
    sent = 0
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/auth/token HTTP/1.1\r\nHost: cloud\r\nContent-Type: application/json"
            b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0.0)
        while sent < ELEVEN_MB:
            try:
                early = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                early = b""
            if early:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        sock.settimeout(10)
        status, headers, body = read_response(sock)
        return status, headers, body, sent


def test_an_eleven_megabyte_body_is_refused_unread_while_the_api_answers(
    server: tuple[str, int],
) -> None:
    host, port = server
    with ThreadPoolExecutor(max_workers=5) as pool:
        floods = [pool.submit(announce_eleven_megabytes, host, port) for _ in range(10)]
        health = httpx.get(f"http://{host}:{port}/api/health", timeout=10)
        results = [f.result(timeout=30) for f in floods]
    assert health.status_code == 200 and health.json()["database"] is True
    for status, headers, body in results:
        assert status == 413
        assert headers["connection"] == "close"
        error = json.loads(body)["error"]
        assert error["code"] == "payload_too_large"
        assert "1048576 bytes" in error["message"]


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(server: tuple[str, int]) -> None:
    host, port = server
    status, _, body, sent = chunked_until_refused(host, port)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert sent < ELEVEN_MB  # it stopped reading long before the end
    assert httpx.get(f"http://{host}:{port}/api/health", timeout=10).status_code == 200


def test_a_body_within_the_limit_is_served(server: tuple[str, int]) -> None:
    host, port = server
    r = httpx.post(
        f"http://{host}:{port}/api/auth/token",
        json={"username": "nobody", "password": "x" * 1000},
        timeout=10,
    )
    assert r.status_code == 401
