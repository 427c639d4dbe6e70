"""MQTT 5 on the wire: the packets a client sends, and a reader for what it gets.

Only what a QoS 0/1 client needs: CONNECT (with a will), SUBSCRIBE, PUBLISH, PUBACK, PINGREQ
and DISCONNECT out; CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP and DISCONNECT in (OASIS MQTT
Version 5.0, chapter 3).
`PacketReader` takes the bytes of a stream as they arrive and hands out whole packets; it
copies nothing it does not have to, so a busy subscriber spends its time on the messages, not
on the framing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP, DISCONNECT = 2, 3, 4, 9, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection, no properties

# Reason codes of MQTT 5 (section 2.4), for messages people read.
REASONS: dict[int, str] = {
    0x00: "Success",
    0x01: "Granted QoS 1",
    0x02: "Granted QoS 2",
    0x04: "Disconnect with will message",
    0x80: "Unspecified error",
    0x81: "Malformed packet",
    0x82: "Protocol error",
    0x83: "Implementation specific error",
    0x84: "Unsupported protocol version",
    0x85: "Client identifier not valid",
    0x86: "Bad user name or password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep alive timeout",
    0x8E: "Session taken over",
    0x8F: "Topic filter invalid",
    0x90: "Topic name invalid",
    0x91: "Packet identifier in use",
    0x93: "Receive maximum exceeded",
    0x94: "Topic alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9E: "Shared subscriptions not supported",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
    0xA1: "Subscription identifiers not supported",
    0xA2: "Wildcard subscriptions not supported",
}

_PROP_SESSION_EXPIRY = 0x11
_PROP_RECEIVE_MAXIMUM = 0x21


class MalformedPacket(ValueError):
    """The stream does not hold a valid MQTT 5 packet where one should start."""


def reason_text(code: int) -> str:
    return f"{REASONS.get(code, 'Reason')} (0x{code:02x})"


def varint(n: int) -> bytes:
    """Variable Byte Integer (1.5.5)."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"{n} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def utf8_string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    if len(data) > 0xFFFF:
        raise ValueError("an MQTT string is at most 65,535 bytes")
    return struct.pack(">H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    session_expiry_s: int,
    receive_maximum: int,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
) -> bytes:
    """CONNECT (3.1) of protocol level 5 with Session Expiry Interval and Receive Maximum."""
    if not 1 <= receive_maximum <= 0xFFFF:
        raise ValueError("receive_maximum is 1..65535")
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError("keepalive is 0..65535 seconds")
    flags = 0x02 if clean_start else 0x00
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
    props = struct.pack(">BI", _PROP_SESSION_EXPIRY, max(0, min(session_expiry_s, 0xFFFFFFFF)))
    props += struct.pack(">BH", _PROP_RECEIVE_MAXIMUM, receive_maximum)
    body = utf8_string("MQTT") + bytes([5, flags]) + struct.pack(">H", keepalive)
    body += varint(len(props)) + props + utf8_string(client_id)
    if will is not None:
        body += b"\x00" + utf8_string(will.topic) + utf8_string(will.payload)
    if username is not None:
        body += utf8_string(username)
    if password is not None:
        body += utf8_string(password)
    return _packet(0x10, body)


def subscribe_packet(packet_id: int, topic_filters: tuple[str, ...], qos: int = 1) -> bytes:
    """SUBSCRIBE (3.8) of every filter at `qos`, no subscription options beyond it."""
    if not topic_filters:
        raise ValueError("SUBSCRIBE needs at least one topic filter")
    body = struct.pack(">H", packet_id) + b"\x00"
    for topic_filter in topic_filters:
        body += utf8_string(topic_filter) + bytes([qos])
    return _packet(0x82, body)


def publish_packet(
    topic: bytes, payload: bytes, *, qos: int, retain: bool = False, packet_id: int = 0
) -> bytes:
    """PUBLISH (3.3) without properties; `packet_id` for QoS 1."""
    head = struct.pack(">H", len(topic)) + topic
    if qos:
        head += struct.pack(">H", packet_id)
    size = len(head) + 1 + len(payload)
    first = 0x30 | (qos << 1) | (0x01 if retain else 0)
    return bytes([first]) + varint(size) + head + b"\x00" + payload


_PUBACK = struct.Struct(">BBH")


def puback_packet(packet_id: int) -> bytes:
    """PUBACK (3.4) with reason Success: the short form without a reason code."""
    return _PUBACK.pack(0x40, 2, packet_id)


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for a client that vanishes without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class Packet:
    """A packet other than PUBLISH: its type, flags byte and body."""

    type: int
    flags: int
    body: bytes


