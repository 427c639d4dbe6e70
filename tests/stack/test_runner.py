"""`plantroom run` and `plantroom servers`: servers by URL, the environment each process gets,
and a site run against servers it does not manage."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from plantroom.errors import ConfigError
from plantroom.inventory import load_inventory
from plantroom.ports import free_port
from stack.runner import Stack, StackPorts
from stack.servers import MqttEndpoint, ServerPorts, Servers, influx_endpoint
from stack.services import Influxd, Mosquitto
from tests.harness import REPO, influx_query, terminate, unique, wait_for, write_site


def test_a_broker_url_gives_host_port_and_tls() -> None:
    assert MqttEndpoint.parse("mqtt://broker.example") == MqttEndpoint(
        "broker.example", 1883, False
    )
    assert MqttEndpoint.parse("mqtts://10.0.0.2") == MqttEndpoint("10.0.0.2", 8883, True)
    assert MqttEndpoint.parse("mqtt://h:1999") == MqttEndpoint("h", 1999, False)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://h:1883", "expected mqtt://host:port"),
        ("mqtt://", "expected mqtt://host:port"),
        ("mqtt://u:secret@h", "no login in the URL"),
        ("mqtt://h:99999", "--mqtt-url"),
    ],
)
def test_a_bad_broker_url_is_named(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as err:
        MqttEndpoint.parse(url)
    assert "--mqtt-url" in str(err.value)


def test_a_bad_influx_url_is_named() -> None:
    assert influx_endpoint("http://db:8086/") == "http://db:8086"
    with pytest.raises(ConfigError, match="--influx-url 'db:8086'"):
        influx_endpoint("db:8086")


@pytest.mark.integration
def test_servers_write_each_process_environment_with_its_login(tmp_path: Path) -> None:
    inventory = load_inventory(write_site(tmp_path / "site.yaml", "two-buildings"))
    ports = ServerPorts(mqtt=free_port(), influx=free_port())
    servers = Servers(tmp_path / "var", ports, inventory)
    servers.start()
    try:
        files = servers.write_env_files(
            {"gateway": {}, "edge-b1": {"PLANTROOM_EDGE_BUILDINGS": "b1"}}
        )
        env = dict(line.split("=", 1) for line in files["gateway"].read_text().splitlines())
        assert files["gateway"].stat().st_mode & 0o077 == 0
        assert env["PLANTROOM_MQTT_PORT"] == str(ports.mqtt)
        assert env["PLANTROOM_INFLUX_URL"] == f"http://127.0.0.1:{ports.influx}"
        assert env["PLANTROOM_MQTT_USERNAME"] == "gateway"
        assert "PLANTROOM_EDGE_BUILDINGS=b1" in files["edge-b1"].read_text()

        async def connect(username: str | None, password: str | None) -> None:
            async with aiomqtt.Client(
                "127.0.0.1",
                ports.mqtt,
                username=username,
                password=password,
                identifier=unique("t"),
            ):
                pass

        asyncio.run(connect("gateway", env["PLANTROOM_MQTT_PASSWORD"]))
        with pytest.raises(aiomqtt.MqttError):
            asyncio.run(connect(None, None))  # logins only
    finally:
        servers.stop()
    assert not servers.managed()["mosquitto"].running()


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_site_runs_on_a_broker_and_influxdb_it_does_not_manage(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd
) -> None:
    site = unique("ext")
    device = free_port()
    inventory = write_site(tmp_path / "site.yaml", "tower-a-pump", {5020: device}, id=site)
    sim_env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "PLANTROOM_INVENTORY": str(inventory),
        "PLANTROOM_SIM_CONTROL_PORT": str(free_port()),
    }
    sim = subprocess.Popen(
        [sys.executable, "-m", "stack", "sim"],
        env=sim_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack = Stack(
        StackPorts(api=free_port()),
        inventory,
        tmp_path / "var",
        out=io.StringIO(),
        mqtt_url=mosquitto.url,
        influx_url=influxd.url,
    )
    try:
        assert stack.servers.managed() == {}
        stack.start()
        stack.wait_api(timeout=90)
        query = f"SELECT count(speed) FROM pump WHERE site = '{site}'"
        wait_for(lambda: influx_query(influxd.url, "plantroom", query), "the pump's data", 60)
        cloud = stack.child("cloud").env
        assert cloud["PLANTROOM_MQTT_PORT"] == str(mosquitto.port)
        assert "PLANTROOM_MQTT_USERNAME" not in cloud  # the broker's own logins, if any
        assert cloud["PLANTROOM_DATABASE_URL"].startswith("sqlite:///")
    finally:
        stack.stop()
        terminate(sim)
    assert mosquitto.running() and influxd.running()  # not ours to stop
    assert "(external)" in stack.out.getvalue()


def start_servers(tmp_path: Path, prefix: tuple[str, ...] = ()) -> tuple[Any, Path, Path, int]:
    """`plantroom servers` for the two-buildings site, its output in a log, running once it
    has written the environment files: the process, its log, the env folder, the MQTT port."""
    inventory = write_site(tmp_path / "site.yaml", "two-buildings")
    var = tmp_path / "var"
    mqtt_port = free_port()
    log = tmp_path / "servers.log"
    with open(log, "wb") as out_file:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "stack", "servers", "-i", str(inventory),
             "--var", str(var), "--mqtt-port", str(mqtt_port), "--influx-port", str(free_port())],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
            stdout=out_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    env_dir = var / "env"
    try:
        wait_for(lambda: (env_dir / "cloud.env").exists(), "the environment files", 60)
    except BaseException:
        terminate(proc)
        raise
    return proc, log, env_dir, mqtt_port


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_plantroom_servers_runs_until_sigterm_or_its_terminal_closes_and_writes_the_environments(
    tmp_path: Path, signum: int
) -> None:
    proc, log, env_dir, mqtt_port = start_servers(tmp_path)
    code = terminate(proc, signum=signum)
    out = log.read_text()
    assert code == 0, out
    assert out.rstrip().endswith("Stopped.")
    assert sorted(p.name for p in env_dir.iterdir()) == [
        "cloud.env", "edge-b1.env", "edge-b2.env", "gateway.env",
    ]  # fmt: skip
    inventory = tmp_path / "site.yaml"
    edge = (env_dir / "edge-b2.env").read_text().splitlines()
    assert f"PLANTROOM_INVENTORY={inventory}" in edge
    assert f"PLANTROOM_MQTT_PORT={mqtt_port}" in edge
    assert "PLANTROOM_MQTT_USERNAME=edge-b2" in edge and "PLANTROOM_EDGE_BUILDINGS=b2" in edge


@pytest.mark.integration
def test_under_nohup_a_closed_terminal_does_not_stop_plantroom_servers(tmp_path: Path) -> None:
    proc, log, _, _ = start_servers(tmp_path, prefix=("nohup",))
    try:
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert proc.poll() is None, log.read_text()
    finally:
        code = terminate(proc)
    assert code == 0, log.read_text()
