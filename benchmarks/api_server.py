"""The API benchmark's server: the cloud API (`create_app`, no telemetry consumer, no notifier)
served by uvicorn with WORKERS processes in a child of its own, up until the run ends."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api_params import INVENTORY, ROOT, WORKERS
from stack.processes import log_tail, stop_process

START_TIMEOUT_S = 60.0

# With several workers uvicorn shares one listening socket between processes; connections
# accepted from it do not get TCP_NODELAY, so small answers wait for delayed ACKs (~40 ms).
# The socket is made here with it (Linux hands it down to the accepted connections).
SERVE = """
import logging, socket, sys, uvicorn
logging.basicConfig(level=logging.WARNING)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(2048)
uvicorn.run("benchmarks.api_server:serve", factory=True, fd=sock.fileno(),
            workers=int(sys.argv[2]), log_config=None, access_log=False)
"""


def serve() -> Any:
    """The app for one uvicorn worker, configured from the environment the benchmark sets."""
    from cloud.app import create_app
    from plantroom.settings import CloudSettings

    return create_app(CloudSettings(), ingest=False, notify=False)


@contextlib.contextmanager
def api_server(url: str, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The API on `port` over the database at `url`, answering `/api/health` before this
    yields; its output goes to `log`, whose tail is in the error if it does not come up."""
    env = {
        **os.environ,
        "PLANTROOM_INVENTORY": str(INVENTORY),
        "PLANTROOM_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(port), str(WORKERS)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code in (
                    200,
                    503,
                ):
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start:\n{log_tail(log, 30)}")
            time.sleep(0.2)
        yield server
    finally:
        stop_process(server, 20)
