"""Plantroom's MQTT 5 connection against real mosquitto: what the edge publisher and the
gateway both stand on."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from plantroom.errors import PlantroomError
from plantroom.mqttclient import MqttConnection
from plantroom.mqttwire import Publish, Will
from plantroom.ports import free_port
from plantroom.settings import MqttSettings
from stack.services import Mosquitto
from tests.harness import unique, wait_for_async

pytestmark = pytest.mark.integration


class Unavailable(PlantroomError):
    pass


def settings(host: str, port: int) -> MqttSettings:
    return MqttSettings(mqtt_host=host, mqtt_port=port, mqtt_keepalive=5)


async def connected(
    broker: Mosquitto, inbox: list[Publish] | None = None, **kw: object
) -> MqttConnection:
    conn = MqttConnection(
        keepalive=5,
        error=Unavailable,
        on_message=inbox.append if inbox is not None else None,
    )
    return await connect(conn, broker, "c", **kw)


async def connect(
    conn: MqttConnection, broker: Mosquitto, prefix: str = "c", **kw: object
) -> MqttConnection:
    """`conn` connected to `broker` with a clean start, a unique client id and no session."""
    async with asyncio.timeout(10):
        await conn.connect(
            settings(broker.host, broker.port),
            client_id=unique(prefix),
            clean_start=True,
            session_expiry_s=0,
            **kw,  # type: ignore[arg-type]
        )
    return conn


async def test_publish_subscribe_and_acknowledge_through_a_real_broker(
    mosquitto: Mosquitto,
) -> None:
    topic = f"test/{unique('t')}"
    inbox: list[Publish] = []
    sub = await connected(mosquitto, inbox)
    acked: list[tuple[int, int]] = []
    pub = MqttConnection(
        keepalive=5, error=Unavailable, on_puback=lambda m, r: acked.append((m, r))
    )
    try:
        await sub.subscribe([topic])
        await connect(pub, mosquitto, "p")
        mids = [pub.publish(topic, f"m{i}".encode()) for i in range(50)]  # one socket write
        assert mids == list(range(1, 51))
        await wait_for_async(lambda: len(acked) == 50, "50 PUBACKs", within=20.0)
        assert sorted(m for m, _ in acked) == mids and {r for _, r in acked} == {0}
        await wait_for_async(lambda: len(inbox) == 50, "50 messages", within=20.0)
        assert [m.payload for m in inbox] == [f"m{i}".encode() for i in range(50)]
        assert sub.puback(m.mid for m in inbox) == 50
    finally:
        await pub.close()
        await sub.close()
    assert pub.closed.done() and pub.closed.exception() is None
    with pytest.raises(Unavailable, match="closed connection"):
        pub.publish(topic, b"late")
    assert sub.puback([1, 2]) == 0  # nothing to acknowledge on a closed connection


async def test_the_brokers_disconnect_reason_reaches_the_caller(mosquitto: Mosquitto) -> None:
    conn = await connected(mosquitto)
    try:
        with pytest.raises(Unavailable, match=r"disconnected by the broker: Malformed packet"):
            async with asyncio.timeout(10):
                await conn.subscribe(["a/#/b"])  # '#' must come last: mosquitto hangs up
        assert conn.closed.done()
    finally:
        await conn.close()


async def test_serve_until_tells_a_stop_from_a_connection_that_ended(
    mosquitto: Mosquitto,
) -> None:
    stop = asyncio.Event()
    conn = await connected(mosquitto)
    try:
        asyncio.get_running_loop().call_later(0.1, stop.set)
        async with asyncio.timeout(10):
            assert await conn.serve_until(stop) is True
        assert conn.is_open
    finally:
        await conn.close()
    async with asyncio.timeout(10):  # closed cleanly: no error to raise, and not a stop
        assert await conn.serve_until(asyncio.Event()) is False
    dropped = await connected(mosquitto)
    dropped.abort(Unavailable("link cut"))
    with pytest.raises(Unavailable, match="link cut"):
        async with asyncio.timeout(10):
            await dropped.serve_until(asyncio.Event())


async def test_an_unreachable_broker_is_named_and_leaves_nothing_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    port = free_port()
    for _ in range(3):
        conn = MqttConnection(keepalive=5, error=Unavailable)
        with pytest.raises(Unavailable, match=f"cannot reach the broker at 127.0.0.1:{port}"):
            await conn.connect(
                settings("127.0.0.1", port),
                client_id="nobody",
                clean_start=True,
                session_expiry_s=0,
            )
        del conn
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_the_will_is_published_when_the_connection_drops_without_disconnect(
    mosquitto: Mosquitto,
) -> None:
    topic = f"test/{unique('will')}"
    inbox: list[Publish] = []
    watcher = await connected(mosquitto, inbox)
    try:
        await watcher.subscribe([topic])
        dying = await connected(mosquitto, will=Will(topic, b"gone", qos=1, retain=False))
        dying.abort()
        await wait_for_async(
            lambda: [m.payload for m in inbox] == [b"gone"], "the will", within=20.0
        )
        assert dying.closed.done()
    finally:
        await watcher.close()


class ForeignTransport:
    """A stream transport that is not a subclass of asyncio's own (as uvloop's are not)."""

    def __init__(self) -> None:
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


async def test_a_transport_of_another_event_loop_is_taken() -> None:
    conn = MqttConnection(keepalive=5, error=Unavailable)
    transport = ForeignTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    assert conn.is_open
    conn.abort()
    assert transport.aborted and not conn.is_open
    conn.connection_lost(None)
