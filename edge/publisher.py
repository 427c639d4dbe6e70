"""MQTT out (and vendor topics in): one persistent session per agent.

The publisher drains the on-disk buffer in order, QoS 1, deleting each sample only when the
broker acknowledged it (PUBACK). It keeps the agent's own status (`online` on connect, the
retained LWT `offline` if the agent dies, an explicit `offline` on a clean stop) and the
retained per-equipment statuses. While the broker is unreachable it retries with jittered
exponential backoff; polling carries on into the buffer meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from edge.availability import StatusChange
from edge.buffer import BufferedSample, SampleBuffer
from edge.modbus import backoff_delay
from plantroom.settings import MqttSettings
from plantroom.topics import edge_status

log = logging.getLogger(__name__)

VendorHandler = Callable[[str, bytes, int], None]


class _Stopping(Exception):
    """Raised inside the connection's task group to end it on a requested stop."""


@dataclass(slots=True)
class PublisherStats:
    connected: bool = False
    connects: int = 0
    published: int = 0
    statuses_published: int = 0
    vendor_messages: int = 0
    last_error: str | None = None


def _first(group: BaseExceptionGroup[aiomqtt.MqttError]) -> aiomqtt.MqttError:
    """The first MqttError in a (possibly nested) exception group."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        return exc
    return aiomqtt.MqttError("connection lost")


def client_id(agent_id: str) -> str:
    return f"plantroom-edge-{agent_id}"


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
        self.publish_timeout = publish_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._new_data = asyncio.Event()
        self._status_event = asyncio.Event()
        self._statuses: dict[str, bytes] = {}
        self._dirty: set[str] = set()
        self._stop = asyncio.Event()
        self._drain_s = 0.0
        self._acked = asyncio.Event()
        self.stats = PublisherStats()
        self._outage_started: float | None = None
        self.connected_event = asyncio.Event()

    # -- called by the agent ------------------------------------------------------------

    def notify(self) -> None:
        """New committed samples are waiting in the buffer."""
        self._new_data.set()

    def set_status(self, topic: str, change: StatusChange) -> None:
        """Publish (retained) an equipment's status; the latest one wins while offline."""
        self._statuses[topic] = json.dumps(change.payload(), separators=(",", ":")).encode()
        self._dirty.add(topic)
        self._status_event.set()

    def request_stop(self, drain_s: float = 0.0) -> None:
        """Send what is queued for up to `drain_s` seconds, publish `offline`, disconnect
        cleanly and return from `run()`. Whatever is left stays queued for the next start."""
        self._drain_s = max(drain_s, 0.0)
        self._stop.set()

    # -- the connection loop ------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        tls: aiomqtt.TLSParameters | None = None
        if s.mqtt_tls:
            tls = aiomqtt.TLSParameters(
                ca_certs=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client = aiomqtt.Client(
            s.mqtt_host,
            s.mqtt_port,
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            identifier=client_id(self.agent_id),
            clean_session=False,
            will=aiomqtt.Will(self.status_topic, b"offline", qos=1, retain=True),
            keepalive=s.mqtt_keepalive,
            timeout=self.publish_timeout,
            tls_params=tls,
            max_inflight_messages=self.window,
        )
        client.pending_calls_threshold = self.window + len(self.vendor_topics) + 10
        return client

    async def run(self) -> None:
        """Connect, publish, reconnect, until `request_stop()`."""
        attempt = 0
        while not self._stop.is_set():
            try:
                await self._session()
                return
            except aiomqtt.MqttError as exc:
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
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                continue

    async def _session(self) -> None:
        async with self._client() as client:
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
            await client.publish(self.status_topic, b"online", qos=1, retain=True)
            for topic in self.vendor_topics:
                await client.subscribe(topic, qos=1)
            self.connected_event.set()
            self._dirty.update(self._statuses)
            self._status_event.set()
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._drain(client), name="publisher:drain")
                    tg.create_task(self._publish_statuses(client), name="publisher:status")
                    tg.create_task(self._receive(client), name="publisher:receive")
                    tg.create_task(self._watch_stop(), name="publisher:stop")
            except* _Stopping:
                pass
            except* aiomqtt.MqttError as group:
                raise _first(group) from None
            await client.publish(self.status_topic, b"offline", qos=1, retain=True)
            log.info(
                "published offline status; disconnecting (%d samples queued)", self.buffer.depth
            )

    async def _watch_stop(self) -> None:
        await self._stop.wait()
        deadline = time.monotonic() + self._drain_s
        while self.buffer.depth and (left := deadline - time.monotonic()) > 0:
            self._acked.clear()
            try:
                await asyncio.wait_for(self._acked.wait(), left)
            except TimeoutError:
                break
        raise _Stopping

    async def _drain(self, client: aiomqtt.Client) -> None:
        slots = asyncio.Semaphore(self.window)
        after = 0
        async with asyncio.TaskGroup() as tg:
            while True:
                self._new_data.clear()
                batch = self.buffer.pending(after, self.window)
                if not batch:
                    await self._new_data.wait()
                    continue
                for sample in batch:
                    await slots.acquire()
                    tg.create_task(self._send(client, sample, slots), name=f"publish:{sample.id}")
                    after = sample.id

    async def _send(
        self, client: aiomqtt.Client, sample: BufferedSample, slots: asyncio.Semaphore
    ) -> None:
        try:
            await client.publish(sample.topic, sample.payload, qos=1)
            self.buffer.ack(sample.id)
            self.stats.published += 1
            self._acked.set()
        finally:
            slots.release()

    async def _publish_statuses(self, client: aiomqtt.Client) -> None:
        while True:
            await self._status_event.wait()
            self._status_event.clear()
            for topic in sorted(self._dirty):
                payload = self._statuses[topic]
                await client.publish(topic, payload, qos=1, retain=True)
                self.stats.statuses_published += 1
                if self._statuses[topic] is payload:
                    self._dirty.discard(topic)

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Vendor messages in; also how a dropped connection is noticed while idle."""
        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, bytes | bytearray):
                data = bytes(payload)
            elif payload is None:
                data = b""
            else:
                data = str(payload).encode()
            self.stats.vendor_messages += 1
            if self.on_vendor_message is not None:
                self.on_vendor_message(message.topic.value, data, time.time_ns() // 1_000_000)
