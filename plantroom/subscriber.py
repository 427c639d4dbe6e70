"""An MQTT 5 subscriber with manual acknowledgements, on Plantroom's own asyncio connection.

A consumer acknowledges a QoS 1 message (PUBACK) only once it has done with it: the gateway
once the line it produced is stored in InfluxDB or in the fsync'd disk buffer (or
dead-lettered), the cloud once the message is in its processing queue. The connection is
Plantroom's own MQTT 5 client (`plantroom.mqttclient`): it reads the socket in large chunks
and frames every message in them in one pass, where a general-purpose client library spends
most of a busy consumer's CPU (see docs/decisions.md).

With `clean_start=False` and a Session Expiry Interval, under a fixed client id, the broker
keeps what was delivered but not acknowledged (and the consumer's share of new messages)
while the consumer restarts, and redelivers it. The Receive Maximum announced in CONNECT
bounds how many unacknowledged messages the broker sends, which bounds the consumer's memory
and gives back-pressure when it is slow. The subscriber enforces the same bound itself:
holding that many unacknowledged messages, it stops reading the socket until
acknowledgements make room (mosquitto 2.0.11 stops honouring a client's Receive Maximum once
the client has acknowledged queued messages, and would otherwise stream a whole backlog into
the consumer's memory).

Acknowledgement tokens carry the connection generation: after a reconnect, tokens from the
old connection are void (the broker redelivers those messages on the new one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence

from plantroom.backoff import Backoff
from plantroom.errors import BrokerUnavailable
from plantroom.mqttclient import MqttConnection
from plantroom.mqttwire import Publish
from plantroom.settings import MqttSettings
from plantroom.tls import mqtt_client_context

log = logging.getLogger(__name__)

AckToken = tuple[int, int, int]
"""(connection generation, message id, QoS) of one delivered message."""

MessageHandler = Callable[[Publish, AckToken], None]
ConnectionHandler = Callable[[bool, str | None], None]
"""Told (True, None) once subscribed, (False, why) when the connection ends or fails."""

MAX_RECEIVE_MAXIMUM = 65_535


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
        backoff: Backoff,
        clean_start: bool = False,
        on_connection: ConnectionHandler | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        if not topic_filters:
            raise ValueError("Subscriber needs at least one topic filter")
        self._topic_filters = tuple(topic_filters)
        self._handler = on_message
        self._receive_maximum = max(1, min(MAX_RECEIVE_MAXIMUM, receive_maximum))
        self._session_expiry_s = session_expiry_s
        self._backoff = backoff
        self._clean_start = clean_start
        self._on_connection = on_connection
        self._connect_timeout_s = connect_timeout_s
        self._tls = mqtt_client_context(settings)
        self.client_id = client_id
        self.subscribed = asyncio.Event()
        self.generation = 0
        self.deliveries = 0
        self.connects = 0
        self._stopping = asyncio.Event()
        self._conn: MqttConnection | None = None
        self._unacked = 0
        self._resume_scheduled = False

    # -- messages and acknowledgements ------------------------------------------------------

    def _on_message(self, message: Publish) -> None:
        self.deliveries += 1
        if message.qos:
            self._unacked += 1
        self._handler(message, (self.generation, message.mid, message.qos))

    def _can_deliver(self) -> bool:
        # full: the rest waits (in the connection, the socket and the broker) until
        # acknowledgements make room, which is as long as the oldest batch takes to be stored
        # or buffered on disk; should the connection drop meanwhile, the broker redelivers
        # what was not acknowledged: nothing is lost
        return self._unacked < self._receive_maximum

    @property
    def unacknowledged(self) -> int:
        """QoS 1/2 messages of the current connection delivered and not yet acknowledged."""
        return self._unacked

    @property
    def reading_paused(self) -> bool:
        """True while the subscriber holds Receive Maximum unacknowledged messages."""
        return self._conn is not None and self._conn.held

    def ack(self, tokens: Iterable[AckToken]) -> int:
        """PUBACK the messages of the current connection; returns how many were acknowledged."""
        conn = self._conn
        if conn is None:
            return 0
        generation = self.generation
        sent = conn.puback(
            mid for token_generation, mid, qos in tokens if qos and token_generation == generation
        )
        if sent:
            self._unacked = max(0, self._unacked - sent)
            if conn.held and not self._resume_scheduled:
                self._resume_scheduled = True
                asyncio.get_running_loop().call_soon(self._resume, conn)
        return sent

    def _resume(self, conn: MqttConnection) -> None:
        self._resume_scheduled = False
        if conn is self._conn:
            conn.resume()

    # -- lifecycle ------------------------------------------------------------------------

    async def _session(self) -> None:
        """One connection: connect, subscribe, serve until it drops or stop() is called."""
        s = self._settings
        self._unacked = 0
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                conn = MqttConnection(
                    keepalive=s.mqtt_keepalive,
                    error=BrokerUnavailable,
                    on_message=self._on_message,
                    can_deliver=self._can_deliver,
                )
                # a new generation before CONNACK: messages can come in the same read
                self.generation += 1
                self._conn = conn
                try:
                    await conn.connect(
                        s,
                        client_id=self.client_id,
                        clean_start=self._clean_start,
                        session_expiry_s=self._session_expiry_s,
                        receive_maximum=self._receive_maximum,
                        tls=self._tls,
                    )
                except BaseException:
                    self._conn = None
                    raise
                log.debug("connected (session present: %s)", conn.session_present)
                try:
                    if not self._stopping.is_set():
                        await conn.subscribe(self._topic_filters)
                except BaseException:
                    await self._end(conn)
                    raise
        except TimeoutError as exc:
            raise BrokerUnavailable("the broker did not answer CONNECT/SUBSCRIBE in time") from exc
        try:
            self.connects += 1
            if self._stopping.is_set():
                return
            self.subscribed.set()
            if self._on_connection is not None:
                self._on_connection(True, None)
            log.info(
                "subscribed to %s at %s:%d as %s",
                ", ".join(self._topic_filters),
                s.mqtt_host,
                s.mqtt_port,
                self.client_id,
            )
            await conn.serve_until(self._stopping)
        finally:
            await self._end(conn)

    async def _end(self, conn: MqttConnection) -> None:
        self.subscribed.clear()
        await conn.close()
        if self._conn is conn:
            self._conn = None

    async def run(self) -> None:
        """Stay connected and subscribed until stop(); reconnect with jittered backoff."""
        backoff = self._backoff
        down_logged = False
        while not self._stopping.is_set():
            try:
                await self._session()
            except BrokerUnavailable as exc:
                if self._on_connection is not None:
                    self._on_connection(False, str(exc))
                if not down_logged:
                    log.error("MQTT: %s; retrying", exc)
                    down_logged = True
                else:
                    log.debug("MQTT still unavailable: %s", exc)
            else:
                if self._stopping.is_set():
                    break
                if self._on_connection is not None:
                    self._on_connection(False, "connection closed")
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
