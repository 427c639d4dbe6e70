"""The broker with per-client users, role ACLs and TLS (stack.mqtt_auth)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from plantroom.errors import ConfigError
from plantroom.topics import EquipmentTopic, shared
from stack.mqtt_auth import MqttUser, TlsFiles, acl_text, self_signed
from stack.services import Mosquitto
from tests.harness import REPO

pytestmark = pytest.mark.integration

USERS = [
    MqttUser("edge-harbour", "e-secret", "edge", site="harbour", vendor_topics=("lumen/a/state",)),
    MqttUser("gateway", "g-secret", "gateway"),
    MqttUser("cloud", "c-secret", "cloud"),
    MqttUser("simulator", "s-secret", "simulator", vendor_topics=("lumen/a/state",)),
    MqttUser("admin", "a-secret", "admin"),
    MqttUser(
        "edge-tower-b",
        "b-secret",
        "edge",
        site="harbour",
        building="tower-b",
        vendor_topics=("lumen/b/state",),
    ),
]
PASSWORDS = {u.username: u.password for u in USERS}
HARBOUR = EquipmentTopic("harbour", "tower-a", "pump", "p1").telemetry()
OTHER_SITE = EquipmentTopic("elsewhere", "tower-a", "pump", "p1").telemetry()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("secure-mq"), users=USERS, tls=tls_files)
    server.start()
    yield server
    server.stop()


def client(broker: Mosquitto, user: str | None, **kw: object) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=user,
        password=PASSWORDS.get(user or ""),
        identifier=f"t-{user}-{id(kw)}",
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def watcher(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    async with client(broker, "admin") as c:
        await c.subscribe("#", qos=1)
        yield c


async def received(watcher: aiomqtt.Client, marker: str) -> list[str]:
    """Topics the admin saw, up to and including the marker it publishes itself."""
    await watcher.publish(marker, b"end", qos=1)
    seen: list[str] = []
    async with asyncio.timeout(5):
        async for msg in watcher.messages:
            seen.append(str(msg.topic))
            if str(msg.topic) == marker:
                return seen
    return seen


def test_the_acl_gives_each_role_only_its_topics() -> None:
    text = acl_text(USERS)
    assert "user edge-harbour\ntopic write plantroom/v1/harbour/#\ntopic read lumen/a/state" in text
    assert "user gateway\ntopic read plantroom/v1/+/+/+/+/telemetry" in text
    assert "e-secret" not in text


def test_passwords_are_stored_hashed(broker: Mosquitto) -> None:
    stored = (broker.data_dir / "passwd").read_text()
    assert "edge-harbour:$7$" in stored
    assert "e-secret" not in stored


async def test_anonymous_and_wrong_password_are_refused(broker: Mosquitto) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with client(broker, None):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client(broker.host, broker.port, username="gateway", password="nope"):
            pass


async def test_an_edge_agent_publishes_only_under_its_own_site(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    async with client(broker, "edge-harbour") as edge:
        await edge.publish(HARBOUR, b"{}", qos=1)
        await edge.publish(OTHER_SITE, b"{}", qos=1)
        await edge.publish("lumen/a/state", b"{}", qos=1)
    seen = await received(watcher, "plantroom/test/edge-done")
    assert HARBOUR in seen
    assert OTHER_SITE not in seen
    assert "lumen/a/state" not in seen


async def test_an_edge_box_of_one_building_publishes_only_for_that_building(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    own = EquipmentTopic("harbour", "tower-b", "pump", "p2").telemetry()
    health = "plantroom/v1/harbour/edge/edge-tower-b/health"
    other_agent = "plantroom/v1/harbour/edge/edge-harbour/health"
    async with client(broker, "edge-tower-b") as edge:
        for topic in (own, health, HARBOUR, other_agent, OTHER_SITE):
            await edge.publish(topic, b"{}", qos=1)
    seen = await received(watcher, "plantroom/test/edge-b-done")
    assert own in seen and health in seen
    assert HARBOUR not in seen  # tower-a is another building's box
    assert other_agent not in seen
    assert OTHER_SITE not in seen


def test_a_site_has_one_edge_login_per_building() -> None:
    from plantroom.inventory import load_inventory
    from stack.mqtt_auth import site_usernames, site_users

    inventory = load_inventory(REPO / "sites" / "demo.yaml")
    names = site_usernames(inventory)
    users = site_users(inventory, {n: f"pw-{n}" for n in names})
    edges = [u for u in users if u.role == "edge"]
    assert [u.building for u in edges] == [b.id for b in inventory.buildings]
    assert all(u.username == f"edge-{u.building}" for u in edges)
    with pytest.raises(ConfigError, match="no MQTT password for user 'gateway'"):
        site_users(inventory, {n: "x" for n in names if n != "gateway"})


async def test_the_gateway_may_read_telemetry_but_not_publish(
    broker: Mosquitto, watcher: aiomqtt.Client
) -> None:
    async with client(broker, "gateway") as gw:
        await gw.subscribe(shared("ingest", "plantroom/v1/+/+/+/+/telemetry"), qos=1)
        await gw.publish(HARBOUR, b"forged", qos=1)
        async with client(broker, "edge-harbour") as edge:
            await edge.publish(HARBOUR, b"real", qos=1)
        async with asyncio.timeout(5):
            async for msg in gw.messages:
                assert msg.payload == b"real"
                break
    seen = await received(watcher, "plantroom/test/gw-done")
    assert seen.count(HARBOUR) == 1


async def test_tls_listener_with_the_private_ca(broker: Mosquitto, tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    good = ssl.create_default_context(cafile=str(tls_files.ca))
    async with aiomqtt.Client(
        broker.host, broker.tls_port, username="cloud", password="c-secret", tls_context=good
    ) as c:
        await c.subscribe("plantroom/v1/#", qos=1)
    # a client that does not trust the private CA refuses the broker's certificate
    untrusted = ssl.create_default_context()
    with (
        socket.create_connection((broker.host, broker.tls_port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusted.wrap_socket(raw, server_hostname=broker.host)


def test_an_edge_user_needs_a_site(tmp_path: Path) -> None:
    from plantroom.errors import ConfigError

    with pytest.raises(ConfigError, match="needs its site"):
        MqttUser("edge-x", "pw", "edge")
