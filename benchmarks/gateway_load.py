"""The gateway benchmark's load: 200 pumps' telemetry (the JSON the gateway takes in and the
lines it must write for it) and the publishers that send it to the broker with QoS 1 from
pre-built packets, in a process of their own pinned to the load core."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.procstat import own_cpu
from plantroom.mqttwire import utf8_string, varint

SITES = ("harbour", "riverside")
BUILDINGS = ("tower-a", "tower-b", "podium", "annex")
PUMPS_PER_BUILDING = 25  # 200 pumps in all
POINTS_PER_MESSAGE = 12
VARIANTS = 997  # distinct sets of point values, cycled

PUBLISHERS = 1
WINDOW = 20_000  # unacknowledged QoS 1 messages per publisher
BACKLOG = 60_000  # messages published but not yet taken by the gateway, at most
SEND_CHUNK = 500
LOAD_CORE = 0


# -- the data ---------------------------------------------------------------------------


def equipment() -> list[tuple[str, str, str]]:
    return [
        (site, building, f"pump-{b}{n:02d}")
        for site in SITES
        for b, building in enumerate(BUILDINGS)
        for n in range(PUMPS_PER_BUILDING)
    ]


def topic(site: str, building: str, pump: str) -> str:
    return f"plantroom/v1/{site}/{building}/pump/{pump}/telemetry"


def point_values(k: int) -> dict[str, bool | int | float | str]:
    """The 12 points of a pump sample, as the pump profile decodes them (variant k)."""
    return {
        "run_state": "running" if k % 17 else "stopped",
        "speed": 1380 + k % 140,
        "current": round(10 + (k % 83) / 10, 1),
        "power": round(5 + (k % 311) / 100, 2),
        "discharge_pressure": round(3 + (k % 157) / 100, 2),
        "flow": round(40 + (k % 229) / 10, 1),
        "motor_temperature": round(45 + (k % 97) / 10, 1),
        "vibration": round(1 + (k % 131) / 100, 2),
        "sump_level": round(30 + (k % 409) / 10, 1),
        "run_hours": round(10_000 + k * 0.25, 2),
        "starts": 2_000 + k,
        "dry_run": k % 211 == 0,
    }


def field_text(points: dict[str, bool | int | float | str]) -> str:
    out = []
    for name, value in points.items():
        if isinstance(value, bool):
            out.append(f"{name}={'true' if value else 'false'}")
        elif isinstance(value, int):
            out.append(f"{name}={value}i")
        elif isinstance(value, float):
            out.append(f"{name}={value!r}")
        else:
            out.append(f'{name}="{value}"')
    return ",".join(out)


def json_fragments() -> list[bytes]:
    return [
        json.dumps(point_values(k), separators=(",", ":"))[1:-1].encode() for k in range(VARIANTS)
    ]


def line_fragments() -> list[str]:
    return [field_text(point_values(k)) for k in range(VARIANTS)]


def variant(e: int, seq: int) -> int:
    return (seq * 31 + e) % VARIANTS


def base_ts() -> int:
    """Two days ago, on a whole second: every sample lands in the default retention."""
    return (int(time.time()) - 2 * 86_400) * 1000


def payload(ts0: int, e: int, seq: int, fragments: Sequence[bytes]) -> bytes:
    return b'{"ts":%d,"seq":%d,"points":{%s}}' % (ts0 + seq * 1000, seq, fragments[variant(e, seq)])


def line(prefix: str, ts0: int, e: int, seq: int, fragments: Sequence[str]) -> str:
    return f"{prefix} {fragments[variant(e, seq)]},seq={seq}i {ts0 + seq * 1000}"


def check_lines_match_gateway() -> None:
    """The ceiling's lines must be exactly what the gateway writes for the same message."""
    from plantroom.influx.lineprotocol import TelemetryEncoder
    from plantroom.schema import parse_telemetry

    ts0 = base_ts()
    site, building, pump = equipment()[7]
    t = topic(site, building, pump)
    encoder = TelemetryEncoder()
    for seq in (0, 5, 977):
        message = parse_telemetry(t, payload(ts0, 7, seq, json_fragments()))
        written, points = encoder.encode(t, message)
        expected = line(encoder.prefix(t), ts0, 7, seq, line_fragments())
        if written != expected or points != POINTS_PER_MESSAGE:
            raise RuntimeError(f"benchmark lines differ from the gateway's:\n{written}\n{expected}")


