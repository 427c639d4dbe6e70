"""Validation at the consumer's boundary, (no broker)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloud.enums import EquipmentStatus
from cloud.ingest import TelemetryConsumer
from cloud.messages import parse_status
from cloud.monitor import StatusItem, TelemetryItem
from plantroom.errors import InvalidMessage

TOPIC = "plantroom/v1/s1/b1/pump/p1/telemetry"
STATUS = "plantroom/v1/s1/b1/pump/p1/status"
GOOD = json.dumps({"ts": 1_767_225_600_000, "seq": 7, "points": {"dry_run": True}})


def test_valid_telemetry_becomes_an_item() -> None:
    item = TelemetryConsumer.parse(TOPIC, GOOD.encode())
    assert isinstance(item, TelemetryItem)
    assert item.topic.equipment == "p1" and item.topic.kind == "pump"
    assert item.telemetry.points == {"dry_run": True} and item.telemetry.seq == 7


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"{not json", "Invalid JSON"),
        (TOPIC, json.dumps({"ts": 5, "seq": 1, "points": {"a": 1}}).encode(), "ts"),
        (TOPIC, json.dumps({"ts": 1_767_225_600_000, "seq": 1, "points": {}}).encode(), "points"),
        (TOPIC, 42, "payload of type int is not text"),
        ("plantroom/v1/s1/b1/boiler/x/telemetry", GOOD.encode(), "unknown equipment kind"),
        ("plantroom/v1/s1/b1/pump/p1/other", GOOD.encode(), "unknown leaf"),
        ("somewhere/else", GOOD.encode(), "not a Plantroom equipment topic"),
        (STATUS, b"sleeping", "status must be online, offline or stale"),
        (STATUS, b'{"status": ', "status is not valid JSON"),
    ],
)
def test_invalid_messages_name_topic_and_reason(topic: str, payload: Any, reason: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        TelemetryConsumer.parse(topic, payload)
    assert err.value.topic == topic
    assert reason in err.value.reason


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"online", EquipmentStatus.ONLINE),
        (b" offline\n", EquipmentStatus.OFFLINE),
        ('"stale"', EquipmentStatus.STALE),
        (b'{"status": "offline", "since": 1}', EquipmentStatus.OFFLINE),
    ],
)
def test_status_payloads(payload: bytes | str, status: EquipmentStatus) -> None:
    assert parse_status(STATUS, payload) is status
    item = TelemetryConsumer.parse(STATUS, payload)
    assert isinstance(item, StatusItem) and item.status is status


def test_an_emptied_retained_status_is_not_an_error() -> None:
    assert parse_status(STATUS, b"") is None
    assert TelemetryConsumer.parse(STATUS, b"") is None


def test_telemetry_is_shared_only_when_a_group_is_set() -> None:
    from plantroom.topics import TELEMETRY_WILDCARD, shared

    assert shared("", TELEMETRY_WILDCARD) == "plantroom/v1/+/+/+/+/telemetry"
    assert shared("rules-a", TELEMETRY_WILDCARD) == "$share/rules-a/plantroom/v1/+/+/+/+/telemetry"
