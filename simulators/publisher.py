"""Publishes the lighting controllers' messages on their vendor topics.

One MQTT connection carries every simulated controller. While the broker is away the
controllers' messages are dropped (a real controller does not buffer either) and the
connection is retried with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence

import aiomqtt

from plantroom.backoff import Backoff
from plantroom.settings import MqttSettings
from plantroom.tls import mqtt_client_context
from simulators.devices import MqttDevice

log = logging.getLogger(__name__)

BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
PUBLISH_TIMEOUT_S = 10.0


class LightingPublisher:
    def __init__(
        self,
        devices: Sequence[MqttDevice],
        settings: MqttSettings,
        interval: float,
        client_id: str | None = None,
    ) -> None:
        self.devices = list(devices)
        self.settings = settings
        self.interval = interval
        self.client_id = client_id or f"plantroom-sim-{secrets.token_hex(4)}"
        self.published = 0
        self.connected = asyncio.Event()

    @property
    def broker(self) -> str:
        return f"mqtt://{self.settings.mqtt_host}:{self.settings.mqtt_port}"

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.mqtt_host,
            s.mqtt_port,
            identifier=self.client_id,
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            keepalive=s.mqtt_keepalive,
            tls_context=mqtt_client_context(s),
            timeout=PUBLISH_TIMEOUT_S,
        )

    async def run(self) -> None:
        """Publish every `interval` seconds until cancelled, reconnecting as needed."""
        backoff = Backoff(BACKOFF_MIN_S, BACKOFF_MAX_S)
        outage = False
        while True:
            try:
                async with self._client() as client:
                    log.info("lighting: connected to %s as %s", self.broker, self.client_id)
                    self.connected.set()
                    backoff.reset()
                    outage = False
                    await self._publish_forever(client)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if not outage:
                    log.error(
                        "lighting: MQTT broker %s unavailable (%s); retrying", self.broker, exc
                    )
                    outage = True
                else:
                    log.debug("lighting: still no broker at %s (%s)", self.broker, exc)
            await asyncio.sleep(backoff.next_delay())

    async def _publish_forever(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        deadline = loop.time()
        while True:
            for device in self.devices:
                if device.online:
                    await client.publish(device.topic, device.message(), qos=1)
                    self.published += 1
                    # asyncio.wait_for (inside publish) can swallow a cancellation that
                    # lands as the broker's acknowledgement arrives (Python 3.11): honour it
                    if task is not None and task.cancelling():
                        raise asyncio.CancelledError
            deadline += self.interval
            now = loop.time()
            if deadline < now:  # fell behind: publish on the next interval from now
                deadline = now + self.interval
            await asyncio.sleep(deadline - now)
