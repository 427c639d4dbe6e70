"""Shared fixtures: real mosquitto, influxd and PostgreSQL on free ports in temp dirs, a serial
line made by socat, and a leak check."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from chaos.disk import Tmpfs, mount_refused
from stack.pgserver import Postgres, postgres_dir
from stack.services import Influxd, Mosquitto
from tests.harness import CHROMIUM, terminate, wait_for


class _Server(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


ServerT = TypeVar("ServerT", bound=_Server)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `browser` are skipped, with the reason, where Debian's Chromium or
    Playwright is missing."""
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    else:
        return
    missing = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(missing)


def running(server: ServerT) -> Iterator[ServerT]:
    """A fixture's body: `server` started, handed to the tests, stopped after them."""
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real broker for the whole session. Tests use unique topics or client ids."""
    yield from running(Mosquitto(tmp_path_factory.mktemp("mosquitto")))


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """A real InfluxDB 1.x for the whole session. Tests use their own database names."""
    yield from running(Influxd(tmp_path_factory.mktemp("influxd")))


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL cluster for the whole session (database `plantroom`)."""
    data_dir = postgres_dir()
    yield from running(Postgres(data_dir))
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker of the test's own, for tests that stop or kill it."""
    yield from running(Mosquitto(tmp_path / "mosquitto"))


@pytest.fixture
def fresh_influxd(tmp_path: Path) -> Iterator[Influxd]:
    """An InfluxDB of the test's own, for tests that stop or kill it."""
    yield from running(Influxd(tmp_path / "influxd"))


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A serial line: two pseudo-terminals joined by socat, (the device's end, the client's)."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is not installed (apt-get install socat)")
    device_end, client_end = tmp_path / "device-line", tmp_path / "client-line"
    proc = subprocess.Popen(
        [
            socat,
            "-d",
            "-d",
            f"pty,raw,echo=0,link={device_end}",
            f"pty,raw,echo=0,link={client_end}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: (device_end.exists() and client_end.exists()) or proc.poll() is not None,
            "socat to create the pty pair",
            within=10,
            interval=0.02,
        )
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        yield device_end, client_end
    finally:
        terminate(proc, within=5)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves threads running behind it."""
    before = set(threading.enumerate())
    yield
    deadline = threading.Event()
    leaked: list[threading.Thread] = []
    for _ in range(50):
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        deadline.wait(0.1)
    names = ", ".join(t.name for t in leaked)
    pytest.fail(f"test left threads running: {names}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 4 MiB tmpfs of the test's own, to fill with `fill()`; skipped where mounting one is
    refused (it needs root), with the reason."""
    reason = mount_refused(tmp_path)
    if reason is not None:
        pytest.skip(f"no tmpfs to fill here: {reason}")
    with Tmpfs(tmp_path / "disk", 4 * 1024 * 1024) as disk:
        yield disk
