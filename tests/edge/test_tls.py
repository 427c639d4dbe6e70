"""The edge agent on a broker that requires TLS and a login (stack.mqtt_auth users/ACL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from edge.agent import EdgeAgent
from edge.buffer import SampleBuffer
from edge.publisher import Publisher
from plantroom.errors import ConfigError
from plantroom.inventory import Inventory
from plantroom.ports import free_port
from plantroom.schema import parse_telemetry
from plantroom.settings import EdgeSettings
from plantroom.topics import EquipmentTopic
from stack.mqtt_auth import MqttUser, TlsFiles, self_signed
from stack.services import Mosquitto
from tests.edge.harness import settings_for, simulated
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
SITE = "tls-site"
EDGE = MqttUser("edge-tls", "edge-pw", "edge", site=SITE)
ADMIN = MqttUser("admin", "admin-pw", "admin")
T0 = 1_700_000_000_000
TUNING: dict[str, Any] = {
    "edge_commit_interval_s": 0.05,
    "edge_backoff_initial_s": 0.1,
    "edge_backoff_max_s": 0.4,
}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("edge-tls"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("edge-tls-mq"), users=[EDGE, ADMIN], tls=tls_files)
    server.start()
    yield server
    server.stop()


def inventory(port: int) -> Inventory:
    return Inventory.model_validate(
        {
            "site": {"id": SITE, "timezone": "UTC"},
            "buildings": [
                {
                    "id": "b1",
                    "equipment": [
                        {
                            "id": "pump-t",
                            "kind": "pump",
                            "profile": "plantroom-sim-pump",
                            "connection": {"type": "modbus_tcp", "host": HOST, "port": port},
                        }
                    ],
                }
            ],
        }
    )


def edge_settings(broker: Mosquitto, tmp_path: Path, **kw: Any) -> EdgeSettings:
    assert broker.tls_port is not None
    tls: dict[str, Any] = {
        "mqtt_host": HOST,
        "mqtt_port": broker.tls_port,
        "mqtt_tls": True,
        "mqtt_username": EDGE.username,
        "mqtt_password": EDGE.password,
    }
    return settings_for(broker, tmp_path, **tls, **kw)


@contextlib.asynccontextmanager
async def watching(broker: Mosquitto, topic: str) -> AsyncIterator[list[bytes]]:
    """Collect the payloads on `topic`, as the admin user on the plain listener."""
    got: list[bytes] = []
    async with aiomqtt.Client(
        broker.host,
        broker.port,
        username=ADMIN.username,
        password=ADMIN.password,
        identifier=f"watch-{uuid.uuid4().hex[:8]}",
    ) as client:
        await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                got.append(m.payload)

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_agent_publishes_over_tls_with_its_login(
    broker: Mosquitto, tls_files: TlsFiles, tmp_path: Path
) -> None:
    inv = inventory(free_port())
    tele = EquipmentTopic(SITE, "b1", "pump", "pump-t").telemetry()
    s = edge_settings(broker, tmp_path, mqtt_ca_file=tls_files.ca)
    async with (
        simulated(tmp_path, inv),
        watching(broker, tele) as got,
        EdgeAgent(s, inv) as agent,
    ):
        await wait_for_async(lambda: len(got) >= 5, "telemetry over TLS", within=15)
        assert agent.publisher_stats().connected
        assert agent.publisher_stats().last_error is None
    samples = [parse_telemetry(tele, p) for p in got]
    assert samples[0].points["run_state"] in ("running", "stopped")
    assert [m.seq for m in samples] == list(range(samples[0].seq, samples[0].seq + len(samples)))


class Messages(logging.Handler):
    """Keeps the text of log records only (a record's arguments may hold a live socket)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_wrong_ca_is_named_and_the_agent_keeps_buffering(
    broker: Mosquitto, tmp_path: Path
) -> None:
    other_ca = self_signed(tmp_path / "other-ca")  # a CA that did not sign the broker
    inv = inventory(free_port())
    s = edge_settings(broker, tmp_path, mqtt_ca_file=other_ca.ca)
    edge_log, logged = logging.getLogger("edge"), Messages()
    edge_log.addHandler(logged)
    edge_log.propagate = False
    try:
        await run_with_wrong_ca(s, inv, tmp_path, logged)
    finally:
        edge_log.removeHandler(logged)
        edge_log.propagate = True


async def run_with_wrong_ca(
    s: EdgeSettings, inv: Inventory, tmp_path: Path, logged: Messages
) -> None:
    async with simulated(tmp_path, inv), EdgeAgent(s, inv) as agent:
        await wait_for_async(
            lambda: agent.publisher_stats().last_error, "a failed TLS connect", within=10
        )
        error = agent.publisher_stats().last_error or ""
        assert "certificate verify failed" in error
        assert any("certificate verify failed" in m for m in logged.messages), logged.messages
        depth = await wait_for_async(
            lambda: agent.buffer_stats().depth >= 10 and agent.buffer_stats().depth,
            "samples buffered while the broker refuses the connection",
            within=15,
        )
        assert not agent.publisher_stats().connected
        assert not agent.task.done()  # still polling
        await wait_for_async(
            lambda: agent.buffer_stats().depth > depth, "the buffer still growing", within=10
        )
        assert agent.publisher_stats().published == 0


async def test_an_unreadable_ca_file_fails_at_start(broker: Mosquitto, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("this is not a certificate\n")
    for ca in (bad, tmp_path / "missing.pem"):
        s = edge_settings(broker, tmp_path, mqtt_ca_file=ca)
        with pytest.raises(ConfigError, match="PLANTROOM_MQTT_CA_FILE"):
            async with EdgeAgent(s, inventory(free_port())):
                pass


async def test_a_sample_the_broker_refuses_is_counted_and_the_rest_flow(
    broker: Mosquitto, tls_files: TlsFiles, tmp_path: Path
) -> None:
    """The broker's ACL lets this agent write only under its own site: a sample on another
    site's topic gets a PUBACK with "Not authorized", is counted, and does not hold up the
    samples behind it."""
    ours = EquipmentTopic(SITE, "b1", "pump", "pump-t").telemetry()
    theirs = EquipmentTopic("another-site", "b1", "pump", "pump-x").telemetry()
    s = edge_settings(broker, tmp_path, mqtt_ca_file=tls_files.ca)
    messages = Messages()
    logging.getLogger("edge.publisher").addHandler(messages)
    try:
        with SampleBuffer(tmp_path / "buffer.sqlite", 100, commit_interval_s=60) as buffer:
            buffer.append("pump-x", theirs, T0, {"speed": 1})
            for i in range(3):
                buffer.append("pump-t", ours, T0 + i, {"speed": i})
            buffer.commit()
            publisher = Publisher(s, buffer, site=SITE, agent_id=s.edge_agent_id)
            buffer.on_commit = publisher.notify
            async with watching(broker, ours) as got:
                task = asyncio.create_task(publisher.run())
                try:
                    await wait_for_async(lambda: len(got) == 3, "our three samples", within=15)
                    await wait_for_async(lambda: buffer.depth == 0, "the buffer emptied", within=10)
                finally:
                    publisher.request_stop()
                    await asyncio.wait_for(task, 15)
        assert publisher.stats.refused == 1
        assert publisher.stats.published == 4
        assert [parse_telemetry(ours, p).seq for p in got] == [0, 1, 2]
        assert any("refused a sample (Not authorized (0x87)" in m for m in messages.messages)
    finally:
        logging.getLogger("edge.publisher").removeHandler(messages)
