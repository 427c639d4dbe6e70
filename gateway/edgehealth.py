"""Edge agents' self-health messages as `plantroom_health` lines.

    plantroom/v1/{site}/edge/{agent}/health  {"ts", "seq", "agent": {...}, "devices": {...}}

becomes one line for the agent and one per device, all at the message's `ts` (ms):

    plantroom_health,component=edge,instance=<agent>,site=<site> <agent figures>,seq=<n>i,
        receive_delay_s=<s> <ts>
    plantroom_health,component=edge_device,equipment=<id>,instance=<agent>,site=<site> <…> <ts>

`receive_delay_s` is the gateway's own figure: the time it received the report minus the
report's `ts`, in seconds. Like the cloud's measure (`cloud/clockskew.py`) it is the delivery
delay plus the clock difference (positive: the agent's clock behind, or the report delayed;
negative: the agent's clock ahead), and the pipeline dashboard plots its lower quartile as the
agent's clock skew.

Figures keep the type the agent sent (integers with `i`, floats always with a decimal point
or exponent). A device without figures gets no line. What line protocol cannot carry (an
integer outside 64 bits, a figure named `time`, an agent figure named `seq` or
`receive_delay_s`) refuses the whole message with `LineProtocolError`, and the gateway
dead-letters it.
"""

from __future__ import annotations

from collections.abc import Mapping

from plantroom.health import EdgeHealth, parse_edge_health
from plantroom.influx.lineprotocol import (
    INT64_MAX,
    INT64_MIN,
    SEQ_FIELD,
    LineProtocolError,
    escape_field_key,
    escape_measurement,
    escape_tag_value,
)
from plantroom.topics import parse_edge_topic

HEALTH_MEASUREMENT = "plantroom_health"
EDGE_COMPONENT = "edge"
EDGE_DEVICE_COMPONENT = "edge_device"
RECEIVE_DELAY_FIELD = "receive_delay_s"


def is_edge_health_topic(topic: str) -> bool:
    """A cheap routing test: health topics end in `/health`, telemetry in `/telemetry`."""
    return topic.endswith("/health")


def _fields(figures: Mapping[str, int | float], where: str) -> str:
    parts: list[str] = []
    for name, value in figures.items():
        key = escape_field_key(name)
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise LineProtocolError(f"{where} figure {name!r} {value} does not fit in 64 bits")
            parts.append(f"{key}={value}i")
        else:
            parts.append(f"{key}={value!r}")
    return ",".join(parts)


def edge_health_lines(
    site: str, agent: str, health: EdgeHealth, received_ms: int | None = None
) -> list[str]:
    """The `plantroom_health` lines of one health message: the agent's, then one per device.
    With `received_ms` (when the gateway received it), the agent's line has `receive_delay_s`."""
    if SEQ_FIELD in health.agent:
        raise LineProtocolError(f"agent figure {SEQ_FIELD!r} is reserved for the message's seq")
    if RECEIVE_DELAY_FIELD in health.agent:
        raise LineProtocolError(
            f"agent figure {RECEIVE_DELAY_FIELD!r} is reserved for the gateway's receive delay"
        )
    if health.seq > INT64_MAX:
        raise LineProtocolError(f"seq {health.seq} does not fit in 64 bits")
    measurement = escape_measurement(HEALTH_MEASUREMENT)
    instance = escape_tag_value(agent, "instance")
    site_tag = escape_tag_value(site, "site")
    ts = health.ts
    delay = "" if received_ms is None else f",{RECEIVE_DELAY_FIELD}={(received_ms - ts) / 1000!r}"
    lines = [
        f"{measurement},component={EDGE_COMPONENT},instance={instance},site={site_tag} "
        f"{_fields(health.agent, 'agent')},{SEQ_FIELD}={health.seq}i{delay} {ts}"
    ]
    device_prefix = f"{measurement},component={EDGE_DEVICE_COMPONENT},equipment="
    device_suffix = f",instance={instance},site={site_tag} "
    for equipment, figures in health.devices.items():
        if not figures:
            continue
        lines.append(
            f"{device_prefix}{escape_tag_value(equipment, 'equipment')}{device_suffix}"
            f"{_fields(figures, f'device {equipment!r}')} {ts}"
        )
    return lines


def decode_edge_health(
    topic: str, payload: bytes | bytearray, received_ms: int | None = None
) -> list[str]:
    """Validate a health topic and payload and encode its lines (with `receive_delay_s` when
    `received_ms` is given).

    Raises `plantroom.errors.InvalidMessage` (payload), `LineProtocolError` (a figure line
    protocol cannot carry) or ValueError (topic), each naming what is wrong.
    """
    site, agent, leaf = parse_edge_topic(topic)
    if leaf != "health":
        raise ValueError(f"not an edge health topic: {topic!r}")
    return edge_health_lines(site, agent, parse_edge_health(topic, payload), received_ms)
