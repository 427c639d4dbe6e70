"""The gateway's MQTT subscription: MQTT 5 on an asyncio connection, with manual acknowledgements.

The gateway acknowledges a QoS 1 message (PUBACK) only once the line it produced is stored
in InfluxDB or in the fsync'd disk buffer, or once it has been dead-lettered. The subscriber
is its own small MQTT 5 client (`plantroom.mqttwire` frames the packets): an asyncio protocol
reads the socket in large chunks and splits them into messages in one pass, which is where a
general-purpose client library spends most of a busy gateway's CPU (see docs/decisions.md).

The session is MQTT 5 with `clean_start=False` and a Session Expiry Interval, under a client
id fixed by the gateway id, so the broker keeps what was delivered but not acknowledged (and
the gateway's share of new messages) while the gateway restarts, and redelivers it. The
Receive Maximum announced in CONNECT bounds how many unacknowledged messages the broker
sends, which bounds the gateway's memory and gives back-pressure when InfluxDB is slow. The
subscriber enforces the same bound itself: holding that many unacknowledged messages, it stops
reading the socket until acknowledgements make room (mosquitto 2.0.11 stops honouring a
client's Receive Maximum once the client has acknowledged queued messages, and would
otherwise stream a whole backlog into the gateway's memory).

Keepalive: a PINGREQ goes out when nothing was sent for `mqtt_keepalive` seconds; a
connection that then brings nothing back for another keepalive period is dropped. While
reading is paused at the Receive Maximum the answer sits unread in the socket, so a missing
PINGRESP does not count against the broker then.

Acknowledgement tokens carry the connection generation: after a reconnect, tokens from the
old connection are void (the broker redelivers those messages on the new one).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Sequence

from gateway.backoff import Backoff, RetryPolicy
from plantroom.errors import PlantroomError
from plantroom.mqttwire import (
    CONNACK,
    DISCONNECT,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    SUBACK,
    MalformedPacket,
    Packet,
    PacketReader,
    Publish,
    connack_reason,
    connect_packet,
    disconnect_reason,
    puback_packet,
    reason_text,
    suback_reasons,
    subscribe_packet,
)
from plantroom.settings import MqttSettings

log = logging.getLogger(__name__)

AckToken = tuple[int, int, int]
"""(connection generation, message id, QoS) of one delivered message."""

MessageHandler = Callable[[Publish, AckToken], None]

MAX_RECEIVE_MAXIMUM = 65_535
SUBSCRIBE_ID = 1
KEEPALIVE_CHECK_S = 1.0


class MqttUnavailable(PlantroomError):
    """The broker could not be reached, refused the connection or the subscription."""


class _Connection(asyncio.Protocol):
    """The socket side of one connection; everything it reads goes to its subscriber."""

    def __init__(self, owner: Subscriber) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = owner._loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.owner._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        self.owner._connection_lost(self, exc)


class Subscriber:
    """One MQTT 5 connection, QoS 1 subscriptions to its filters, reconnecting with backoff."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        topic_filters: Sequence[str],
        on_message: MessageHandler,
        receive_maximum: int,
        session_expiry_s: int,
        retry: RetryPolicy,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        if not topic_filters:
            raise ValueError("Subscriber needs at least one topic filter")
        self._topic_filters = tuple(topic_filters)
        self._handler = on_message
        self._receive_maximum = max(1, min(MAX_RECEIVE_MAXIMUM, receive_maximum))
        self._session_expiry_s = session_expiry_s
        self._retry = retry
        self._connect_timeout_s = connect_timeout_s
        self._keepalive = settings.mqtt_keepalive
        self.client_id = client_id
        self.subscribed = asyncio.Event()
        self.generation = 0
        self.deliveries = 0
        self.connects = 0
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._conn: _Connection | None = None
        self._reader = PacketReader()
        self._connack: asyncio.Future[None] | None = None
        self._suback: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._unacked = 0
        self._reading_paused = False
        self._resume_scheduled = False
        self._last_sent = 0.0
        self._last_heard = 0.0
        self._ping_sent: float | None = None
        self._ssl = self._ssl_context()

    def _ssl_context(self) -> ssl.SSLContext | None:
        s = self._settings
        if not s.mqtt_tls:
            return None
        ca = str(s.mqtt_ca_file) if s.mqtt_ca_file else None
        try:
            return ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise MqttUnavailable(
                f"PLANTROOM_MQTT_CA_FILE {s.mqtt_ca_file}: not a readable CA certificate ({exc})"
            ) from exc

    # -- the connection -------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        conn = self._conn
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.transport.write(data)
            self._last_sent = time.monotonic()

    def _fail(self, exc: BaseException) -> None:
        """Hand an error to whichever step the session is waiting on, and drop the link."""
        for fut in (self._connack, self._suback, self._closed):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                break
        conn = self._conn
        if conn is not None and conn.transport is not None:
            conn.transport.abort()

    def _received(self, conn: _Connection, data: bytes) -> None:
        if conn is not self._conn:
            return
        self._last_heard = time.monotonic()
        self._ping_sent = None
        self._reader.feed(data)
        self._drain()

    def _drain(self) -> None:
        """Hand out every whole packet read so far, up to the Receive Maximum."""
        reader, limit, handler = self._reader, self._receive_maximum, self._handler
        try:
            while self._unacked < limit:
                packet = reader.next()
                if packet is None:
                    return
                if type(packet) is Publish:
                    self.deliveries += 1
                    if packet.qos:
                        self._unacked += 1
                    handler(packet, (self.generation, packet.mid, packet.qos))
                else:
                    assert isinstance(packet, Packet)
                    self._control(packet)
            # full: leave the rest unread (in this buffer, the socket and the broker) until
            # acknowledgements make room, which is as long as the oldest batch takes to be
            # stored or buffered on disk; should the connection drop meanwhile, the broker
            # redelivers what was not acknowledged: nothing is lost
            conn = self._conn
            if conn is not None and conn.transport is not None and not self._reading_paused:
                self._reading_paused = True
                conn.transport.pause_reading()
        except MalformedPacket as exc:
            self._fail(MqttUnavailable(f"malformed packet from the broker: {exc}"))
        except Exception as exc:  # a bug in a handler: stop the connection, surface the error
            self._fail(exc)

    def _control(self, packet: Packet) -> None:
        if packet.type == CONNACK:
            self._on_connack(packet)
        elif packet.type == SUBACK:
            self._on_suback(packet)
        elif packet.type == DISCONNECT:
            reason = reason_text(disconnect_reason(packet))
            self._fail(MqttUnavailable(f"disconnected by the broker: {reason}"))
        # PINGRESP (and a stray PUBACK) only prove the link is alive: `_received` noted that

    def _on_connack(self, packet: Packet) -> None:
        fut = self._connack
        if fut is None or fut.done():
            return
        session_present, code = connack_reason(packet)
        if code >= 0x80:
            hint = ""
            if code in (0x86, 0x87):  # bad user name or password, not authorized
                hint = "; set PLANTROOM_MQTT_USERNAME and PLANTROOM_MQTT_PASSWORD"
            fut.set_exception(
                MqttUnavailable(f"broker refused the connection: {reason_text(code)}{hint}")
            )
            return
        self.generation += 1
        self._unacked = 0
        log.debug("connected (session present: %s)", session_present)
        fut.set_result(None)

    def _on_suback(self, packet: Packet) -> None:
        fut = self._suback
        mid, reasons = suback_reasons(packet)
        if fut is None or fut.done() or mid != SUBSCRIBE_ID:
            return
        failed = [
            (topic_filter, code)
            for topic_filter, code in zip(self._topic_filters, reasons, strict=False)
            if code >= 0x80
        ]
        if failed:
            topic_filter, code = failed[0]
            fut.set_exception(
                MqttUnavailable(
                    f"broker refused the subscription {topic_filter!r}: {reason_text(code)}"
                )
            )
        else:
            fut.set_result(None)

    def _connection_lost(self, conn: _Connection, exc: Exception | None) -> None:
        if conn is not self._conn:
            return
        self.subscribed.clear()
        lost = MqttUnavailable(f"connection to the broker lost: {exc or 'closed by the broker'}")
        for fut in (self._connack, self._suback):
            if fut is not None and not fut.done():
                fut.set_exception(lost)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    @property
    def unacknowledged(self) -> int:
        """QoS 1/2 messages of the current connection delivered and not yet acknowledged."""
        return self._unacked

    @property
    def reading_paused(self) -> bool:
        """True while the subscriber holds Receive Maximum unacknowledged messages."""
        return self._reading_paused

    def _resume_reading(self) -> None:
        self._resume_scheduled = False
        conn = self._conn
        if not self._reading_paused or conn is None or conn.transport is None:
            return
        self._reading_paused = False
        self._drain()  # what was read before the pause first
        if not self._reading_paused and not conn.transport.is_closing():
            conn.transport.resume_reading()

    # -- acknowledgements -----------------------------------------------------------------

    def ack(self, tokens: Iterable[AckToken]) -> int:
        """PUBACK the messages of the current connection; returns how many were acknowledged."""
        generation = self.generation
        packets = [
            puback_packet(mid)
            for token_generation, mid, qos in tokens
            if qos and token_generation == generation
        ]
        if not packets or self._conn is None:
            return 0
        self._send(b"".join(packets))
        self._unacked = max(0, self._unacked - len(packets))
        if self._reading_paused and not self._resume_scheduled:
            self._resume_scheduled = True
            self._loop.call_soon(self._resume_reading)
        return len(packets)

    # -- lifecycle ------------------------------------------------------------------------

    async def _keepalive_loop(self, conn: _Connection) -> None:
        """PINGREQ after a quiet keepalive period; drop a link that stays silent after it."""
        period = float(self._keepalive)
        while conn is self._conn:
            await asyncio.sleep(KEEPALIVE_CHECK_S)
            now = time.monotonic()
            if self._ping_sent is not None:
                if not self._reading_paused and now - self._ping_sent >= period:
                    self._fail(MqttUnavailable(f"no answer from the broker for {period:.0f} s"))
                    return
            elif now - self._last_sent >= period or now - self._last_heard >= period:
                self._send(PINGREQ_PACKET)
                self._ping_sent = now

    async def _open(self) -> _Connection:
        s = self._settings
        conn = _Connection(self)
        try:
            await self._loop.create_connection(
                lambda: conn,
                s.mqtt_host,
                s.mqtt_port,
                ssl=self._ssl,
                server_hostname=s.mqtt_host if self._ssl is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise MqttUnavailable(
                f"cannot reach the broker at {s.mqtt_host}:{s.mqtt_port}: {exc}"
            ) from exc
        return conn

    async def _session(self) -> None:
        """One connection: connect, subscribe, serve until it drops or stop() is called."""
        loop, s = self._loop, self._settings
        self._connack = loop.create_future()
        self._closed = loop.create_future()
        self._suback = None
        self._reader = PacketReader()
        self._unacked = 0
        self._reading_paused = False
        self._ping_sent = None
        conn: _Connection | None = None
        keepalive: asyncio.Task[None] | None = None
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                conn = await self._open()
                self._conn = conn
                self._last_heard = time.monotonic()
                password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
                self._send(
                    connect_packet(
                        self.client_id,
                        keepalive=self._keepalive,
                        clean_start=False,
                        session_expiry_s=self._session_expiry_s,
                        receive_maximum=self._receive_maximum,
                        username=s.mqtt_username,
                        password=password if s.mqtt_username is not None else None,
                    )
                )
                keepalive = asyncio.create_task(
                    self._keepalive_loop(conn), name="gateway-mqtt-keepalive"
                )
                await self._connack
                if self._stopping.is_set():
                    return
                self._suback = loop.create_future()
                self._send(subscribe_packet(SUBSCRIBE_ID, self._topic_filters))
                await self._suback
            self.connects += 1
            if self._stopping.is_set():
                return
            self.subscribed.set()
            log.info(
                "subscribed to %s at %s:%d as %s",
                ", ".join(self._topic_filters),
                s.mqtt_host,
                s.mqtt_port,
                self.client_id,
            )
            await self._closed
        except TimeoutError as exc:
            raise MqttUnavailable("the broker did not answer CONNECT/SUBSCRIBE in time") from exc
        finally:
            self.subscribed.clear()
            if keepalive is not None:
                keepalive.cancel()
            if conn is not None:
                await self._close(conn)
            self._conn = None
            if keepalive is not None:
                await asyncio.gather(keepalive, return_exceptions=True)

    async def _close(self, conn: _Connection) -> None:
        """Say DISCONNECT after what is queued (PUBACKs first) and wait for the socket."""
        transport = conn.transport
        if transport is None or conn.lost.done():
            return
        if not transport.is_closing():
            transport.write(DISCONNECT_PACKET)
            transport.close()  # flushes the write buffer before closing
        try:
            async with asyncio.timeout(2.0):
                await asyncio.shield(conn.lost)
        except TimeoutError:
            transport.abort()

    async def run(self) -> None:
        """Stay connected and subscribed until stop(); reconnect with jittered backoff."""
        backoff = Backoff(self._retry)
        down_logged = False
        while not self._stopping.is_set():
            try:
                await self._session()
            except MqttUnavailable as exc:
                if not down_logged:
                    log.error("MQTT: %s; retrying", exc)
                    down_logged = True
                else:
                    log.debug("MQTT still unavailable: %s", exc)
            else:
                if self._stopping.is_set():
                    break
                log.warning("MQTT connection lost; reconnecting")
                backoff.reset()
                down_logged = False
            delay = backoff.next_delay()
            try:
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    def stop(self) -> None:
        """Disconnect cleanly (queued PUBACKs go out first); run() then returns."""
        self._stopping.set()
        closed = self._closed
        if self._conn is not None and closed is not None and not closed.done():
            closed.set_result(None)