# -- the publishers: QoS 1 from pre-built packets -----------------------------------------


def mqtt_connect(host: str, port: int, client_id: str) -> socket.socket:
    """An MQTT 3.1.1 connection with a clean session and keepalive off."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = utf8_string("MQTT") + b"\x04\x02\x00\x00" + utf8_string(client_id)
    sock.sendall(b"\x10" + varint(len(body)) + body)
    ack = b""
    while len(ack) < 4:
        chunk = sock.recv(4 - len(ack))
        if not chunk:
            raise ConnectionError("the broker closed the connection before CONNACK")
        ack += chunk
    if ack[0] != 0x20 or ack[3] != 0:
        raise ConnectionError(f"the broker refused the connection: {ack!r}")
    return sock


def publish_packet(topic_field: bytes, packet_id: int, body: bytes) -> bytes:
    """PUBLISH, QoS 1; `topic_field` is the length-prefixed topic."""
    length = len(topic_field) + 2 + len(body)
    return b"\x32" + varint(length) + topic_field + packet_id.to_bytes(2, "big") + body


class AckCounter:
    """Counts PUBACKs (4 bytes each on MQTT 3.1.1) as they arrive on a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.acked = 0
        self._rest = b""

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        while ready:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the broker closed the publisher's connection")
            data = self._rest + data
            n = len(data) // 4
            if data[: n * 4 : 4].count(0x40) != n:
                raise ConnectionError("unexpected packet from the broker (not a PUBACK)")
            self.acked += n
            self._rest = data[n * 4 :]
            ready, _, _ = select.select([self.sock], [], [], 0)


def publisher(
    index: int,
    host: str,
    port: int,
    pumps: list[tuple[int, str]],
    ts0: int,
    seconds: float,
    max_messages: int,
    go: Any,
    taken: Any,
    results: Any,
) -> None:
    """One load-generating process: pumps round-robin, seq counting up, as fast as acked.

    `taken` is how many messages the gateway has received (from its /metrics); a publisher
    stays at most BACKLOG / PUBLISHERS ahead, so the broker's queue stays bounded while the
    gateway is never short of work.
    """
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {LOAD_CORE})
    fragments = json_fragments()
    topics = [utf8_string(t) for _, t in pumps]
    sock = mqtt_connect(host, port, f"bench-publisher-{index}")
    acks = AckCounter(sock)
    n_pumps = len(pumps)
    sent = 0
    go.wait()
    cpu0, started = own_cpu(), time.monotonic()
    deadline = started + seconds
    try:
        while sent < max_messages and time.monotonic() < deadline:
            room = min(
                SEND_CHUNK,
                WINDOW - (sent - acks.acked),
                max_messages - sent,
                (BACKLOG - (PUBLISHERS * sent - taken.value)) // PUBLISHERS,
            )
            if room <= 0:
                acks.read(0.05)
                continue
            packets = []
            for i in range(sent, sent + room):
                seq, k = divmod(i, n_pumps)
                e = pumps[k][0]
                packets.append(
                    publish_packet(topics[k], i % 65_535 + 1, payload(ts0, e, seq, fragments))
                )
            sock.sendall(b"".join(packets))
            sent += room
            acks.read(0)
        stopped = time.monotonic()
        final = stopped + 30.0
        while acks.acked < sent and time.monotonic() < final:
            acks.read(0.1)
    finally:
        sock.close()
    results.put(
        {
            "index": index,
            "sent": sent,
            "acked": acks.acked,
            "seconds": stopped - started,
            "cpu": own_cpu() - cpu0,
        }
    )


def probe_until(host: str, port: int, ts0: int, ready: Callable[[], bool], timeout: float) -> None:
    """Publish an elevator probe until `ready()` — the gateway's subscription is live."""
    sock = mqtt_connect(host, port, "bench-probe")
    field_ = utf8_string("plantroom/v1/bench/probe/elevator/probe-1/telemetry")
    acks = AckCounter(sock)
    deadline = time.monotonic() + timeout
    seq = 0
    try:
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not take a probe message in time")
            body = b'{"ts":%d,"seq":%d,"points":{"probe":1}}' % (ts0 + seq, seq)
            sock.sendall(publish_packet(field_, seq % 65_535 + 1, body))
            seq += 1
            acks.read(0.2)
    finally:
        sock.close()
