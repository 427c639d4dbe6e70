"""MQTT out (and vendor topics in): one persistent session per agent.

The publisher drains the on-disk buffer in order, QoS 1, deleting samples only once the
broker acknowledged them (PUBACK). It keeps the agent's own status (`online` on connect, the
retained LWT `offline` if the agent dies, an explicit `offline` on a clean stop) and the
retained per-equipment statuses. While the broker is unreachable it retries with jittered
exponential backoff; polling carries on into the buffer meanwhile.

paho-mqtt is driven directly on the asyncio loop (socket readiness callbacks, `loop_misc`
on a one-second timer), without a task or future per message: samples leave the buffer in
batches, at most `window` of them unacknowledged at a time, each PUBLISH's message id mapped
to its buffer row. Buffer rows are acknowledged in send order, one DELETE for every run of
acknowledged samples, so a sample is never forgotten before every earlier one was
acknowledged too. A sample whose PUBACK does not come within `publish_timeout` drops the
connection, and the next one sends everything still in the buffer again (at least once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.availability import StatusChange
from edge.buffer import SampleBuffer
from edge.errors import BrokerUnavailable
from edge.modbus import backoff_delay
from plantroom.settings import MqttSettings
from plantroom.topics import edge_status

log = logging.getLogger(__name__)

VendorHandler = Callable[[str, bytes, int], None]

MISC_INTERVAL_S = 1.0  # keepalive pings, PINGRESP and PUBACK timeouts
DISCONNECT_WAIT_S = 2.0


@dataclass(slots=True)
class PublisherStats:
    connected: bool = False
    connects: int = 0
    published: int = 0
    statuses_published: int = 0
    vendor_messages: int = 0
    max_in_flight: int = 0  # the most samples ever waiting for their PUBACK at once
    last_error: str | None = None


def client_id(agent_id: str) -> str:
    return f"plantroom-edge-{agent_id}"


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _fail(waiter: asyncio.Future[None] | None, exc: BaseException) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_exception(exc)


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        buffer: SampleBuffer,
        *,
        site: str,
        agent_id: str,
        vendor_topics: list[str] | None = None,
        on_vendor_message: VendorHandler | None = None,
        window: int = 100,
        publish_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.settings = settings
        self.buffer = buffer
        self.agent_id = agent_id
        self.status_topic = edge_status(site, agent_id)
        self.vendor_topics = list(vendor_topics or [])
        self.on_vendor_message = on_vendor_message
        self.window = window
        self.refill_at = max(window // 2, 1)  # refill the window once this few are in flight
        self.publish_timeout = publish_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._statuses: dict[str, bytes] = {}
        self._dirty: set[str] = set()
        self._stop = asyncio.Event()
        self._drain_s = 0.0
        self.stats = PublisherStats()
        self._outage_started: float | None = None
        self.connected_event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = threading.get_ident()
        self._executor: ThreadPoolExecutor | None = None
        # one connection's state (reset by `_session`)
        self._client: mqtt.Client | None = None
        self._fd: int | None = None
        self._writer_added = False
        self._flush_scheduled = False
        self._flushing = False
        self._misc_timer: asyncio.TimerHandle | None = None
        self._connack: asyncio.Future[None] | None = None
        self._suback: asyncio.Future[None] | None = None
        self._suback_mid: int | None = None
        self._closed: asyncio.Future[None] | None = None
        self._acked_waiter: asyncio.Future[None] | None = None
        self._offline_mid: int | None = None
        self._offline_acked: asyncio.Future[None] | None = None
        self._ready = False  # CONNACK and SUBACK in: samples may go out
        # samples in flight, in send order: (message id, buffer row id, monotonic send time)
        self._inflight: deque[tuple[int, int, float]] = deque()
        self._acked: set[int] = set()  # message ids of samples acknowledged out of order
        self._status_mids: set[int] = set()
        self._control_mids: set[int] = set()  # `online` and `offline`
        self._after = 0  # the last buffer row id handed to the broker on this connection

    @property
    def in_flight(self) -> int:
        """Samples sent on the current connection and not yet acknowledged."""
        return len(self._inflight)

    # -- called by the agent ------------------------------------------------------------

    def notify(self) -> None:
        """New committed samples are waiting in the buffer."""
        if self._ready:
            self._fill()

    def set_status(self, topic: str, change: StatusChange) -> None:
        """Publish (retained) an equipment's status; the latest one wins while offline."""
        self._statuses[topic] = json.dumps(change.payload(), separators=(",", ":")).encode()
        self._dirty.add(topic)
        if self._ready:
            self._publish_statuses()

    def request_stop(self, drain_s: float = 0.0) -> None:
        """Send what is queued for up to `drain_s` seconds, publish `offline`, disconnect
        cleanly and return from `run()`. Whatever is left stays queued for the next start."""
        self._drain_s = max(drain_s, 0.0)
        self._stop.set()
        _wake(self._acked_waiter)

    # -- the paho client and its socket on the event loop -------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id(self.agent_id),
            clean_session=False,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        client.connect_timeout = self.publish_timeout
        client.max_inflight_messages_set(0)  # the window below bounds the samples in flight
        if s.mqtt_username is not None:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            client.username_pw_set(s.mqtt_username, password)
        if s.mqtt_tls:
            ca = str(s.mqtt_ca_file) if s.mqtt_ca_file else None
            client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        return client

    def _in_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn` on the event loop (paho calls some callbacks from the connect thread)."""
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, client, sock)

    def _watch(self, client: mqtt.Client, sock: Any) -> None:
        current = client.socket()
        if client is not self._client or current is None or current is not sock:
            return
        assert self._loop is not None
        self._fd = current.fileno()
        self._loop.add_reader(self._fd, self._read)
        self._want_write()

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch, sock.fileno())

    def _unwatch(self, fd: int) -> None:
        if fd >= 0 and fd == self._fd and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
            self._fd = None
            self._writer_added = False

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._want_write)

    def _want_write(self) -> None:
        """paho has packets to send: write them once this turn of the loop is done, so a
        batch of publishes goes out together."""
        if self._flushing or self._flush_scheduled or self._writer_added or self._loop is None:
            return
        self._flush_scheduled = True
        self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        client, loop, fd = self._client, self._loop, self._fd
        if client is None or loop is None or fd is None:
            return
        self._flushing = True
        try:
            client.loop_write()
        except Exception as exc:  # a bug, not the network (paho reports that by return code)
            self._lost(exc)
        finally:
            self._flushing = False
        if self._fd != fd:
            return  # the write found the connection gone
        if client.want_write():
            if not self._writer_added:
                loop.add_writer(fd, self._flush)  # the socket is full: wait until it drains
                self._writer_added = True
        elif self._writer_added:
            loop.remove_writer(fd)
            self._writer_added = False

    def _read(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            client.loop_read()
            sock = client.socket()
            while isinstance(sock, ssl.SSLSocket) and sock.pending() > 0:
                if client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                    break
        except Exception as exc:  # a bug in a handler: stop the connection, surface it
            self._lost(exc)
            return
        if self._inflight and self._inflight[0][0] in self._acked:
            self._release_acked()

    def _misc(self) -> None:
        client, loop = self._client, self._loop
        if client is None or loop is None:
            return
        client.loop_misc()
        if self._client is not client:
            return
        inflight = self._inflight
        if inflight and time.monotonic() - inflight[0][2] > self.publish_timeout:
            self._lost(
                BrokerUnavailable(f"no PUBACK within {self.publish_timeout:.0f} s; reconnecting")
            )
            return
        self._misc_timer = loop.call_later(MISC_INTERVAL_S, self._misc)

    def _lost(self, exc: BaseException) -> None:
        """End the connection with `exc` (whatever step the session is waiting on raises it)."""
        self._ready = False
        _fail(self._offline_acked, exc)
        _wake(self._acked_waiter)
        for waiter in (self._connack, self._suback, self._closed):
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
                return

    # -- paho protocol callbacks (event loop thread) -------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            hint = ""
            if reason.value in (0x86, 0x87):  # bad user name or password, not authorized
                hint = "; check PLANTROOM_MQTT_USERNAME and PLANTROOM_MQTT_PASSWORD"
            _fail(
                self._connack, BrokerUnavailable(f"broker refused the connection: {reason}{hint}")
            )
            return
        _wake(self._connack)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if client is not self._client:
            return
        self._ready = False
        exc = BrokerUnavailable(f"disconnected from the broker: {reason}")
        _fail(self._connack, exc)
        _fail(self._suback, exc)
        _fail(self._offline_acked, exc)
        _fail(self._closed, exc)
        _wake(self._acked_waiter)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._suback_mid:
            return
        failed = [
            (topic, r)
            for topic, r in zip(self.vendor_topics, reasons, strict=False)
            if r.is_failure
        ]
        if failed:
            topic, reason = failed[0]
            _fail(
                self._suback,
                BrokerUnavailable(f"broker refused the subscription {topic!r}: {reason}"),
            )
        else:
            _wake(self._suback)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        inflight = self._inflight
        if inflight and inflight[0][0] == mid:  # the usual case: PUBACKs come in order
            self._acked.add(mid)
        elif mid in self._status_mids:
            self._status_mids.discard(mid)
            self.stats.statuses_published += 1
        elif mid in self._control_mids:
            self._control_mids.discard(mid)
            if mid == self._offline_mid:
                _wake(self._offline_acked)
        else:  # a sample behind one still waiting for its PUBACK
            self._acked.add(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.stats.vendor_messages += 1
        handler = self.on_vendor_message
        if handler is not None:
            handler(message.topic, bytes(message.payload), time.time_ns() // 1_000_000)

    # -- samples out ----------------------------------------------------------------------

    def _release_acked(self) -> None:
        """Forget, in one DELETE, the buffer rows of the leading run of acknowledged samples."""
        inflight, acked = self._inflight, self._acked
        last = 0
        released = 0
        while inflight and inflight[0][0] in acked:
            mid, last, _ = inflight.popleft()
            acked.discard(mid)
            released += 1
        self.buffer.ack_through(last)
        self.stats.published += released
        _wake(self._acked_waiter)
        if len(inflight) <= self.refill_at and self._ready:
            self._fill()

    def _fill(self) -> None:
        """Hand committed samples to paho until `window` of them are in flight."""
        client, buffer, inflight = self._client, self.buffer, self._inflight
        if client is None:
            return
        room = self.window - len(inflight)
        while room > 0 and self._after < buffer.committed_id:
            batch = buffer.pending(self._after, room)
            if not batch:
                break
            now = time.monotonic()
            for sample in batch:
                info = client.publish(sample.topic, sample.payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    self._lost(BrokerUnavailable(f"publish failed: {mqtt.error_string(info.rc)}"))
                    return
                inflight.append((info.mid, sample.id, now))
                self._after = sample.id
            room -= len(batch)
        if len(inflight) > self.stats.max_in_flight:
            self.stats.max_in_flight = len(inflight)

    def _publish_statuses(self) -> None:
        client = self._client
        if client is None:
            return
        for topic in sorted(self._dirty):
            info = client.publish(topic, self._statuses[topic], qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection is going; every status goes again on the next one
            self._status_mids.add(info.mid)
        self._dirty.clear()

    # -- the connection loop ------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish, reconnect, until `request_stop()`."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-mqtt")
        attempt = 0
        try:
            while not self._stop.is_set():
                try:
                    await self._session()
                    return
                except BrokerUnavailable as exc:
                    self.stats.last_error = str(exc)
                    if self.stats.connected:
                        attempt = 0
                    if self._outage_started is None:
                        self._outage_started = time.monotonic()
                        log.error(
                            "broker %s:%d unreachable: %s; buffering (%d samples queued)",
                            self.settings.mqtt_host,
                            self.settings.mqtt_port,
                            exc,
                            self.buffer.depth,
                        )
                    else:
                        log.debug("broker still unreachable: %s", exc)
                finally:
                    self.stats.connected = False
                    self.connected_event.clear()
                delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max, self._rng)
                attempt += 1
                try:
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
                except TimeoutError:
                    continue
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _connect_blocking(self, client: mqtt.Client) -> None:
        client.connect(
            self.settings.mqtt_host, self.settings.mqtt_port, keepalive=self.settings.mqtt_keepalive
        )

    async def _session(self) -> None:
        """One connection: connect, subscribe, publish until it drops or a stop is requested."""
        loop = asyncio.get_running_loop()
        assert self._executor is not None
        client = self._make_client()
        self._client = client
        self._connack = loop.create_future()
        self._closed = loop.create_future()
        self._inflight.clear()
        self._acked.clear()
        self._status_mids.clear()
        self._control_mids.clear()
        self._after = 0
        try:
            try:
                await loop.run_in_executor(self._executor, self._connect_blocking, client)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                raise BrokerUnavailable(str(exc) or type(exc).__name__) from exc
            self._misc_timer = loop.call_later(MISC_INTERVAL_S, self._misc)
            async with asyncio.timeout(self.publish_timeout):
                await self._connack
                if self.vendor_topics:
                    self._suback = loop.create_future()
                    result, mid = client.subscribe([(t, 1) for t in self.vendor_topics])
                    if result != mqtt.MQTT_ERR_SUCCESS:
                        raise BrokerUnavailable(f"could not subscribe: {mqtt.error_string(result)}")
                    self._suback_mid = mid
                    await self._suback
            self._connected()
            self._control_mids.add(
                client.publish(self.status_topic, b"online", qos=1, retain=True).mid
            )
            self._dirty.update(self._statuses)
            self._ready = True
            self._publish_statuses()
            self._fill()
            stop = asyncio.ensure_future(self._stop.wait())
            try:
                either: set[asyncio.Future[Any]] = {stop, self._closed}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            if self._closed.done():
                self._closed.result()  # raises how the connection ended
                raise BrokerUnavailable("connection lost")
            await self._drain()
            await self._say_offline(client)
        except TimeoutError as exc:
            raise BrokerUnavailable("the broker did not answer in time") from exc
        finally:
            await self._close(client)

    def _connected(self) -> None:
        self.stats.connected = True
        self.stats.connects += 1
        if self._outage_started is not None:
            log.info(
                "connected to broker %s:%d after %.0f s; %d samples to send",
                self.settings.mqtt_host,
                self.settings.mqtt_port,
                time.monotonic() - self._outage_started,
                self.buffer.depth,
            )
            self._outage_started = None
        self.connected_event.set()

    async def _drain(self) -> None:
        """On a stop: wait up to `drain_s` for the buffer to empty."""
        assert self._loop is not None and self._closed is not None
        deadline = time.monotonic() + self._drain_s
        while self.buffer.depth and not self._closed.done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._acked_waiter = self._loop.create_future()
            try:
                async with asyncio.timeout(left):
                    await self._acked_waiter
            except TimeoutError:
                break
            finally:
                self._acked_waiter = None

    async def _say_offline(self, client: mqtt.Client) -> None:
        assert self._loop is not None and self._closed is not None
        self._ready = False
        if self._closed.done():
            return  # the connection ended while draining: the broker sends the will instead
        self._offline_acked = self._loop.create_future()
        info = client.publish(self.status_topic, b"offline", qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._offline_acked = None
            return
        self._offline_mid = info.mid
        self._control_mids.add(info.mid)
        try:
            # with the disconnect after it, a stop stays within `publish_timeout`
            async with asyncio.timeout(max(self.publish_timeout - DISCONNECT_WAIT_S, 1.0)):
                await self._offline_acked
        except (TimeoutError, BrokerUnavailable) as exc:
            log.warning("the offline status was not acknowledged: %s", exc or "timed out")
        else:
            log.info(
                "published offline status; disconnecting (%d samples queued)", self.buffer.depth
            )
        finally:
            self._offline_acked = None
            self._offline_mid = None

    async def _close(self, client: mqtt.Client) -> None:
        """Disconnect (cleanly when the connection still stands) and forget the connection."""
        self._ready = False
        if self._misc_timer is not None:
            self._misc_timer.cancel()
            self._misc_timer = None
        closed = self._closed
        if client.socket() is not None and closed is not None and not closed.done():
            client.disconnect()
            try:
                async with asyncio.timeout(DISCONNECT_WAIT_S):
                    await asyncio.shield(closed)
            except (TimeoutError, BrokerUnavailable):
                pass
        if closed is not None and closed.done() and not closed.cancelled():
            closed.exception()  # retrieved: the session already reported how it ended
        sock = client.socket()
        if sock is not None:  # the broker did not see us off: drop the connection
            if self._fd is not None:
                self._unwatch(self._fd)
            sock.close()
        self._client = None
        self._inflight.clear()
        self._acked.clear()
        self._status_mids.clear()
        self._control_mids.clear()
        self._connack = self._suback = self._closed = None
        self._suback_mid = None
