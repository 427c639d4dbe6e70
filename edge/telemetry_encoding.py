"""A sample's telemetry message, encoded for the buffer on the poll path.

`encode_telemetry` gives the bytes `Telemetry(...).to_json()` gives, without building the
model for messages the agent builds itself (checked against the schema's limits here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic_core import to_json

from plantroom.schema import (
    MAX_POINTS,
    MAX_STRING,
    MAX_TS_MS,
    MIN_TS_MS,
    PointValue,
    Quality,
    Telemetry,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FINE_NAMES: set[str] = set()  # point names already checked against the schema's pattern
_MAX_FINE_NAMES = 100_000


def _fine_names(names: Iterable[object]) -> bool:
    """Every name matches the schema's pattern (names seen before are a set lookup)."""
    for name in names:
        if name in _FINE_NAMES:
            continue
        if type(name) is not str or _NAME.match(name) is None:
            return False
        if len(_FINE_NAMES) < _MAX_FINE_NAMES:
            _FINE_NAMES.add(name)
    return True


def _fine_values(values: Iterable[object]) -> bool:
    """Every value is a bool, int, finite float, string within the limit, or None."""
    for value in values:
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # type: ignore[operator]  # inf and nan give nan
                return False
        elif kind is str:
            if len(value) > MAX_STRING:  # type: ignore[arg-type]
                return False
        elif not (kind is bool or kind is int or value is None):
            return False
    return True


def encode_telemetry(
    ts: int,
    seq: int,
    points: Mapping[str, PointValue],
    quality: Mapping[str, Quality] | None = None,
) -> bytes:
    """`Telemetry(ts=…, seq=…, points=…, quality=…).to_json()`, without building the model.

    Messages the agent builds itself (plain names, values and qualities within the schema's
    limits) are serialised directly by the same serializer, byte for byte; anything else goes
    through the model, which raises the same ValidationError it always did.
    """
    if (
        type(ts) is int
        and MIN_TS_MS <= ts <= MAX_TS_MS
        and type(seq) is int
        and seq >= 0
        and 1 <= len(points) <= MAX_POINTS
        and _fine_names(points)
        and _fine_values(points.values())
        and (
            not quality
            or (_fine_names(quality) and all(type(q) is Quality for q in quality.values()))
        )
    ):
        message: dict[str, object] = {"ts": ts, "seq": seq, "points": points}
        if quality:
            message["quality"] = quality
        return to_json(message)
    model = Telemetry(
        ts=ts, seq=seq, points=dict(points), quality=dict(quality) if quality else None
    )
    return model.to_json()
