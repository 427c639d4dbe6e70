"""`plantroom cloud` as a real process: starts, serves, prints demo tokens, stops on SIGTERM;
refuses a taken port before starting."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from cloud.main import run
from plantroom.errors import ConfigError, PortInUseError, ServiceError
from plantroom.ports import free_port
from plantroom.settings import CloudSettings
from stack.services import Influxd, Mosquitto
from tests.cloud.harness import cloud_process
from tests.harness import REPO, influx_query, wait_for

pytestmark = pytest.mark.integration


def test_a_taken_port_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = CloudSettings(
            inventory=REPO / "sites" / "demo.yaml",
            database_url=f"sqlite:///{tmp_path}/cloud.sqlite",
            api_port=port,
        )
        with pytest.raises(PortInUseError, match=f"cloud API port 127.0.0.1:{port}"):
            run(settings)
    assert not (tmp_path / "cloud.sqlite").exists()


def run_on_demo(database_url: str) -> None:
    """Run the cloud in this process on sites/demo.yaml and `database_url`, on a free port."""
    run(
        CloudSettings(
            inventory=REPO / "sites" / "demo.yaml", database_url=database_url, api_port=free_port()
        )
    )


def test_a_database_that_cannot_migrate_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "cloud.sqlite"
    broken.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(ServiceError, match="migration failed"):
        run_on_demo(f"sqlite:///{broken}")


def test_a_database_folder_that_cannot_exist_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="PLANTROOM_DATABASE_URL: cannot create the folder"):
        run_on_demo(f"sqlite:///{tmp_path}/file/sub/cloud.sqlite")


def test_cloud_process_serves_and_stops_on_sigterm(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    port = free_port()
    credentials = tmp_path / "demo" / "credentials.json"
    database = f"cloud_{port}"
    cmd, env = cloud_process(
        tmp_path,
        REPO / "sites" / "demo.yaml",
        port,
        broker=mosquitto,
        influx_url=influxd.url,
        influx_database=database,
        credentials=credentials,
    )
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()
                if health["mqtt"]["connected"]:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert health is not None and health["mqtt"]["connected"], proc.poll()
        assert health["counts"]["equipment"] == 21  # sites/demo.yaml: 16 simulated + the annex's 5
        users = json.loads(credentials.read_text())["users"]
        token = next(u["token"] for u in users if u["username"] == "super1")
        me = httpx.get(
            f"http://127.0.0.1:{port}/api/me",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert me.json()["role"] == "supervisor"
        # the work-order metrics are written at start: every building, priority and kind
        series = wait_for(
            lambda: influx_query(influxd.url, database, 'SHOW SERIES FROM "work_orders"'),
            "work-order metrics in InfluxDB",
            within=20,
        )
        assert len(series[0]["values"]) == 3 * 4 * 3  # buildings x priorities x kinds
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"supervisor super1 token: {token}" in out
    assert "cloud service stopped" in err
