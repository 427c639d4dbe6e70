"""The telemetry message: the one payload every Plantroom process and integrator shares.

    {"ts": <epoch ms at the edge>, "seq": <per-equipment counter>,
     "points": {"name": value, ...}, "quality": {"name": "good"|"stale"|"unavailable"}}

`plantroom schema` prints the JSON Schema generated from this model, so a third-party
device can publish conforming messages.
"""

from __future__ import annotations

import json
from enum import StrEnum
from math import isfinite
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from plantroom.errors import InvalidMessage

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_POINTS = 1000
MAX_STRING = 1024
# 2000-01-01 .. 2100-01-01 in epoch milliseconds: anything outside is a unit mistake.
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000

PointName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
PointValue = bool | int | float | Annotated[str, StringConstraints(max_length=MAX_STRING)] | None


class Quality(StrEnum):
    GOOD = "good"
    STALE = "stale"
    UNAVAILABLE = "unavailable"


class Telemetry(BaseModel):
    """One sample of one piece of equipment."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PlantroomTelemetry")

    ts: int = Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="epoch milliseconds at the edge")
    seq: int = Field(ge=0, description="per-equipment counter; a gap means a lost sample")
    points: dict[PointName, PointValue] = Field(
        min_length=1, max_length=MAX_POINTS, description="point name → value (null = not available)"
    )
    quality: dict[PointName, Quality] | None = Field(
        default=None, description="per-point quality where not good"
    )

    @field_validator("points")
    @classmethod
    def _finite(cls, points: dict[str, Any]) -> dict[str, Any]:
        for name, value in points.items():
            if isinstance(value, float) and not isfinite(value):
                raise ValueError(f"point {name!r} is not a finite number")
        return points

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def parse_telemetry(topic: str, payload: bytes | bytearray | str) -> Telemetry:
    """Validate a telemetry payload at a consumer's boundary.

    Raises InvalidMessage with the topic and a reason that names the bad field.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(topic, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return Telemetry.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidMessage(topic, validation_reason(exc)) from exc


def validation_reason(exc: ValidationError) -> str:
    """The first error of a payload's validation, naming its field, and how many more."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def json_schema() -> dict[str, Any]:
    schema = Telemetry.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://plantroom.dev/schema/telemetry-v1.json"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True)
