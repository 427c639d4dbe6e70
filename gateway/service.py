"""The gateway process: shared MQTT subscription → validation → batches → InfluxDB.

    broker ──$share/<group>/plantroom/v1/+/+/+/+/telemetry──► Gateway
           ──$share/<group>/plantroom/v1/+/edge/+/health──►
        validate topic + payload ──bad──► dead-letter log (acknowledged)
        encode line(s) ──► Batcher ──► InfluxDB /write ──down──► disk buffer ──► replay
        acknowledge (PUBACK) once the batch is stored or buffered

`run(settings)` runs it until SIGINT/SIGTERM; `Gateway(settings)` is the same as an async
context manager, for tests and embedding. See docs/gateway.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import TracebackType

from gateway.batcher import Batch, Batcher
from gateway.buffer import DiskBuffer
from gateway.deadletter import DeadLetters
from gateway.edgehealth import HEALTH_MEASUREMENT, decode_edge_health, is_edge_health_topic
from gateway.metrics import serve_metrics
from gateway.retry import RetryPolicy
from gateway.sink import BatchSink
from gateway.stats import GatewayStats, prometheus_text
from plantroom.errors import InvalidMessage, PlantroomError
from plantroom.influx.errors import InfluxUnavailable
from plantroom.influx.lineprotocol import TelemetryEncoder, encode_line
from plantroom.influx.writer import InfluxWriter
from plantroom.inventory import load_inventory
from plantroom.mqttwire import Publish
from plantroom.schema import parse_telemetry
from plantroom.settings import GatewaySettings
from plantroom.signals import stop_on_signals
from plantroom.sitecheck import check_inventory, enforce
from plantroom.subscriber import AckToken, Subscriber
from plantroom.topics import EDGE_HEALTH_WILDCARD, TELEMETRY_WILDCARD, shared

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 10.0


def subscription_filters(group: str) -> tuple[str, ...]:
    """The gateway's topic filters, shared in `group` when one is set (`topics.shared`)."""
    return tuple(shared(group, f) for f in (TELEMETRY_WILDCARD, EDGE_HEALTH_WILDCARD))