class Publish:
    """One PUBLISH (3.3) as received. `topic` decodes on access (UnicodeDecodeError if the
    topic is not UTF-8); `payload` is the application message."""

    __slots__ = ("_topic", "mid", "payload", "qos", "retain", "topic_bytes")

    def __init__(self, topic: bytes, payload: bytes, qos: int, mid: int, retain: bool) -> None:
        self.topic_bytes = topic
        self.payload = payload
        self.qos = qos
        self.mid = mid
        self.retain = retain
        self._topic: str | None = None

    @property
    def topic(self) -> str:
        if self._topic is None:
            self._topic = self.topic_bytes.decode()
        return self._topic

    def __repr__(self) -> str:
        return f"Publish(topic={self.topic_bytes!r}, qos={self.qos}, mid={self.mid})"


def _read_varint(data: bytes | bytearray, at: int, end: int) -> tuple[int, int] | None:
    """(value, next offset), or None when the integer is not all there yet."""
    value, shift = 0, 0
    for i in range(at, min(at + 4, end)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    if end - at >= 4:
        raise MalformedPacket("a variable byte integer longer than 4 bytes")
    return None


def parse_publish(flags: int, body: bytes) -> Publish:
    """The PUBLISH whose fixed-header flags are `flags` and whose variable part is `body`."""
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    if len(body) < 2:
        raise MalformedPacket("PUBLISH shorter than its topic length")
    n = (body[0] << 8) | body[1]
    at = 2 + n
    topic = body[2:at]
    mid = 0
    if qos:
        mid = (body[at] << 8) | body[at + 1] if len(body) >= at + 2 else -1
        if mid <= 0:
            raise MalformedPacket("PUBLISH without a packet identifier")
        at += 2
    found = _read_varint(body, at, len(body))
    if found is None:
        raise MalformedPacket("PUBLISH cut short in its properties")
    props, at = found
    at += props
    if at > len(body):
        raise MalformedPacket("PUBLISH properties run past its end")
    return Publish(topic, body[at:], qos, mid, bool(flags & 0x01))


class PacketReader:
    """Splits a byte stream into packets: `feed(data)`, then `next()` until it gives None."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as packets."""
        return len(self._buf) - self._pos

    def next(self) -> Publish | Packet | None:
        """The next whole packet, or None when more bytes are needed."""
        buf, pos = self._buf, self._pos
        end = len(buf)
        if end - pos < 2:
            return None
        first = buf[pos]
        second = buf[pos + 1]
        if second < 0x80:  # the common case: a remaining length below 128
            length, start = second, pos + 2
        else:
            found = _read_varint(buf, pos + 1, end)
            if found is None:
                return None
            length, start = found
        stop = start + length
        if stop > end:
            return None
        body = bytes(buf[start:stop])
        self._pos = stop
        kind = first >> 4
        if kind == PUBLISH:
            return parse_publish(first & 0x0F, body)
        if kind in (CONNACK, PUBACK, SUBACK, PINGRESP, DISCONNECT):
            return Packet(kind, first & 0x0F, body)
        raise MalformedPacket(f"unexpected packet type {kind} from the broker")


def connack_reason(packet: Packet) -> tuple[bool, int]:
    """(session present, reason code) of a CONNACK."""
    if len(packet.body) < 2:
        raise MalformedPacket("CONNACK shorter than 2 bytes")
    return bool(packet.body[0] & 0x01), packet.body[1]


def suback_reasons(packet: Packet) -> tuple[int, list[int]]:
    """(packet identifier, reason code per filter) of a SUBACK."""
    body = packet.body
    if len(body) < 3:
        raise MalformedPacket("SUBACK shorter than 3 bytes")
    mid = (body[0] << 8) | body[1]
    found = _read_varint(body, 2, len(body))
    if found is None:
        raise MalformedPacket("SUBACK cut short in its properties")
    props, at = found
    return mid, list(body[at + props :])


def puback_reason(packet: Packet) -> tuple[int, int]:
    """(packet identifier, reason code) of a PUBACK; no reason code means Success."""
    body = packet.body
    if len(body) < 2:
        raise MalformedPacket("PUBACK shorter than 2 bytes")
    return (body[0] << 8) | body[1], body[2] if len(body) > 2 else 0


def disconnect_reason(packet: Packet) -> int:
    """The reason code of a DISCONNECT (0, normal disconnection, when it has none)."""
    return packet.body[0] if packet.body else 0
