"""Edge self-health messages encoded as `plantroom_health` lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.edgehealth import decode_edge_health, edge_health_lines, is_edge_health_topic
from gateway.service import Gateway
from plantroom.errors import InvalidMessage
from plantroom.health import EdgeHealth
from plantroom.influx.lineprotocol import LineProtocolError
from plantroom.influx.parse import parse_line
from plantroom.settings import GatewaySettings
from plantroom.topics import edge_health

TS = 1_763_900_000_000
TOPIC = edge_health("harbour", "edge-tower-a")


def body(**overrides: Any) -> bytes:
    message: dict[str, Any] = {
        "ts": TS,
        "seq": 42,
        "agent": {"uptime_s": 12.0, "queue_depth": 3, "broker_connected": 1},
        "devices": {
            "pump-a1": {"polls": 100, "late": 2, "poll_latency_p99_ms": 4.25},
            "lift-1": {"polls": 7, "timeouts": 0},
        },
    }
    message.update(overrides)
    return json.dumps(message).encode()


def test_one_line_for_the_agent_and_one_per_device_at_the_message_time() -> None:
    lines = decode_edge_health(TOPIC, body())
    assert len(lines) == 3
    agent = parse_line(lines[0])
    assert agent.measurement == "plantroom_health"
    assert agent.tags == {"component": "edge", "instance": "edge-tower-a", "site": "harbour"}
    assert agent.fields == {"uptime_s": 12.0, "queue_depth": 3, "broker_connected": 1, "seq": 42}
    assert agent.timestamp == TS
    devices = {parse_line(line).tags["equipment"]: parse_line(line) for line in lines[1:]}
    assert set(devices) == {"pump-a1", "lift-1"}
    pump = devices["pump-a1"]
    assert pump.tags == {
        "component": "edge_device",
        "equipment": "pump-a1",
        "instance": "edge-tower-a",
        "site": "harbour",
    }
    assert pump.fields == {"polls": 100, "late": 2, "poll_latency_p99_ms": 4.25}
    assert "seq" not in pump.fields
    assert pump.timestamp == TS
    assert devices["lift-1"].fields == {"polls": 7, "timeouts": 0}


def test_the_agent_line_carries_the_gateways_receive_delay_when_given() -> None:
    late = decode_edge_health(TOPIC, body(), received_ms=TS + 1_250)
    agent = parse_line(late[0])
    assert agent.fields["receive_delay_s"] == 1.25 and agent.timestamp == TS
    assert (
        " uptime_s=12.0,queue_depth=3i,broker_connected=1i,seq=42i,receive_delay_s=1.25 "
        in (late[0])
    )
    # a fast agent clock: the report arrives before its own time
    ahead = parse_line(decode_edge_health(TOPIC, body(), received_ms=TS - 400_000)[0])
    assert ahead.fields["receive_delay_s"] == -400.0
    # the device lines do not carry it
    assert all("receive_delay_s" not in parse_line(line).fields for line in late[1:])


def test_figures_keep_their_type_integers_with_i_and_whole_floats_stay_floats() -> None:
    lines = decode_edge_health(TOPIC, body())
    assert " uptime_s=12.0,queue_depth=3i,broker_connected=1i,seq=42i " in lines[0]
    assert "polls=100i,late=2i,poll_latency_p99_ms=4.25 " in lines[1]
    assert type(parse_line(lines[0]).fields["uptime_s"]) is float
    assert type(parse_line(lines[0]).fields["queue_depth"]) is int


def test_a_device_without_figures_gets_no_line_and_no_devices_means_the_agent_line_only() -> None:
    assert (
        len(decode_edge_health(TOPIC, body(devices={"pump-a1": {}, "lift-1": {"polls": 1}}))) == 2
    )
    only = decode_edge_health(TOPIC, body(devices={}))
    assert len(only) == 1 and parse_line(only[0]).tags["component"] == "edge"


def test_tags_are_sorted_and_match_encode_lines_of_the_same_content() -> None:
    health = EdgeHealth(ts=TS, seq=0, agent={"a": 1}, devices={"d:1.x_y-z": {"b": 2.5}})
    lines = edge_health_lines("s.1", "ag:2", health)
    assert lines == [
        "plantroom_health,component=edge,instance=ag:2,site=s.1 a=1i,seq=0i 1763900000000",
        "plantroom_health,component=edge_device,equipment=d:1.x_y-z,instance=ag:2,site=s.1 "
        "b=2.5 1763900000000",
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{not json", "Invalid JSON"),
        (TOPIC, body(seq=-1), "seq"),
        (TOPIC, body(agent={}), "agent"),
        (TOPIC, body(agent={"queue_depth": "3"}), "agent.queue_depth"),
        (TOPIC, body(agent={"flag": True}), "agent.flag"),
        (TOPIC, body(devices={"bad id!": {"polls": 1}}), "devices"),
        (TOPIC, body(extra=1), "extra"),
    ],
)
def test_an_invalid_payload_is_refused_naming_the_field(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        decode_edge_health(topic, payload)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (body(agent={"seq": 1}), "reserved for the message's seq"),
        (body(agent={"receive_delay_s": 1.0}), "reserved for the gateway's receive delay"),
        (body(agent={"time": 1}), "'time' is reserved"),
        (body(devices={"p1": {"time": 1}}), "'time' is reserved"),
        (body(agent={"polls": 2**70}), "agent figure 'polls'"),
        (body(devices={"p1": {"polls": -(2**64)}}), "device 'p1' figure 'polls'"),
        (body(seq=2**64), "64 bits"),
    ],
)
def test_what_line_protocol_cannot_carry_refuses_the_message(payload: bytes, reason: str) -> None:
    with pytest.raises(LineProtocolError, match=reason):
        decode_edge_health(TOPIC, payload)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("plantroom/v1/harbour/edge/edge-tower-a/status", "not an edge health topic"),
        ("plantroom/v1/harbour/tower-a/edge-1/health", "not a Plantroom edge agent topic"),
        ("plantroom/v1/harbour/edge/bad agent/health", "agent"),
    ],
)
def test_a_topic_that_is_not_an_edge_health_topic_is_refused(topic: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_edge_health(topic, body())


def test_routing_tells_health_from_telemetry_topics() -> None:
    assert is_edge_health_topic(TOPIC)
    assert not is_edge_health_topic("plantroom/v1/harbour/tower-a/pump/p1/telemetry")


def test_the_gateway_subscribes_to_telemetry_and_edge_health_in_its_share_group(
    tmp_path: Path,
) -> None:
    gateway = Gateway(GatewaySettings(gateway_share_group="g1", gateway_buffer_dir=tmp_path))
    assert gateway.topic_filters == (
        "$share/g1/plantroom/v1/+/+/+/+/telemetry",
        "$share/g1/plantroom/v1/+/edge/+/health",
    )


def test_without_a_share_group_the_gateway_subscribes_plainly(tmp_path: Path) -> None:
    gateway = Gateway(GatewaySettings(gateway_buffer_dir=tmp_path))
    assert gateway.topic_filters == (
        "plantroom/v1/+/+/+/+/telemetry",
        "plantroom/v1/+/edge/+/health",
    )
