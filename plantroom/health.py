"""The edge agent's self-health message, carried to `plantroom_health` like any sample.

    topic   plantroom/v1/{site}/edge/{agent}/health      QoS 1
    payload {"ts": <epoch ms>, "seq": <int>,
             "agent": {name: number, ...},
             "devices": {equipment id: {name: number, ...}, ...}}

`agent` holds agent-wide figures (queue depth, drops, reconnects, …); `devices` holds one set
of poll figures per piece of equipment the agent polls (polls, late polls, timeouts, Modbus
exceptions, poll latency, …). Counters are cumulative since the agent started; the names of
the figures are documented in docs/contract.md. The gateway writes one `plantroom_health` line
for the agent (tags `component=edge`, `instance`, `site`) and one per device (tags
`component=edge_device`, `instance`, `site`, `equipment`).
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from plantroom.errors import InvalidMessage
from plantroom.schema import MAX_TS_MS, MIN_TS_MS, PointName, validation_reason

MAX_HEALTH_PAYLOAD_BYTES = 1024 * 1024
MAX_HEALTH_FIGURES = 64
MAX_HEALTH_DEVICES = 5000
DEVICE_COUNTERS = (
    "polls",
    "on_schedule",
    "late",
    "skipped",
    "timeouts",
    "exceptions",
    "errors",
    "reconnects",
)
"""The cumulative counters among each device's figures (docs/contract.md, "Edge health
figures"); the rest of a device's figures are gauges of the report window."""

EquipmentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
Figures = dict[PointName, StrictInt | StrictFloat]


def _check_finite(figures: dict[str, int | float], where: str) -> None:
    if len(figures) > MAX_HEALTH_FIGURES:
        raise ValueError(f"{where} has {len(figures)} figures, at most {MAX_HEALTH_FIGURES}")
    for name, value in figures.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where} figure {name!r} is not a finite number")


class EdgeHealth(BaseModel):
    """One self-health report of one edge agent."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PlantroomEdgeHealth")

    ts: int = Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="epoch milliseconds at the edge")
    seq: int = Field(ge=0, description="per-agent counter of health reports")
    agent: Figures = Field(min_length=1, description="agent-wide figures")
    devices: dict[EquipmentId, Figures] = Field(
        default_factory=dict, max_length=MAX_HEALTH_DEVICES, description="per-device poll figures"
    )

    @field_validator("agent")
    @classmethod
    def _agent_finite(cls, figures: dict[str, int | float]) -> dict[str, int | float]:
        _check_finite(figures, "agent")
        return figures

    @field_validator("devices")
    @classmethod
    def _devices_finite(
        cls, devices: dict[str, dict[str, int | float]]
    ) -> dict[str, dict[str, int | float]]:
        for equipment, figures in devices.items():
            _check_finite(figures, f"device {equipment!r}")
        return devices

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


def parse_edge_health(topic: str, payload: bytes | bytearray | str) -> EdgeHealth:
    """Validate an edge health payload; raises InvalidMessage naming the bad field."""
    if len(payload) > MAX_HEALTH_PAYLOAD_BYTES:
        raise InvalidMessage(
            topic, f"payload of {len(payload)} bytes exceeds {MAX_HEALTH_PAYLOAD_BYTES}"
        )
    try:
        return EdgeHealth.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidMessage(topic, validation_reason(exc)) from exc
