"""MQTT out (and vendor topics in): one persistent session per agent.

The publisher drains the on-disk buffer in order, QoS 1, deleting samples only once the
broker acknowledged them (PUBACK). It keeps the agent's own status (`online` on connect, the
retained will `offline` if the agent dies, an explicit `offline` on a clean stop) and the
retained per-equipment statuses. While the broker is unreachable it retries with jittered
exponential backoff; polling carries on into the buffer meanwhile.

The connection is Plantroom's own MQTT 5 client (`plantroom.mqttclient`) on the asyncio loop,
without a task or future per message: samples leave the buffer in batches (a batch is one
socket write), at most `window` of them unacknowledged at a time, each PUBLISH's packet id
mapped to its buffer row. Buffer rows are acknowledged in send order, one DELETE for every run
of acknowledged samples, so a sample is never forgotten before every earlier one was
acknowledged too. A sample whose PUBACK does not come within `publish_timeout` drops the
connection, and the next one sends everything still in the buffer again (at least once). A
PUBACK with an error reason (the broker's ACL refusing a topic, say) is logged, counted in
`refused`, and the sample is not sent again: sending it again would be refused again.

The session is kept by the broker for good (Session Expiry Interval 0xFFFFFFFF, the MQTT 3
persistent session): vendor messages that arrive while the agent is away wait for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from edge.availability import StatusChange
from edge.buffer import SampleBuffer
from plantroom.backoff import backoff_delay
from plantroom.errors import BrokerUnavailable
from plantroom.mqttclient import NEVER_EXPIRES, MqttConnection
from plantroom.mqttwire import Publish, Will, reason_text
from plantroom.settings import MqttSettings
from plantroom.tls import mqtt_client_context
from plantroom.topics import edge_status

log = logging.getLogger(__name__)

VendorHandler = Callable[[str, bytes, int], None]

PUBACK_CHECK_S = 1.0  # how often the oldest unacknowledged sample is looked at
DISCONNECT_WAIT_S = 2.0


@dataclass(slots=True)
class PublisherStats:
    connected: bool = False
    connects: int = 0
    published: int = 0
    statuses_published: int = 0
    vendor_messages: int = 0
    max_in_flight: int = 0  # the most samples ever waiting for their PUBACK at once
    refused: int = 0  # samples the broker acknowledged with an error reason (not sent again)
    last_error: str | None = None


def client_id(agent_id: str) -> str:
    return f"plantroom-edge-{agent_id}"


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


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
        self._tls = mqtt_client_context(settings)
        self._statuses: dict[str, bytes] = {}
        self._dirty: set[str] = set()
        self._stop = asyncio.Event()
        self._drain_s = 0.0
        self.stats = PublisherStats()
        self._outage_started: float | None = None
        self.connected_event = asyncio.Event()
        # one connection's state (reset by `_session`)
        self._conn: MqttConnection | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._release_scheduled = False
        self._acked_waiter: asyncio.Future[None] | None = None
        self._offline_mid: int | None = None
        self._offline_acked: asyncio.Future[None] | None = None
        self._ready = False  # CONNACK and SUBACK in: samples may go out
        # samples in flight, in send order: (packet id, buffer row id, monotonic send time)
        self._inflight: deque[tuple[int, int, float]] = deque()
        self._acked: set[int] = set()  # packet ids of samples acknowledged out of order
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

    # -- what the connection brings -------------------------------------------------------

    def _on_puback(self, mid: int, reason: int) -> None:
        inflight = self._inflight
        if inflight and inflight[0][0] == mid:  # the usual case: PUBACKs come in order
            self._sample_acked(mid, reason)
        elif mid in self._status_mids:
            self._status_mids.discard(mid)
            self.stats.statuses_published += 1
        elif mid in self._control_mids:
            self._control_mids.discard(mid)
            if mid == self._offline_mid:
                _wake(self._offline_acked)
        else:  # a sample behind one still waiting for its PUBACK
            self._sample_acked(mid, reason)

    def _sample_acked(self, mid: int, reason: int) -> None:
        if reason >= 0x80:
            self.stats.refused += 1
            if str(self.stats.refused).rstrip("0") == "1":  # 1st, 10th, 100th ...
                log.error(
                    "the broker refused a sample (%s; %d refused so far): check the broker's "
                    "ACL for this agent's user",
                    reason_text(reason),
                    self.stats.refused,
                )
        self._acked.add(mid)
        if not self._release_scheduled:  # one DELETE for every PUBACK in this read
            self._release_scheduled = True
            asyncio.get_running_loop().call_soon(self._release_acked)

    def _on_message(self, message: Publish) -> None:
        self.stats.vendor_messages += 1
        try:
            topic = message.topic
        except UnicodeDecodeError:
            log.debug("vendor message on a topic that is not UTF-8: %r", message.topic_bytes)
            topic = None
        handler = self.on_vendor_message
        if handler is not None and topic is not None:
            handler(topic, message.payload, time.time_ns() // 1_000_000)
        if message.qos and self._conn is not None:
            self._conn.puback((message.mid,))

    def _check_pubacks(self) -> None:
        conn = self._conn
        if conn is None:
            return
        inflight = self._inflight
        if inflight and time.monotonic() - inflight[0][2] > self.publish_timeout:
            conn.abort(
                BrokerUnavailable(f"no PUBACK within {self.publish_timeout:.0f} s; reconnecting")
            )
            return
        self._timer = asyncio.get_running_loop().call_later(PUBACK_CHECK_S, self._check_pubacks)

    # -- samples out ----------------------------------------------------------------------

    def _release_acked(self) -> None:
        """Forget, in one DELETE, the buffer rows of the leading run of acknowledged samples."""
        self._release_scheduled = False
        inflight, acked = self._inflight, self._acked
        last = 0
        released = 0
        while inflight and inflight[0][0] in acked:
            mid, last, _ = inflight.popleft()
            acked.discard(mid)
            released += 1
        if not released:
            return
        self.buffer.ack_through(last)
        self.stats.published += released
        _wake(self._acked_waiter)
        if len(inflight) <= self.refill_at and self._ready:
            self._fill()

    def _fill(self) -> None:
        """Send committed samples until `window` of them are in flight."""
        conn, buffer, inflight = self._conn, self.buffer, self._inflight
        if conn is None or not conn.is_open:
            return
        room = self.window - len(inflight)
        while room > 0 and self._after < buffer.committed_id:
            batch = buffer.pending(self._after, room)
            if not batch:
                break
            now = time.monotonic()
            publish = conn.publish
            for sample in batch:
                inflight.append((publish(sample.topic, sample.payload), sample.id, now))
                self._after = sample.id
            room -= len(batch)
        if len(inflight) > self.stats.max_in_flight:
            self.stats.max_in_flight = len(inflight)

    def _publish_statuses(self) -> None:
        conn = self._conn
        if conn is None or not conn.is_open:
            return  # every status goes again on the next connection
        for topic in sorted(self._dirty):
            self._status_mids.add(conn.publish(topic, self._statuses[topic], retain=True))
        self._dirty.clear()

    # -- the connection loop ------------------------------------------------------------

    async def run(self) -> None:
        """Connect, publish, reconnect, until `request_stop()`."""
        attempt = 0
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

    async def _session(self) -> None:
        """One connection: connect, subscribe, publish until it drops or a stop is requested."""
        loop = asyncio.get_running_loop()
        s = self.settings
        self._inflight.clear()
        self._acked.clear()
        self._status_mids.clear()
        self._control_mids.clear()
        self._after = 0
        conn = MqttConnection(
            keepalive=s.mqtt_keepalive,
            error=BrokerUnavailable,
            on_message=self._on_message,
            on_puback=self._on_puback,
        )
        self._conn = conn
        try:
            async with asyncio.timeout(self.publish_timeout):
                await conn.connect(
                    s,
                    client_id=client_id(self.agent_id),
                    clean_start=False,
                    session_expiry_s=NEVER_EXPIRES,
                    will=Will(self.status_topic, b"offline", qos=1, retain=True),
                    tls=self._tls,
                )
                if self.vendor_topics:
                    await conn.subscribe(self.vendor_topics)
            self._connected()
            self._control_mids.add(conn.publish(self.status_topic, b"online", retain=True))
            self._dirty.update(self._statuses)
            self._ready = True
            self._publish_statuses()
            self._fill()
            self._timer = loop.call_later(PUBACK_CHECK_S, self._check_pubacks)
            if not await conn.serve_until(self._stop):
                raise BrokerUnavailable("connection lost")
            await self._drain(conn)
            await self._say_offline(conn)
        except TimeoutError as exc:
            raise BrokerUnavailable("the broker did not answer in time") from exc
        finally:
            await self._close(conn)

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

    async def _drain(self, conn: MqttConnection) -> None:
        """On a stop: wait up to `drain_s` for the buffer to empty."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self._drain_s
        while self.buffer.depth and not conn.closed.done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._acked_waiter = waiter = loop.create_future()
            try:
                await asyncio.wait({waiter, conn.closed}, timeout=left)
            finally:
                self._acked_waiter = None
            if not waiter.done():
                break

    async def _say_offline(self, conn: MqttConnection) -> None:
        self._ready = False
        if conn.closed.done():
            return  # the connection ended while draining: the broker sends the will instead
        self._offline_acked = acked = asyncio.get_running_loop().create_future()
        self._offline_mid = conn.publish(self.status_topic, b"offline", retain=True)
        self._control_mids.add(self._offline_mid)
        try:
            # with the disconnect after it, a stop stays within `publish_timeout`
            await asyncio.wait(
                {acked, conn.closed},
                timeout=max(self.publish_timeout - DISCONNECT_WAIT_S, 1.0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if acked.done():
                log.info(
                    "published offline status; disconnecting (%d samples queued)",
                    self.buffer.depth,
                )
            else:
                log.warning("the offline status was not acknowledged before the disconnect")
        finally:
            self._offline_acked = None
            self._offline_mid = None

    async def _close(self, conn: MqttConnection) -> None:
        """Disconnect (cleanly when the connection still stands) and forget the connection."""
        self._ready = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await conn.close()
        self._conn = None
        self._inflight.clear()
        self._acked.clear()
        self._status_mids.clear()
        self._control_mids.clear()
