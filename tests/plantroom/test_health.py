"""The edge self-health message and its topic."""

from __future__ import annotations

import json

import pytest

from plantroom.errors import InvalidMessage
from plantroom.health import EdgeHealth, parse_edge_health
from plantroom.topics import edge_health, parse_edge_topic

TOPIC = edge_health("campus", "edge-a")
TS = 1_790_000_000_000


def payload(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "ts": TS,
        "seq": 3,
        "agent": {"queue_depth": 12, "reconnects": 1},
        "devices": {"pump-a1": {"polls": 60, "poll_latency_p99_ms": 4.5}},
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_topic_round_trip() -> None:
    assert TOPIC == "plantroom/v1/campus/edge/edge-a/health"
    assert parse_edge_topic(TOPIC) == ("campus", "edge-a", "health")
    assert parse_edge_topic("plantroom/v1/campus/edge/edge-a/status")[2] == "status"


@pytest.mark.parametrize(
    "topic",
    [
        "plantroom/v1/campus/tower/edge-a/health",
        "plantroom/v1/campus/edge/edge-a/telemetry",
        "plantroom/v2/campus/edge/edge-a/health",
        "plantroom/v1/campus/edge/health",
    ],
)
def test_bad_topics_are_named(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        parse_edge_topic(topic)


def test_valid_payload_parses_and_round_trips() -> None:
    health = parse_edge_health(TOPIC, payload())
    assert health.agent == {"queue_depth": 12, "reconnects": 1}
    assert health.devices["pump-a1"]["poll_latency_p99_ms"] == 4.5
    assert parse_edge_health(TOPIC, health.to_json()) == health
    assert EdgeHealth(ts=TS, seq=0, agent={"up": 1}).devices == {}


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"agent": {}}, "agent"),
        ({"agent": {"queue_depth": True}}, "agent.queue_depth"),
        ({"agent": {"Bad Name": 1}}, "agent"),
        ({"devices": {"pump a1": {"polls": 1}}}, "devices"),
        ({"devices": {"pump-a1": {"polls": "many"}}}, "devices.pump-a1.polls"),
        ({"ts": 12}, "ts"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_payloads_name_the_field(overrides: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidMessage, match=where.replace(".", r"\.")):
        parse_edge_health(TOPIC, payload(**overrides))


def test_non_finite_figure_is_refused() -> None:
    raw = payload().replace(b"4.5", b"NaN")
    with pytest.raises(InvalidMessage, match=r"finite|number"):
        parse_edge_health(TOPIC, raw)


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(InvalidMessage, match="exceeds"):
        parse_edge_health(TOPIC, b" " * (1024 * 1024 + 1))
