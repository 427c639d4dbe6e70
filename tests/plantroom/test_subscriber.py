"""The gateway's MQTT 5 subscriber against real mosquitto: TLS and a login, a refused login,
and a broker that stops answering (SIGSTOP) until the keepalive gives up on it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from plantroom.backoff import Backoff
from plantroom.mqttwire import Publish
from plantroom.settings import GatewaySettings
from plantroom.subscriber import AckToken, Subscriber
from stack.mqtt_auth import MqttUser, TlsFiles, self_signed
from stack.services import Mosquitto
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration

GATEWAY = MqttUser("gateway", "gw-secret", "gateway")
ADMIN = MqttUser("admin", "admin-secret", "admin")
TOPIC = "plantroom/v1/site/b1/pump/p1/telemetry"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return self_signed(tmp_path_factory.mktemp("gateway-tls"))


@pytest.fixture(scope="module")
def secure_broker(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[Mosquitto]:
    server = Mosquitto(
        tmp_path_factory.mktemp("gateway-tls-mq"), users=[GATEWAY, ADMIN], tls=tls_files
    )
    server.start()
    yield server
    server.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, AckToken]] = []

    def __call__(self, message: Publish, token: AckToken) -> None:
        self.messages.append((message.topic, message.payload, token))


@asynccontextmanager
async def running(settings: GatewaySettings, inbox: Inbox, **kw: Any) -> AsyncIterator[Subscriber]:
    subscriber = Subscriber(
        settings,
        client_id=unique("gw"),
        topic_filters=kw.pop("topic_filters", [TOPIC]),
        on_message=inbox,
        receive_maximum=kw.pop("receive_maximum", 100),
        session_expiry_s=kw.pop("session_expiry_s", 0),
        backoff=Backoff(0.05, 0.5),
        **kw,
    )
    task = asyncio.create_task(subscriber.run())
    try:
        yield subscriber
    finally:
        subscriber.stop()
        async with asyncio.timeout(10):
            await task


async def publish(broker: Mosquitto, tls: TlsFiles | None, port: int, payload: bytes) -> None:
    kw: dict[str, Any] = {}
    if tls is not None:
        kw = {"tls_params": aiomqtt.TLSParameters(ca_certs=str(tls.ca))}
    async with aiomqtt.Client(
        broker.host, port, username=ADMIN.username, password=ADMIN.password, **kw
    ) as client:
        await client.publish(TOPIC, payload, qos=1)


async def test_tls_and_login_receive_and_acknowledge(
    secure_broker: Mosquitto, tls_files: TlsFiles
) -> None:
    assert secure_broker.tls_port is not None
    settings = GatewaySettings(
        mqtt_host=secure_broker.host,
        mqtt_port=secure_broker.tls_port,
        mqtt_tls=True,
        mqtt_ca_file=tls_files.ca,
        mqtt_username=GATEWAY.username,
        mqtt_password=GATEWAY.password,
    )
    inbox = Inbox()
    async with running(settings, inbox) as subscriber:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        await publish(secure_broker, tls_files, secure_broker.tls_port, b'{"n":1}')
        await wait_for_async(lambda: len(inbox.messages) == 1, "the message over TLS", within=20.0)
        assert inbox.messages[0][:2] == (TOPIC, b'{"n":1}')
        assert subscriber.unacknowledged == 1
        assert subscriber.ack([inbox.messages[0][2]]) == 1
        assert subscriber.unacknowledged == 0


async def test_a_refused_login_is_reported_with_the_settings_to_fix(
    secure_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    settings = GatewaySettings(
        mqtt_host=secure_broker.host,
        mqtt_port=secure_broker.port,
        mqtt_username=GATEWAY.username,
        mqtt_password="wrong",
    )
    caplog.set_level(logging.ERROR, logger="plantroom.subscriber")
    async with running(settings, Inbox()) as subscriber:
        await wait_for_async(
            lambda: "refused the connection" in caplog.text, "the refusal logged", within=20.0
        )
        assert not subscriber.subscribed.is_set()
    assert "Not authorized (0x87)" in caplog.text  # what mosquitto answers a bad password
    assert "PLANTROOM_MQTT_USERNAME and PLANTROOM_MQTT_PASSWORD" in caplog.text


async def test_an_untrusted_broker_certificate_is_refused(
    secure_broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert secure_broker.tls_port is not None
    other_ca = self_signed(tmp_path).ca  # a CA that did not sign the broker's certificate
    settings = GatewaySettings(
        mqtt_host=secure_broker.host,
        mqtt_port=secure_broker.tls_port,
        mqtt_tls=True,
        mqtt_ca_file=other_ca,
    )
    caplog.set_level(logging.ERROR, logger="plantroom.subscriber")
    async with running(settings, Inbox()) as subscriber:
        await wait_for_async(
            lambda: "cannot reach the broker" in caplog.text, "the refusal logged", within=20.0
        )
        assert not subscriber.subscribed.is_set()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


async def test_a_broker_that_stops_answering_is_dropped_after_the_keepalive(
    fresh_mosquitto: Mosquitto,
) -> None:
    pid = fresh_mosquitto.pid
    assert pid is not None
    settings = GatewaySettings(
        mqtt_host=fresh_mosquitto.host, mqtt_port=fresh_mosquitto.port, mqtt_keepalive=5
    )
    inbox = Inbox()
    async with running(settings, inbox, session_expiry_s=300) as subscriber:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        os.kill(pid, signal.SIGSTOP)
        try:
            # a ping after 5 quiet seconds, no answer for another 5: the link is dropped
            await wait_for_async(
                lambda: not subscriber.subscribed.is_set(), "the link dropped", within=20
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_for_async(lambda: subscriber.subscribed.is_set(), "subscribed again", within=20)
        assert subscriber.connects == 2
        await publish(fresh_mosquitto, None, fresh_mosquitto.port, b'{"n":2}')
        await wait_for_async(
            lambda: len(inbox.messages) == 1, "a message after the freeze", within=20.0
        )
        assert subscriber.ack([inbox.messages[0][2]]) == 1