class Gateway:
    """One gateway replica. `async with Gateway(settings) as gw:` runs it; `gw.stats` counts."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        retry: RetryPolicy | None = None,
        health_interval_s: float = HEALTH_INTERVAL_S,
        session_expiry_s: int | None = None,
        buffer_max_bytes: int | None = None,
        metrics_host: str | None = None,
    ) -> None:
        self.settings = settings
        self.stats = GatewayStats()
        self.directory = Path(settings.gateway_buffer_dir) / settings.gateway_id
        self.topic_filters = subscription_filters(settings.gateway_share_group)
        self._retry = retry or RetryPolicy()
        self._health_interval_s = health_interval_s
        self._session_expiry_s = (
            session_expiry_s if session_expiry_s is not None else settings.gateway_session_expiry_s
        )
        self._metrics_host = metrics_host or settings.gateway_metrics_host
        self.buffer = DiskBuffer(
            self.directory / "buffer",
            max_bytes=buffer_max_bytes or settings.gateway_buffer_max_bytes,
        )
        self.dead_letters = DeadLetters(self.directory)
        self._sink = BatchSink(self.buffer, self.dead_letters, self.stats, self._retry)
        self._encoder = TelemetryEncoder()
        self._writer: InfluxWriter | None = None
        self._subscriber: Subscriber | None = None
        self._batcher: Batcher[AckToken] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._accepting = False

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Gateway:
        settings = self.settings
        inventory = load_inventory(settings.inventory) if settings.inventory else None
        self._encoder = TelemetryEncoder.from_inventory(
            inventory, known_only=settings.gateway_inventory_only
        )
        self.buffer.open()
        try:
            self.dead_letters.open()
            self._writer = self._sink.writer = InfluxWriter(settings)
            try:
                await self._writer.prepare()
            except InfluxUnavailable as exc:
                log.warning("%s; buffering on disk until it is reachable", exc)
            self._sink.refresh_buffer_stats()
            self._batcher = Batcher(
                self._sink.store,
                self._complete,
                size=settings.gateway_batch_size,
                interval_s=settings.gateway_flush_interval_s,
                max_in_flight=settings.gateway_max_in_flight,
            )
            self._subscriber = Subscriber(
                settings,
                client_id=f"plantroom-{settings.gateway_id}",
                topic_filters=self.topic_filters,
                on_message=self._on_message,
                receive_maximum=settings.gateway_batch_size * (settings.gateway_max_in_flight + 1),
                session_expiry_s=self._session_expiry_s,
                backoff=self._retry.backoff(),
            )
        except BaseException:
            await self._close_resources()
            raise
        self._accepting = True
        self._task = asyncio.create_task(self._supervise(), name=f"gateway-{settings.gateway_id}")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        try:
            if self._task is not None:
                await self._task
        finally:
            await self._close_resources()

    async def _close_resources(self) -> None:
        if self._writer is not None:
            await self._writer.aclose()
        self.buffer.close()
        self.dead_letters.close()

    def stop(self) -> None:
        """Ask the gateway to stop: it flushes what it holds, acknowledges, and disconnects."""
        self._stop.set()

    async def wait(self) -> None:
        """Return when the gateway has stopped; raise what stopped it if it failed."""
        assert self._task is not None, "enter the Gateway first"
        await asyncio.shield(self._task)

    async def wait_subscribed(self) -> None:
        """Wait until the shared subscription is active (wrap in `asyncio.timeout`)."""
        assert self._subscriber is not None, "enter the Gateway first"
        await self._subscriber.subscribed.wait()

    @property
    def influx_up(self) -> bool:
        """False from a failed write until the next successful one."""
        return self._sink.influx_up

    @property
    def subscribed(self) -> bool:
        """True while the shared subscription is active on a live connection."""
        return self._subscriber is not None and self._subscriber.subscribed.is_set()

    async def _supervise(self) -> None:
        assert self._subscriber is not None and self._batcher is not None
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._subscriber.run(), name="gateway-mqtt")
            batcher = tg.create_task(self._batcher.run(), name="gateway-batcher")
            helpers = [
                tg.create_task(self._sink.replay(), name="gateway-replay"),
                tg.create_task(self._health(), name="gateway-health"),
            ]
            port = self.settings.gateway_metrics_port
            if port is not None:
                render = lambda: prometheus_text(self.stats, self.settings.gateway_id)  # noqa: E731
                helpers.append(
                    tg.create_task(
                        serve_metrics(render, self._metrics_host, port), name="gateway-metrics"
                    )
                )
            await self._stop.wait()
            log.info("gateway %s stopping: flushing what it holds", self.settings.gateway_id)
            self._accepting = False
            self._sink.stopping = True
            self._batcher.close()
            await batcher
            self._subscriber.stop()
            for task in helpers:
                task.cancel()
        log.info(
            "gateway %s stopped (%d lines written, %d in the disk buffer)",
            self.settings.gateway_id,
            self.stats.lines_written,
            self.stats.buffer_depth,
        )

    # -- the message path -----------------------------------------------------------------

    def _on_message(self, message: Publish, token: AckToken) -> None:
        self.stats.messages_in += 1
        if not self._accepting:
            return  # not acknowledged: the broker redelivers it to this session later
        batcher = self._batcher
        assert batcher is not None
        payload = message.payload
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "<not UTF-8>"
            reason = "topic is not valid UTF-8"
        else:
            try:
                if is_edge_health_topic(topic):
                    self._on_edge_health(topic, payload, token)
                    return
                self._encoder.prefix(topic)
                telemetry = parse_telemetry(
                    topic, payload, max_skew_s=self.settings.max_clock_skew_s
                )
                line, points = self._encoder.encode(topic, telemetry)
            except InvalidMessage as exc:
                reason = exc.reason
            except ValueError as exc:
                reason = str(exc)
            else:
                self.stats.points_in += points
                batcher.add(line, points, token)
                return
        self.dead_letters.message(topic, reason, payload)
        self.stats.dead_letters += 1
        batcher.add(None, 0, token)

    def _on_edge_health(self, topic: str, payload: bytes | bytearray, token: AckToken) -> None:
        """An edge agent's health report: its lines, the acknowledgement with the last one."""
        batcher = self._batcher
        assert batcher is not None
        lines = decode_edge_health(topic, payload, int(time.time() * 1000))
        self.stats.edge_health_in += 1
        last = len(lines) - 1
        for i, line in enumerate(lines):
            batcher.add(line, 0, token if i == last else None)

    def _complete(self, batch: Batch[AckToken]) -> None:
        assert self._subscriber is not None
        self.stats.acked += self._subscriber.ack(batch.acks)

    def health_line(self) -> str:
        return encode_line(
            HEALTH_MEASUREMENT,
            {"component": "gateway", "instance": self.settings.gateway_id},
            self.stats.health_fields(),
            int(time.time() * 1000),
        )

    async def _health(self) -> None:
        assert self._batcher is not None
        while True:
            await asyncio.sleep(self._health_interval_s)
            self._sink.refresh_buffer_stats()
            self._batcher.add(self.health_line())


def _plain_error(exc: BaseException) -> BaseException:
    """The one Plantroom error inside a task-group failure, if that is all it holds."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def serve(settings: GatewaySettings) -> None:
    """Run one gateway until SIGINT or SIGTERM, then stop cleanly."""
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    with stop_on_signals() as stop:
        async with Gateway(settings) as gateway:
            stopper = asyncio.create_task(stop.wait(), name="gateway-signals")
            running = asyncio.create_task(gateway.wait(), name="gateway-wait")
            await asyncio.wait({stopper, running}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if stop.is_set():
                log.info("signal received")
            running.cancel()
            await asyncio.gather(stopper, running, return_exceptions=True)


def run(settings: GatewaySettings) -> None:
    """The `plantroom gateway` process: blocks until SIGINT/SIGTERM."""
    if settings.inventory:
        enforce(check_inventory(settings.inventory, profiles=False), log)
    try:
        asyncio.run(serve(settings))
    except BaseExceptionGroup as group:
        plain = _plain_error(group)
        if isinstance(plain, PlantroomError):
            raise plain from group
        raise
