"""The telemetry consumer's broker side: one MQTT 5 subscription, its messages handed in order
to the consumer, each acknowledged once the consumer has taken it.

The subscription is `plantroom.subscriber` (MQTT 5, manual acknowledgements), as the
gateway's is: telemetry through a plain subscription, or through the shared subscription
`$share/<cloud_share_group>/…/telemetry` when a group is set, and equipment status through a
plain subscription, so the retained statuses arrive on connect, and the edge agents' health
reports (read for their time, to measure each agent's clock). A configured client id gets a
persistent session (`clean_start=False`, a session that does not expire): the broker keeps
what arrives while the cloud restarts. Without one each start is a new clean session.

In a cluster (`cloud.cluster`) there is one receiver per leased site, subscribed to that
site's topics only, under the site's own client id and persistent session: whichever process
holds the lease resumes the session, so what the broker queued for the site while no one held
it (or while the last holder was dying) is delivered to the next.

At `RECEIVE_MAXIMUM` unacknowledged QoS 1 messages the subscriber stops reading the socket and
the broker holds the rest. The acknowledgements of the messages handed on within
`ACK_LINGER_S` of the first are sent together, at most `ACK_EVERY` at a time, and always
before the consumer waits for room: one write to the socket (and one wake-up of the broker)
rather than one per message, however thinly the messages arrive. QoS 0 messages are not held
back by the broker: past `MQTT_BUFFER` waiting messages one is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from plantroom.backoff import Backoff
from plantroom.mqttclient import NEVER_EXPIRES
from plantroom.mqttwire import Publish
from plantroom.settings import CloudSettings
from plantroom.subscriber import AckToken, Subscriber
from plantroom.topics import (
    EDGE_HEALTH_WILDCARD,
    STATUS_WILDCARD,
    TELEMETRY_WILDCARD,
    for_site,
    shared,
)

log = logging.getLogger(__name__)

# QoS 1 messages delivered and not yet acknowledged (announced to the broker as the Receive
# Maximum, and enforced by the subscriber, which stops reading the socket at this many)
RECEIVE_MAXIMUM = 1000
# The buffer in front of the consumer's queue. QoS 1 messages in it are not acknowledged yet,
# so the Receive Maximum bounds them; a QoS 0 message arriving when it is full is dropped.
MQTT_BUFFER = 20_000
# At most this many messages handed on before their acknowledgements are sent (one write)
ACK_EVERY = 100
# and at most this long: the acknowledgements of the messages arriving meanwhile go together
ACK_LINGER_S = 0.01

Accept = Callable[[Publish], Awaitable[None]]
HasRoom = Callable[[], bool]


def topic_filters(share_group: str, site: str | None) -> list[str]:
    """Every site's telemetry (shared in `share_group` if set), statuses and edge health; or,
    with `site`, that site's alone through plain subscriptions (the site's lease makes its
    holder the only reader)."""
    if site is not None:
        return [
            for_site(f, site) for f in (TELEMETRY_WILDCARD, STATUS_WILDCARD, EDGE_HEALTH_WILDCARD)
        ]
    return [shared(share_group, TELEMETRY_WILDCARD), STATUS_WILDCARD, EDGE_HEALTH_WILDCARD]


@dataclass(slots=True)
class IngestStats:
    connected: bool = False
    connects: int = 0
    received: int = 0
    invalid: int = 0
    future: int = 0  # of the invalid: a time too far ahead of this clock
    edge_health: int = 0  # edge health reports read for their time
    processed: int = 0
    dead_lettered: int = 0  # failed processing even on their own (cloud.batches)
    dropped: int = 0
    last_message_at: float | None = None
    last_error: str | None = None


class Receiver:
    """One subscription for one run of the consumer; `run(accept)` until cancelled."""

    def __init__(
        self,
        settings: CloudSettings,
        *,
        client_id: str,
        persistent: bool,
        stats: IngestStats,
        site: str | None = None,
    ) -> None:
        s = settings
        self._stats = stats
        self._incoming: deque[tuple[Publish, AckToken]] = deque()
        self._arrived = asyncio.Event()
        self._subscriber = Subscriber(
            s,
            client_id=client_id,
            topic_filters=topic_filters(s.cloud_share_group, site),
            on_message=self._on_message,
            receive_maximum=RECEIVE_MAXIMUM,
            session_expiry_s=NEVER_EXPIRES if persistent else 0,
            clean_start=not persistent,
            backoff=Backoff(0.5, 30.0),
            on_connection=self._on_connection,
        )

    @property
    def buffered(self) -> int:
        """Messages received from the broker and not yet taken (nor acknowledged)."""
        return len(self._incoming)

    def _on_connection(self, connected: bool, why: str | None) -> None:
        self._stats.connected = connected
        if connected:
            self._stats.connects += 1
        else:
            self._stats.last_error = why

    def _on_message(self, message: Publish, token: AckToken) -> None:
        """Called by the connection for each message read: held until `run` hands it on."""
        if not message.qos and len(self._incoming) >= MQTT_BUFFER:
            self._overflow(message)
            return
        self._incoming.append((message, token))
        self._arrived.set()

    def _overflow(self, message: Publish) -> None:
        stats = self._stats
        stats.dropped += 1
        if stats.dropped == 1 or stats.dropped % 1000 == 0:
            log.error(
                "the MQTT buffer is full (%d messages); dropped a QoS %d message on %s "
                "(%d dropped so far)",
                MQTT_BUFFER,
                message.qos,
                message.topic_bytes.decode("utf-8", "replace"),
                stats.dropped,
            )

    async def run(self, accept: Accept, has_room: HasRoom = lambda: True) -> None:
        """Hand each message to `accept` and acknowledge it once `accept` has returned: while
        it waits (the consumer's queue full), acknowledgements wait and the broker holds
        back. `has_room()` says whether `accept` would return at once; when it would not,
        the acknowledgements of what was handed on already go out first."""
        subscriber = self._subscriber
        connection = asyncio.create_task(subscriber.run(), name="cloud-ingest-connection")
        connection.add_done_callback(lambda _: self._arrived.set())
        incoming = self._incoming
        taken: list[AckToken] = []  # handed on, not acknowledged yet
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def ack() -> None:
            nonlocal timer
            if timer is not None:
                timer.cancel()
                timer = None
            if taken:
                subscriber.ack(taken)
                taken.clear()

        try:
            while True:
                await self._arrived.wait()
                self._arrived.clear()
                if connection.done():  # run() returns only after stop(): this is a failure
                    connection.result()
                    raise RuntimeError("the MQTT subscriber stopped by itself")
                while incoming:
                    message, token = incoming.popleft()
                    generation, _, qos = token
                    if qos and generation != subscriber.generation:
                        continue  # from a connection since lost: the broker sends it again
                    if taken and (len(taken) >= ACK_EVERY or not has_room()):
                        ack()
                    await accept(message)
                    taken.append(token)
                if taken and timer is None:  # with what arrives within the linger
                    timer = loop.call_later(ACK_LINGER_S, ack)
        finally:
            ack()  # what was handed on (queued) before a cancellation: acknowledged
            subscriber.stop()
            await asyncio.shield(connection)
            incoming.clear()
            self._stats.connected = False


def session_names(
    settings: CloudSettings, client_id: str | None, site: str | None
) -> tuple[str, bool, str]:
    """A consumer's MQTT client id, whether its session persists, and the name of its intake
    (the lag alarm's subject).

    A configured client id gets a persistent session: the broker keeps what arrives while the
    cloud restarts; without one, each process start is a new clean session. The intake's name
    is the same after a restart on this host; a leased site's is its subscription's client
    id, so the process that takes the site over clears its alarm."""
    persistent = bool(client_id or settings.cloud_client_id)
    chosen = (
        client_id
        or settings.cloud_client_id
        or f"plantroom-cloud-{socket.gethostname()}-{os.getpid()}"
    )
    name = chosen if site is not None else settings.cloud_client_id or socket.gethostname()
    return chosen, persistent, name
