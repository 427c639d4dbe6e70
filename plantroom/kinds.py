"""The equipment kinds Plantroom knows. Each is also an InfluxDB measurement."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    ELEVATOR = "elevator"
    PUMP = "pump"
    LIGHTING = "lighting"
    FIRE_PANEL = "fire_panel"


KINDS: tuple[str, ...] = tuple(k.value for k in Kind)
