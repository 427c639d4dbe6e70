"""`kill -9` of the cloud process during a burst of e-mail to a real SMTP server (STARTTLS,
login): after the restart every outbox row was sent exactly once, counted by the
`X-Plantroom-Message` key of what the server received, or shows failed with "the service
stopped while sending"; none was sent twice, none lost. (The chaos campaign runs the same
case on the whole stack at a larger burst: chaos/mail.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from chaos.mail import audit_mail, burst, outbox_rows, received_keys, settled
from plantroom.ports import free_port
from stack.services import Influxd, Mosquitto
from tests.cloud.harness import cloud_process
from tests.cloud.notify.mail import smtp_server
from tests.harness import REPO

pytestmark = pytest.mark.integration

JOBS = 12  # each told to one person or more
T = TypeVar("T")


def until(probe: Callable[[], T | None], what: str, within: float, every: float = 0.1) -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"not within {within:.0f}s: {what}")


@contextmanager
def cloud(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=20)


def healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> Callable[[], bool]:
    def probe() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    return probe


def token(credentials: Path, username: str) -> str:
    users = json.loads(credentials.read_text())["users"]
    return str(next(u["token"] for u in users if u["username"] == username))


@pytest.mark.timeout(240)  # two starts of the cloud process: about 20 s each on a busy machine
def test_kill_9_during_a_burst_sends_each_message_once_or_shows_it_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    credentials = tmp_path / "credentials.json"
    log = tmp_path / "cloud.log"
    with smtp_server(tmp_path, monkeypatch) as smtp:
        cmd, env = cloud_process(
            tmp_path,
            REPO / "sites" / "demo.yaml",
            port,
            broker=mosquitto,
            influx_url=influxd.url,
            influx_database=f"cloud_{port}",
            credentials=credentials,
        )
        env |= {
            "PLANTROOM_NOTIFICATIONS_FILE": str(smtp.channels),
            "PLANTROOM_ESCALATION_INTERVAL_S": "0.5",
            "PLANTROOM_NOTIFY_SEND_TIMEOUT_S": "1",  # a send left mid-way is settled after 3 s
        }
        with cloud(cmd, env, tmp_path, log) as proc:
            until(healthy(url, proc, log), "the cloud answers", 40)
            numbers = burst(
                url, token(credentials, "super1"), JOBS, building="tower-a", label="Leak"
            )
            until(lambda: len(smtp.box.received()) >= JOBS // 4, "the first messages", 30, 0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        at_kill = len(smtp.box.received())

        with cloud(cmd, env, tmp_path, log) as proc:
            until(healthy(url, proc, log), "the restarted cloud answers", 40)
            admin = token(credentials, "admin1")
            rows = until(
                lambda: (found := outbox_rows(url, admin, numbers)) and settled(found) and found,
                "every outbox row sent or failed",
                30,
                0.5,
            )
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        found = audit_mail(rows, received_keys(smtp.box.received()))

    assert found.rows >= JOBS, found.describe()
    assert at_kill < found.rows, f"the burst was over before the kill ({at_kill} received)"
    assert found.ok, found.describe()
    assert found.sent + found.stopped == found.rows
    assert found.received == found.sent + found.stopped_arrived
