"""The MQTT 5 framing of the gateway's subscriber, checked against the specification's layout
and, for PUBLISH, against paho-mqtt's encoder as an independent implementation."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from plantroom.mqttwire import (
    CONNACK,
    PINGRESP,
    SUBACK,
    MalformedPacket,
    Packet,
    PacketReader,
    Publish,
    Will,
    connack_reason,
    connect_packet,
    puback_packet,
    puback_reason,
    publish_packet,
    reason_text,
    suback_reasons,
    subscribe_packet,
)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish_bytes(
    topic: bytes, payload: bytes, qos: int, mid: int, retain: bool = False, props: bytes = b""
) -> bytes:
    body = struct.pack(">H", len(topic)) + topic
    if qos:
        body += struct.pack(">H", mid)
    body += varint(len(props)) + props + payload
    return bytes([0x30 | qos << 1 | int(retain)]) + varint(len(body)) + body


def paho_publish(topic: str, payload: bytes, qos: int, mid: int) -> bytes:
    """A PUBLISH as paho-mqtt's MQTT 5 client frames it (with a property, to be skipped)."""
    from paho.mqtt.client import Client, MQTTv5
    from paho.mqtt.enums import CallbackAPIVersion

    client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTv5)
    sent: list[bytes] = []
    client._sock = object()  # type: ignore[assignment]  # "connected": frame, do not send
    client._packet_queue = lambda command, packet, mid, qos, info=None: sent.append(bytes(packet))  # type: ignore[method-assign]
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = ("origin", "test")
    try:
        client._send_publish(mid, topic.encode(), payload, qos, False, False, None, props)
    finally:
        client._sock = None
    return sent[0]


def read_all(reader: PacketReader) -> list[Publish | Packet]:
    out: list[Publish | Packet] = []
    while (packet := reader.next()) is not None:
        out.append(packet)
    return out


@given(
    topic=st.text(min_size=1, max_size=80).filter(lambda t: "\x00" not in t),
    payload=st.binary(max_size=400),
    qos=st.sampled_from([0, 1]),
    mid=st.integers(1, 65535),
)
def test_publish_framed_by_paho_reads_back_whole(
    topic: str, payload: bytes, qos: int, mid: int
) -> None:
    reader = PacketReader()
    reader.feed(paho_publish(topic, payload, qos, mid))
    (packet,) = read_all(reader)
    assert isinstance(packet, Publish)
    assert (packet.topic, packet.payload, packet.qos) == (topic, payload, qos)
    assert packet.mid == (mid if qos else 0)
    assert reader.buffered == 0


@given(
    sizes=st.lists(st.integers(0, 300), min_size=1, max_size=12),
    cuts=st.lists(st.integers(1, 97), min_size=1, max_size=30),
)
def test_a_stream_cut_anywhere_gives_the_same_packets_in_order(
    sizes: list[int], cuts: list[int]
) -> None:
    """Lengths cross the one-byte boundary of the remaining length (127/128 bytes)."""
    stream = b"".join(
        publish_bytes(f"t/{i}".encode(), bytes([i % 256]) * n, 1, i + 1)
        for i, n in enumerate(sizes)
    )
    reader = PacketReader()
    got: list[Publish | Packet] = []
    at = 0
    for cut in cuts * (len(stream) // sum(cuts) + 1):
        if at >= len(stream):
            break
        reader.feed(stream[at : at + cut])
        at += cut
        got += read_all(reader)
    assert [(p.mid, len(p.payload)) for p in got if isinstance(p, Publish)] == [
        (i + 1, n) for i, n in enumerate(sizes)
    ]


def test_large_publish_with_a_four_byte_remaining_length() -> None:
    payload = b"x" * 2_100_000
    reader = PacketReader()
    reader.feed(publish_bytes(b"big", payload, 1, 7))
    (packet,) = read_all(reader)
    assert isinstance(packet, Publish) and packet.payload == payload and packet.retain is False


def test_retain_flag_and_properties_are_read() -> None:
    reader = PacketReader()
    reader.feed(publish_bytes(b"a/b", b"{}", 1, 3, retain=True, props=b"\x01\x01"))
    (packet,) = read_all(reader)
    assert isinstance(packet, Publish)
    assert (packet.retain, packet.payload, packet.mid) == (True, b"{}", 3)


def test_a_topic_that_is_not_utf8_raises_on_access_only() -> None:
    reader = PacketReader()
    reader.feed(publish_bytes(b"bad\xff", b"{}", 0, 0))
    (packet,) = read_all(reader)
    assert isinstance(packet, Publish)
    with pytest.raises(UnicodeDecodeError):
        _ = packet.topic
    assert packet.topic_bytes == b"bad\xff"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x32\x03\x00\x01a", "packet identifier"),  # QoS 1 and no room for its id
        (b"\x36\x05\x00\x01a\x00\x01", "QoS 3"),
        (b"\x70\x00", "unexpected packet type 7"),
        (b"\x30\xff\xff\xff\xff\x01", "longer than 4 bytes"),
        (b"\x30\x04\x00\x01a\x05", "properties run past"),
        (b"\x30\x01\x00", "shorter than its topic length"),
    ],
)
def test_malformed_packets_are_named(data: bytes, words: str) -> None:
    reader = PacketReader()
    reader.feed(data)
    with pytest.raises(MalformedPacket, match=words):
        read_all(reader)


