"""The service manager runs real mosquitto and influxd."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest

from plantroom.errors import PortInUseError
from stack.services import Influxd, Mosquitto

pytestmark = pytest.mark.integration


def test_mosquitto_starts_answers_and_restarts_on_the_same_port(tmp_path: Path) -> None:
    server = Mosquitto(tmp_path / "mq")
    server.start()
    try:
        assert server.is_ready()
        port = server.port
        server.kill()
        assert not server.running()
        assert not server.is_ready()
        server.start()
        assert server.port == port and server.is_ready()
    finally:
        server.stop()
    assert (tmp_path / "mq" / "mosquitto.log").exists()


def test_influxd_starts_and_takes_writes(tmp_path: Path) -> None:
    with Influxd(tmp_path / "ix") as server:
        req = urllib.request.Request(
            f"{server.url}/query", data=b"q=CREATE DATABASE t", method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
        req = urllib.request.Request(
            f"{server.url}/write?db=t&precision=ms", data=b"m,a=b v=1i 1763900000000"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 204
    assert not server.running()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port} is already in use"):
            Mosquitto(tmp_path / "mq", port=port).start()


def test_postgres_cluster_runs_and_takes_queries(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from stack.pgserver import Postgres, postgres_dir

    data_dir = postgres_dir()
    try:
        with Postgres(data_dir) as server:
            engine = sa.create_engine(server.url)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT current_database()")).scalar() == "plantroom"
            engine.dispose()
        assert not server.running()
    finally:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
