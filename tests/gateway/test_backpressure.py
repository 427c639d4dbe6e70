"""The subscriber holds at most Receive Maximum unacknowledged messages, whatever the broker does.

mosquitto 2.0 honours a client's Receive Maximum only until the client acknowledges queued
messages; from then on it streams the whole backlog. The subscriber must bound itself.
"""

from __future__ import annotations

import asyncio
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from plantroom.backoff import Backoff
from plantroom.settings import GatewaySettings
from plantroom.subscriber import AckToken, Subscriber
from stack.services import Mosquitto
from tests.harness import wait_for_async

pytestmark = pytest.mark.integration

RECEIVE_MAXIMUM = 20
BACKLOG = 300


async def test_subscriber_stops_reading_at_receive_maximum_and_resumes_on_acks(
    mosquitto: Mosquitto,
) -> None:
    name = uuid.uuid4().hex[:10]
    topic = f"bench/{name}/t"
    tokens: list[AckToken] = []
    subscriber = Subscriber(
        GatewaySettings(mqtt_host=mosquitto.host, mqtt_port=mosquitto.port),
        client_id=f"sub-{name}",
        topic_filters=[f"$share/g-{name}/{topic}"],
        on_message=lambda message, token: tokens.append(token),
        receive_maximum=RECEIVE_MAXIMUM,
        session_expiry_s=0,
        backoff=Backoff(0.05, 0.5),
    )
    task = asyncio.create_task(subscriber.run())
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{name}")
    pub.max_inflight_messages_set(1000)
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    try:
        async with asyncio.timeout(10):
            await subscriber.subscribed.wait()
        infos = [pub.publish(topic, b"x", qos=1) for _ in range(BACKLOG)]
        await wait_for_async(
            lambda: all(i.is_published() for i in infos), "the backlog published", within=20.0
        )
        await wait_for_async(
            lambda: len(tokens) >= RECEIVE_MAXIMUM, "the first window", within=20.0
        )

        # acknowledging the first half is what makes mosquitto 2.0 ignore the window
        assert subscriber.ack(tokens[: RECEIVE_MAXIMUM // 2]) == RECEIVE_MAXIMUM // 2
        await wait_for_async(
            lambda: subscriber.reading_paused, "reading paused at the window", within=20.0
        )
        await asyncio.sleep(0.3)  # let a broker that ignores the window show it
        assert subscriber.unacknowledged <= RECEIVE_MAXIMUM
        assert len(tokens) <= RECEIVE_MAXIMUM + RECEIVE_MAXIMUM // 2

        acked = RECEIVE_MAXIMUM // 2

        def ack_and_check() -> bool:
            nonlocal acked
            assert subscriber.unacknowledged <= RECEIVE_MAXIMUM
            subscriber.ack(tokens[acked:])
            acked = len(tokens)
            return acked == BACKLOG

        await wait_for_async(ack_and_check, "the whole backlog, window by window", within=20.0)
        assert subscriber.unacknowledged == 0
        assert not subscriber.reading_paused
    finally:
        pub.disconnect()
        pub.loop_stop()
        subscriber.stop()
        await asyncio.gather(task, return_exceptions=True)
