"""One MQTT 5 connection on the asyncio loop, for the edge agent's publisher and the subscriber
(`plantroom.subscriber`) of the gateway and the cloud.

`MqttConnection(...).connect(...)` connects (TCP or TLS), sends CONNECT and waits for CONNACK;
`subscribe`, `publish` and `puback` then work on the open connection, and `close()` says
DISCONNECT after everything queued. Packets a caller writes in one turn of the event loop
leave in one socket write; what the socket brings is framed by `plantroom.mqttwire` in one
pass over each chunk read.

Delivery can be held: when `can_deliver()` turns False (a subscriber holding as many
unacknowledged messages as it allows), the connection stops handing out messages and stops
reading the socket, leaving the rest there and in the broker, until `resume()`.

Keepalive: a PINGREQ goes out when nothing was sent or heard for `keepalive` seconds; a
connection that then brings nothing back for another keepalive period is dropped. While
reading is held the answer sits unread in the socket, so a missing PINGRESP does not count
against the broker then.

Errors are raised as `error(text)`, the caller's own exception type; `closed` is done when the
connection has ended (with that exception when it failed).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from plantroom.mqttwire import (
    CONNACK,
    DISCONNECT,
    DISCONNECT_PACKET,
    PINGREQ_PACKET,
    PUBACK,
    SUBACK,
    MalformedPacket,
    Packet,
    PacketReader,
    Publish,
    Will,
    connack_reason,
    connect_packet,
    disconnect_reason,
    puback_packet,
    puback_reason,
    publish_packet,
    reason_text,
    suback_reasons,
    subscribe_packet,
)
from plantroom.settings import MqttSettings

log = logging.getLogger(__name__)

ErrorFactory = Callable[[str], Exception]
KEEPALIVE_CHECK_S = 1.0
CLOSE_WAIT_S = 2.0
NEVER_EXPIRES = 0xFFFFFFFF  # Session Expiry Interval: the broker keeps the session for good


class MqttConnection(asyncio.Protocol):
    """One connection; see the module docstring."""

    def __init__(
        self,
        *,
        keepalive: int,
        error: ErrorFactory,
        on_message: Callable[[Publish], None] | None = None,
        on_puback: Callable[[int, int], None] | None = None,
        can_deliver: Callable[[], bool] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._keepalive = float(keepalive)
        self._error = error
        self._on_message = on_message
        self._on_puback = on_puback
        self._can_deliver = can_deliver
        self._transport: asyncio.Transport | None = None
        self._reader = PacketReader()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._connack: asyncio.Future[bool] = self._loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[int]]] = {}
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._lost: asyncio.Future[None] = self._loop.create_future()
        self._next_id = 0
        self._held = False
        self._last_sent = self._last_heard = time.monotonic()
        self._ping_sent: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.session_present = False

    # -- opening ---------------------------------------------------------------------------

    async def connect(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        clean_start: bool,
        session_expiry_s: int,
        receive_maximum: int = 65_535,
        will: Will | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> bool:
        """Connect and wait for CONNACK (the caller bounds the time); whether the broker had a
        session. Raises `error(...)` when the broker cannot be reached or refuses."""
        s = settings
        try:
            await self._loop.create_connection(
                lambda: self,
                s.mqtt_host,
                s.mqtt_port,
                ssl=tls,
                server_hostname=s.mqtt_host if tls is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            self._end(None)
            raise self._error(
                f"cannot reach the broker at {s.mqtt_host}:{s.mqtt_port}: {exc}"
            ) from exc
        password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
        try:
            self._send(
                connect_packet(
                    client_id,
                    keepalive=int(self._keepalive),
                    clean_start=clean_start,
                    session_expiry_s=session_expiry_s,
                    receive_maximum=receive_maximum,
                    username=s.mqtt_username,
                    password=password if s.mqtt_username is not None else None,
                    will=will,
                )
            )
            self.session_present = await self._connack
        except BaseException:
            self.abort()
            raise
        return self.session_present

    # -- the socket --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport, though not necessarily a subclass of asyncio's own (uvloop's
        # are not)
        self._transport = cast(asyncio.Transport, transport)
        self._timer = self._loop.call_later(KEEPALIVE_CHECK_S, self._tick)

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        self._ping_sent = None
        self._reader.feed(data)
        self._drain()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._end(self._error(f"connection to the broker lost: {exc or 'closed'}"))
        if not self._lost.done():
            self._lost.set_result(None)

    def _end(self, exc: BaseException | None) -> None:
        """The connection is over: whoever waits on it learns why."""
        waiting: list[asyncio.Future[Any]] = [self._connack, *self._subacks.values()]
        for fut in waiting:
            if not fut.done():
                fut.set_exception(exc or self._error("connection closed"))
                fut.exception()  # retrieved: whoever awaits it still gets it, nobody must
        if not self.closed.done():
            if exc is None:
                self.closed.set_result(None)
            else:
                self.closed.set_exception(exc)
                self.closed.exception()

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the connection now, without DISCONNECT (the broker sends the will)."""
        self._end(exc)
        if self._transport is not None:
            self._transport.abort()

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self.closed.done()

    async def serve_until(self, stop: asyncio.Event) -> bool:
        """Wait until `stop` is set (True) or the connection ends: False when it ended
        without an error, else the error it ended with is raised."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            either: set[asyncio.Future[Any]] = {stopping, self.closed}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if self.closed.done():
            self.closed.result()  # raises how the connection ended
            return False
        return True

    # -- writing ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        transport = self._transport
        if out and transport is not None and not transport.is_closing():
            transport.write(b"".join(out))
            self._last_sent = time.monotonic()

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 0xFFFF + 1
        return self._next_id

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Queue a PUBLISH; its packet identifier (0 for QoS 0), which `on_puback` names."""
        if not self.is_open:
            raise self._error("publish on a closed connection")
        mid = self._packet_id() if qos else 0
        self._send(publish_packet(topic.encode(), payload, qos=qos, retain=retain, packet_id=mid))
        return mid

    def puback(self, mids: Iterable[int]) -> int:
        """Acknowledge received QoS 1 messages; returns how many PUBACKs were queued (none on
        a closed connection: the broker sends those messages again on the next one)."""
        if not self.is_open:
            return 0
        packets = [puback_packet(mid) for mid in mids]
        if packets:
            self._send(b"".join(packets))
        return len(packets)

    async def subscribe(self, topic_filters: Sequence[str], qos: int = 1) -> None:
        """SUBSCRIBE and wait for SUBACK (the caller bounds the time); a refused filter
        raises `error(...)` naming it."""
        filters = tuple(topic_filters)
        mid = self._packet_id()
        fut: asyncio.Future[list[int]] = self._loop.create_future()
        self._subacks[mid] = fut
        try:
            self._send(subscribe_packet(mid, filters, qos))
            reasons = await fut
        finally:
            self._subacks.pop(mid, None)
        for topic_filter, code in zip(filters, reasons, strict=False):
            if code >= 0x80:
                raise self._error(
                    f"broker refused the subscription {topic_filter!r}: {reason_text(code)}"
                )

    async def close(self) -> None:
        """DISCONNECT after everything queued, then wait (briefly) for the socket to close."""
        transport = self._transport
        if transport is None or self._lost.done():
            self._end(None)
            return
        if not transport.is_closing():
            self._out.append(DISCONNECT_PACKET)
            self._flush()
            transport.close()  # after the write buffer is out
        self._end(None)
        try:
            async with asyncio.timeout(CLOSE_WAIT_S):
                await asyncio.shield(self._lost)
        except TimeoutError:
            transport.abort()

    # -- reading ----------------------------------------------------------------------------

    @property
    def held(self) -> bool:
        """True while delivery is held (`can_deliver()` was False) and the socket not read."""
        return self._held

    def resume(self) -> None:
        """Deliver again what was held, then read the socket again."""
        if not self._held or self._transport is None:
            return
        self._held = False
        self._drain()
        if not self._held and not self._transport.is_closing():
            self._transport.resume_reading()

    def _drain(self) -> None:
        """Hand out every whole packet read so far, while delivery is allowed."""
        reader, handler, can = self._reader, self._on_message, self._can_deliver
        try:
            while can is None or can():
                packet = reader.next()
                if packet is None:
                    return
                if type(packet) is Publish:
                    if handler is not None:
                        handler(packet)
                else:
                    assert isinstance(packet, Packet)
                    self._control(packet)
            # held: leave the rest unread (in this buffer, the socket and the broker)
            if not self._held and self._transport is not None:
                self._held = True
                self._transport.pause_reading()
        except MalformedPacket as exc:
            self.abort(self._error(f"malformed packet from the broker: {exc}"))
        except Exception as exc:  # a bug in a handler: end the connection with it
            self.abort(exc)

    def _control(self, packet: Packet) -> None:
        kind = packet.type
        if kind == PUBACK:
            if self._on_puback is not None:
                self._on_puback(*puback_reason(packet))
        elif kind == CONNACK:
            if not self._connack.done():
                session_present, code = connack_reason(packet)
                if code >= 0x80:
                    hint = ""
                    if code in (0x86, 0x87):  # bad user name or password, not authorized
                        hint = "; check PLANTROOM_MQTT_USERNAME and PLANTROOM_MQTT_PASSWORD"
                    self._connack.set_exception(
                        self._error(f"broker refused the connection: {reason_text(code)}{hint}")
                    )
                else:
                    self._connack.set_result(session_present)
        elif kind == SUBACK:
            mid, reasons = suback_reasons(packet)
            fut = self._subacks.get(mid)
            if fut is not None and not fut.done():
                fut.set_result(reasons)
        elif kind == DISCONNECT:
            reason = reason_text(disconnect_reason(packet))
            self.abort(self._error(f"disconnected by the broker: {reason}"))
        # PINGRESP only proves the link is alive: `data_received` noted that

    def _tick(self) -> None:
        now = time.monotonic()
        period = self._keepalive
        if self._ping_sent is not None:
            if not self._held and now - self._ping_sent >= period:
                self.abort(self._error(f"no answer from the broker for {period:.0f} s"))
                return
        elif now - self._last_sent >= period or now - self._last_heard >= period:
            self._send(PINGREQ_PACKET)
            self._ping_sent = now
        self._timer = self._loop.call_later(KEEPALIVE_CHECK_S, self._tick)
