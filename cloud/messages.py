"""Messages the cloud consumer takes, validated into queue items at its boundary: equipment
telemetry and status, and the time of an edge agent's health report (for its clock skew)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cloud.enums import EquipmentStatus
from cloud.monitor import Item, StatusItem, TelemetryItem
from plantroom.errors import InvalidMessage
from plantroom.health import parse_edge_health
from plantroom.schema import DEFAULT_MAX_CLOCK_SKEW_S, parse_telemetry
from plantroom.topics import parse_edge_topic, parse_equipment_topic

# Topics seen lately, parsed: the same few thousand topics arrive again and again. Bounded;
# an invalid topic raises and is not kept.
TOPIC_CACHE = 16_384
_equipment_topic = lru_cache(maxsize=TOPIC_CACHE)(parse_equipment_topic)


def parse_status(topic: str, payload: bytes | bytearray | str) -> EquipmentStatus | None:
    """An equipment status payload: `online`, `offline` or `stale` as text (a JSON string or
    `{"status": …}` object also serves). An empty payload (a retained status being deleted)
    gives None."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes | bytearray) else payload
    text = text.strip()
    if not text:
        return None
    value: Any = text
    if text[0] in '{"':
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidMessage(topic, f"status is not valid JSON: {exc.msg}") from exc
        if isinstance(value, dict):
            value = value.get("status")
    allowed = (EquipmentStatus.ONLINE, EquipmentStatus.OFFLINE, EquipmentStatus.STALE)
    if not isinstance(value, str) or value not in {s.value for s in allowed}:
        raise InvalidMessage(topic, f"status must be online, offline or stale, got {text[:64]!r}")
    return EquipmentStatus(value)


def _text(topic: str, payload: Any) -> bytes | bytearray | str:
    if not isinstance(payload, bytes | bytearray | str):
        raise InvalidMessage(topic, f"payload of type {type(payload).__name__} is not text")
    return payload


def parse_item(
    topic: str,
    payload: Any,
    *,
    now_ms: int | None = None,
    max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> Item | None:
    """One equipment message as a queue item (None: a retained status being deleted);
    InvalidMessage says why not, its subclass FutureTimestamp when the sample's time is more
    than `max_skew_s` ahead of `now_ms`."""
    try:
        where, leaf = _equipment_topic(topic)
    except ValueError as exc:
        raise InvalidMessage(topic, str(exc)) from exc
    text = _text(topic, payload)
    if leaf == "telemetry":
        telemetry = parse_telemetry(topic, text, now_ms=now_ms, max_skew_s=max_skew_s)
        return TelemetryItem(where, telemetry)
    status = parse_status(topic, text)
    return None if status is None else StatusItem(where, status)


def edge_report_time(topic: str, payload: Any) -> tuple[str, int]:
    """The agent and the time of an edge agent's health report; InvalidMessage if it is not
    one. The report itself is the gateway's to store."""
    try:
        _, agent, _ = parse_edge_topic(topic)
    except ValueError as exc:
        raise InvalidMessage(topic, str(exc)) from exc
    return agent, parse_edge_health(topic, _text(topic, payload)).ts
