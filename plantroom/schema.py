"""The telemetry message: the one payload every Plantroom process and integrator shares.

    {"ts": <epoch ms at the edge>, "seq": <per-equipment counter>,
     "points": {"name": value, ...}, "quality": {"name": "good"|"stale"|"unavailable"}}

`plantroom schema` prints the JSON Schema generated from this model, so a third-party
device can publish conforming messages.

Bounds: `seq` is an unsigned 63-bit counter (0 … 2^63-1, what every database's BIGINT holds);
an integer point value is a signed 64-bit integer, a float one is finite; `ts` is between
2000-01-01 and 2100-01-01 in the model, and at a receiver no later than its own clock plus
`max_clock_skew_s` (`check_not_ahead`), so a sample from a fast clock or a forged time is
refused rather than taken as the newest.
"""

from __future__ import annotations

import json
import time
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
MAX_SEQ = 2**63 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DEFAULT_MAX_CLOCK_SKEW_S = 300.0

PointName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
PointValue = bool | int | float | Annotated[str, StringConstraints(max_length=MAX_STRING)] | None


class FutureTimestamp(InvalidMessage):
    """A sample's time is further ahead of the receiver's clock than the allowed skew."""


def check_not_ahead(
    topic: str,
    ts_ms: int,
    *,
    now_ms: int | None = None,
    max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> None:
    """Refuse a sample time more than `max_skew_s` ahead of the receiver's clock (`now_ms`,
    default the wall clock): raises FutureTimestamp saying by how much."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    ahead_ms = ts_ms - now
    if ahead_ms > max_skew_s * 1000:
        raise FutureTimestamp(
            topic,
            f"ts {ts_ms} is {ahead_ms / 1000:.1f} s ahead of the receiver's clock "
            f"(at most {max_skew_s:g} s allowed)",
        )


class Quality(StrEnum):
    GOOD = "good"
    STALE = "stale"
    UNAVAILABLE = "unavailable"


class Telemetry(BaseModel):
    """One sample of one piece of equipment."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PlantroomTelemetry")

    ts: int = Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="epoch milliseconds at the edge")
    seq: int = Field(
        ge=0, le=MAX_SEQ, description="per-equipment counter; a gap means a lost sample"
    )
    points: dict[PointName, PointValue] = Field(
        min_length=1,
        max_length=MAX_POINTS,
        description=(
            "point name → value (null = not available); integers are signed 64-bit, floats finite"
        ),
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
            if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
                raise ValueError(f"point {name!r} integer does not fit in 64 bits (signed)")
        return points

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def parse_telemetry(
    topic: str,
    payload: bytes | bytearray | str,
    *,
    now_ms: int | None = None,
    max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
) -> Telemetry:
    """Validate a telemetry payload at a consumer's boundary, its time against the receiver's
    clock (`now_ms`, default the wall clock) with `max_skew_s` of allowance.

    Raises InvalidMessage with the topic and a reason that names the bad field; a time too far
    ahead raises its subclass FutureTimestamp.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(topic, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        telemetry = Telemetry.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidMessage(topic, validation_reason(exc)) from exc
    check_not_ahead(topic, telemetry.ts, now_ms=now_ms, max_skew_s=max_skew_s)
    return telemetry


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