def test_control_packets() -> None:
    reader = PacketReader()
    reader.feed(b"\x20\x03\x01\x00\x00" + b"\x90\x05\x00\x01\x00\x01\x87" + b"\xd0\x00")
    connack, suback, pingresp = read_all(reader)
    assert isinstance(connack, Packet) and connack.type == CONNACK
    assert connack_reason(connack) == (True, 0)
    assert isinstance(suback, Packet) and suback.type == SUBACK
    assert suback_reasons(suback) == (1, [0x01, 0x87])
    assert isinstance(pingresp, Packet) and pingresp.type == PINGRESP
    assert reason_text(0x87) == "Not authorized (0x87)"


def test_connect_packet_layout() -> None:
    packet = connect_packet(
        "gw-1",
        keepalive=30,
        clean_start=False,
        session_expiry_s=3600,
        receive_maximum=15000,
        username="gateway",
        password="s3cret",
    )
    assert packet[0] == 0x10
    body = packet[2:]
    assert packet[1] == len(body)
    assert body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0xC0  # user name and password, clean start off
    assert body[8:10] == b"\x00\x1e"
    assert body[10:21] == b"\x08\x11\x00\x00\x0e\x10\x21\x3a\x98" + b"\x00\x04"
    assert body[21:] == b"gw-1\x00\x07gateway\x00\x06s3cret"
    with pytest.raises(ValueError, match="receive_maximum"):
        connect_packet("x", keepalive=1, clean_start=True, session_expiry_s=0, receive_maximum=0)


def test_subscribe_and_puback() -> None:
    assert subscribe_packet(1, ("a/#", "$share/g/b")) == (
        b"\x82\x16\x00\x01\x00" + b"\x00\x03a/#\x01" + b"\x00\x0a$share/g/b\x01"
    )
    assert puback_packet(0x1234) == b"\x40\x02\x12\x34"
    with pytest.raises(ValueError, match="at least one"):
        subscribe_packet(1, ())


@given(
    topic=st.text(min_size=1, max_size=60).filter(lambda t: "\x00" not in t),
    payload=st.binary(max_size=300),
    qos=st.sampled_from([0, 1]),
    retain=st.booleans(),
    mid=st.integers(1, 65535),
)
def test_a_publish_we_frame_reads_back(
    topic: str, payload: bytes, qos: int, retain: bool, mid: int
) -> None:
    packet = publish_packet(topic.encode(), payload, qos=qos, retain=retain, packet_id=mid)
    assert packet == publish_bytes(topic.encode(), payload, qos, mid, retain)
    reader = PacketReader()
    reader.feed(packet)
    (back,) = read_all(reader)
    assert isinstance(back, Publish)
    assert (back.topic, back.payload, back.qos, back.retain) == (topic, payload, qos, retain)
    assert back.mid == (mid if qos else 0)


def test_connect_with_a_will_places_it_after_the_client_id() -> None:
    packet = connect_packet(
        "edge-1",
        keepalive=30,
        clean_start=False,
        session_expiry_s=0xFFFFFFFF,
        receive_maximum=100,
        will=Will("plantroom/v1/s/edge/a/status", b"offline", qos=1, retain=True),
    )
    body = packet[2:]
    assert body[7] == 0x04 | 0x08 | 0x20  # will flag, will QoS 1, will retain
    assert body[10:19] == b"\x08\x11\xff\xff\xff\xff\x21\x00\x64"
    assert body[19:] == (
        b"\x00\x06edge-1" + b"\x00" + b"\x00\x1cplantroom/v1/s/edge/a/status" + b"\x00\x07offline"
    )


def test_puback_reasons() -> None:
    reader = PacketReader()
    reader.feed(puback_packet(9) + b"\x40\x03\x00\x0a\x87")
    short, refused = read_all(reader)
    assert isinstance(short, Packet) and isinstance(refused, Packet)
    assert puback_reason(short) == (9, 0)
    assert puback_reason(refused) == (10, 0x87)
