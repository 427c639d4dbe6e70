"""Shared fixtures: real mosquitto and influxd on free ports in temp dirs, and a leak check."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.pgserver import Postgres, postgres_dir
from stack.services import Influxd, Mosquitto


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A real broker for the whole session. Tests use unique topics or client ids."""
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """A real InfluxDB 1.x for the whole session. Tests use their own database names."""
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL cluster for the whole session (database `plantroom`)."""
    data_dir = postgres_dir()
    server = Postgres(data_dir)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker of the test's own, for tests that stop or kill it."""
    server = Mosquitto(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_influxd(tmp_path: Path) -> Iterator[Influxd]:
    """An InfluxDB of the test's own, for tests that stop or kill it."""
    server = Influxd(tmp_path / "influxd")
    server.start()
    yield server
    server.stop()


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
