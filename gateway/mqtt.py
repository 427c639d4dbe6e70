"""The gateway's MQTT subscription: paho-mqtt on the asyncio loop, with manual acknowledgements.

The gateway acknowledges a QoS 1 message (PUBACK) only once the line it produced is stored
in InfluxDB or in the fsync'd disk buffer, or once it has been dead-lettered. paho-mqtt's
`manual_ack` makes that possible; aiomqtt acknowledges on receipt, so this module drives
paho directly on the event loop (socket readiness callbacks, `loop_misc` once a second).

The session is MQTT 5 with `clean_start=False` and a Session Expiry Interval, under a client
id fixed by the gateway id, so the broker keeps what was delivered but not acknowledged (and
the gateway's share of new messages) while the gateway restarts, and redelivers it. The
Receive Maximum announced in CONNECT bounds how many unacknowledged messages the broker
sends, which bounds the gateway's memory and gives back-pressure when InfluxDB is slow. The
subscriber enforces the same bound itself: holding that many unacknowledged messages, it stops
reading the socket until acknowledgements make room (mosquitto 2.0.11 stops honouring a
client's Receive Maximum once the client has acknowledged queued messages, and would
otherwise stream a whole backlog into the gateway's memory).

Acknowledgement tokens carry the connection generation: after a reconnect, tokens from the
old connection are void (the broker redelivers those messages on the new one).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.backoff import Backoff, RetryPolicy
from plantroom.errors import PlantroomError
from plantroom.settings import MqttSettings

log = logging.getLogger(__name__)

AckToken = tuple[int, int, int]
"""(connection generation, message id, QoS) of one delivered message."""

MessageHandler = Callable[[mqtt.MQTTMessage, AckToken], None]

MAX_RECEIVE_MAXIMUM = 65_535
READS_PER_WAKEUP = 256


class MqttUnavailable(PlantroomError):
    """The broker could not be reached, refused the connection or the subscription."""


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
        self.client_id = client_id
        self.subscribed = asyncio.Event()
        self.generation = 0
        self.deliveries = 0
        self.connects = 0
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = asyncio.Event()
        self._connack: asyncio.Future[None] | None = None
        self._suback: asyncio.Future[None] | None = None
        self._suback_mid: int | None = None
        self._closed: asyncio.Future[None] | None = None
        self._fd: int | None = None
        self._unacked = 0
        self._reading_paused = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-mqtt")

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        client.connect_timeout = connect_timeout_s
        if settings.mqtt_username is not None:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls:
            ca = str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None
            client.tls_set(ca_certs=ca)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        self._client = client

    # -- paho callbacks (loop thread, except socket_open during connect) -------------------

    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _watch(self, sock: Any) -> None:
        current = self._client.socket()
        if current is None or current is not sock:
            return
        self._fd = current.fileno()
        self._unacked = 0  # a new connection: what the old one delivered is void here
        self._reading_paused = False
        self._loop.add_reader(self._fd, self._read)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch, sock.fileno())

    def _unwatch(self, fd: int) -> None:
        if fd >= 0 and fd == self._fd:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
            self._fd = None
            self._reading_paused = False

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch_write, sock)

    def _watch_write(self, sock: Any) -> None:
        if self._client.socket() is sock and self._fd is not None:
            self._loop.add_writer(self._fd, self._write)

    def _on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch_write, sock.fileno())

    def _unwatch_write(self, fd: int) -> None:
        if fd >= 0 and fd == self._fd:
            self._loop.remove_writer(fd)

    def _fail(self, exc: BaseException) -> None:
        """Hand an unexpected error to whichever step the session is waiting on."""
        for fut in (self._connack, self._suback, self._closed):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
                return

    @property
    def unacknowledged(self) -> int:
        """QoS 1/2 messages of the current connection delivered and not yet acknowledged."""
        return self._unacked

    @property
    def reading_paused(self) -> bool:
        """True while the subscriber holds Receive Maximum unacknowledged messages."""
        return self._reading_paused

    def _read(self) -> None:
        if self._reading_paused:
            return
        client = self._client
        limit = self._receive_maximum
        try:
            for _ in range(READS_PER_WAKEUP):
                if self._unacked >= limit:
                    break
                before = self.deliveries
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS or self.deliveries == before:
                    break
            if self._unacked >= limit and self._fd is not None:
                # full: leave the rest in the socket (and the broker) until acks make room,
                # which is as long as the oldest batch takes to be stored or buffered on
                # disk. Should that outlast two keepalive periods, paho drops the connection
                # and the broker redelivers what was not acknowledged: nothing is lost.
                self._reading_paused = True
                self._loop.remove_reader(self._fd)
                return
            sock = client.socket()
            while isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                    break
        except Exception as exc:  # a bug in a handler: stop the connection, surface the error
            self._fail(exc)

    def _resume_reading(self) -> None:
        if self._reading_paused and self._fd is not None:
            self._reading_paused = False
            self._loop.add_reader(self._fd, self._read)
            self._loop.call_soon(self._read)

    def _write(self) -> None:
        try:
            self._client.loop_write()
        except Exception as exc:
            self._fail(exc)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        fut = self._connack
        if fut is None or fut.done():
            return
        if reason.is_failure:
            hint = ""
            if reason.value in (0x86, 0x87):  # bad user name or password, not authorized
                hint = "; set PLANTROOM_MQTT_USERNAME and PLANTROOM_MQTT_PASSWORD"
            fut.set_exception(MqttUnavailable(f"broker refused the connection: {reason}{hint}"))
            return
        self.generation += 1
        self._unacked = 0
        log.debug("connected (session present: %s)", flags.session_present)
        fut.set_result(None)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.subscribed.clear()
        exc = MqttUnavailable(f"disconnected from the broker: {reason}")
        for fut in (self._connack, self._suback):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        fut = self._suback
        if fut is None or fut.done() or mid != self._suback_mid:
            return
        failed = [
            (topic_filter, r)
            for topic_filter, r in zip(self._topic_filters, reasons, strict=False)
            if r.is_failure
        ]
        if failed:
            topic_filter, reason = failed[0]
            fut.set_exception(
                MqttUnavailable(f"broker refused the subscription {topic_filter!r}: {reason}")
            )
        else:
            fut.set_result(None)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.deliveries += 1
        if message.qos:
            self._unacked += 1
        self._handler(message, (self.generation, message.mid, message.qos))

    # -- acknowledgements -----------------------------------------------------------------

    def ack(self, tokens: Iterable[AckToken]) -> int:
        """PUBACK the messages of the current connection; returns how many were acknowledged."""
        generation = self.generation
        client = self._client
        sent = 0
        for token_generation, mid, qos in tokens:
            if qos and token_generation == generation:
                client.ack(mid, qos)
                sent += 1
        if sent:
            self._unacked = max(0, self._unacked - sent)
            if self._unacked < self._receive_maximum:
                self._resume_reading()
        return sent

    # -- lifecycle ------------------------------------------------------------------------

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = self._receive_maximum
        props.SessionExpiryInterval = self._session_expiry_s
        return props

    def _connect_blocking(self) -> None:
        self._client.connect(
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            keepalive=self._settings.mqtt_keepalive,
            clean_start=False,
            properties=self._connect_properties(),
        )

    async def _misc(self) -> None:
        """Keepalive pings and timeouts, once a second, until the connection ends."""
        while True:
            if self._client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                return
            await asyncio.sleep(1.0)

    async def _session(self) -> None:
        """One connection: connect, subscribe, serve until it drops or stop() is called."""
        loop = self._loop
        self._connack = loop.create_future()
        self._closed = loop.create_future()
        try:
            await loop.run_in_executor(self._executor, self._connect_blocking)
        except (OSError, ValueError) as exc:
            raise MqttUnavailable(
                f"cannot reach the broker at {self._settings.mqtt_host}:"
                f"{self._settings.mqtt_port}: {exc}"
            ) from exc
        misc = asyncio.create_task(self._misc(), name="gateway-mqtt-keepalive")
        try:
            if self._stopping.is_set():
                return
            async with asyncio.timeout(self._connect_timeout_s):
                await self._connack
                self._suback = loop.create_future()
                result, mid = self._client.subscribe([(f, 1) for f in self._topic_filters])
                if result != mqtt.MQTT_ERR_SUCCESS:
                    raise MqttUnavailable(f"could not subscribe: {mqtt.error_string(result)}")
                self._suback_mid = mid
                await self._suback
            self.connects += 1
            if self._stopping.is_set():
                return
            self.subscribed.set()
            log.info(
                "subscribed to %s at %s:%d as %s",
                ", ".join(self._topic_filters),
                self._settings.mqtt_host,
                self._settings.mqtt_port,
                self.client_id,
            )
            await self._closed
        except TimeoutError as exc:
            raise MqttUnavailable("the broker did not answer CONNECT/SUBSCRIBE in time") from exc
        finally:
            self.subscribed.clear()
            misc.cancel()
            if self._client.socket() is not None and not self._closed.done():
                self._client.disconnect()
                try:
                    async with asyncio.timeout(2.0):
                        await asyncio.shield(self._closed)
                except (TimeoutError, MqttUnavailable):
                    pass
            sock = self._client.socket()
            if sock is not None:  # the broker did not see us off: drop the connection
                if self._fd is not None:
                    self._unwatch(self._fd)
                sock.close()
            await asyncio.gather(misc, return_exceptions=True)

    async def run(self) -> None:
        """Stay connected and subscribed until stop(); reconnect with jittered backoff."""
        backoff = Backoff(self._retry)
        down_logged = False
        try:
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
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Disconnect cleanly (queued PUBACKs go out first); run() then returns."""
        self._stopping.set()
        if self._client.socket() is not None:
            self._client.disconnect()
