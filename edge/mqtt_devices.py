"""Equipment that publishes JSON on its own (vendor) MQTT topic.

The agent subscribes to each such equipment's `connection.topic` and maps the JSON onto the
profile's points by dotted path (`circuits.0.on`: key `circuits`, list index 0, key `on`).
The sample time is the profile's `mqtt.timestamp_path` (epoch ms) when present and sane,
else the time the message arrived. A message whose time is more than `max_clock_skew_s`
ahead of the agent's clock is refused (counted in `future` as well as `malformed`): taken,
it would stand as the newest sample and hide the real ones after it. A malformed message is
counted and logged with its topic; it never stops the agent.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from edge.decode import Value
from edge.decode_derived import DerivedValues
from plantroom.errors import InvalidMessage
from plantroom.profiles import Assignment, MqttPoint, MqttProfile, parse_path
from plantroom.schema import (
    DEFAULT_MAX_CLOCK_SKEW_S,
    MAX_PAYLOAD_BYTES,
    MAX_STRING,
    MAX_TS_MS,
    MIN_TS_MS,
    FutureTimestamp,
    Quality,
    check_not_ahead,
)

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass(slots=True)
class VendorSample:
    ts: int
    values: dict[str, Value] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)
    timestamp_from_device: bool = True


def lookup(doc: Any, steps: Sequence[str | int]) -> Any:
    """Follow a parsed path through dicts and lists; `_MISSING` where it leads nowhere."""
    node = doc
    for step in steps:
        if isinstance(node, dict):
            node = node.get(step if type(step) is str else str(step), _MISSING)
            if node is _MISSING:
                return _MISSING
        elif isinstance(node, list) and type(step) is int:
            if step >= len(node):
                return _MISSING
            node = node[step]
        else:
            return _MISSING
    return node


def convert(point: MqttPoint, raw: Any) -> Value:
    """JSON value → point value. Raises ValueError when the type does not fit."""
    if raw is None:
        return None
    if point.not_available is not None and raw == point.not_available and not isinstance(raw, bool):
        return None
    if point.type == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        raise ValueError(f"expected a boolean, got {raw!r}")
    if point.type == "string":
        if not isinstance(raw, str):
            raise ValueError(f"expected a string, got {raw!r}")
        return raw[:MAX_STRING]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"expected a number, got {raw!r}")
    if not math.isfinite(raw):
        return None
    if point.type == "int":
        if isinstance(raw, float) and not raw.is_integer():
            raise ValueError(f"expected an integer, got {raw!r}")
        number: int | float = int(raw)
    else:
        number = float(raw)
    if point.scale == 1 and point.offset == 0:
        return number
    value = number * point.scale + point.offset
    if point.type == "int":
        return round(value) if point.decimals == 0 else round(value, point.decimals)
    return value


Converter = Callable[[Any], Value]


def compile_converter(point: MqttPoint) -> Converter:
    """`convert` for one point, with the common cases (a JSON value of the point's own type,
    no scale, offset or not-available value) answered without the general checks."""
    general: Converter = partial(convert, point)
    if point.not_available is not None or point.scale != 1 or point.offset != 0:
        return general
    if point.type == "bool":

        def to_bool(raw: Any) -> Value:
            return raw if raw is True or raw is False else general(raw)

        return to_bool
    if point.type == "float":
        isfinite = math.isfinite

        def to_float(raw: Any) -> Value:
            if type(raw) is float:
                return raw if isfinite(raw) else None
            return general(raw)

        return to_float
    if point.type == "int":

        def to_int(raw: Any) -> Value:
            return raw if type(raw) is int else general(raw)

        return to_int
    return general


def _step(node: Any, step: str | int) -> Any:
    """One step of `lookup`."""
    if isinstance(node, dict):
        return node.get(step if type(step) is str else str(step), _MISSING)
    if isinstance(node, list) and type(step) is int:
        return node[step] if step < len(node) else _MISSING
    return _MISSING


@dataclass(slots=True)
class _PathNode:
    """Points whose path ends here, and the steps that lead on: each step is taken once per
    message however many points share it (`circuits.0` for the six points of circuit 1)."""

    points: list[tuple[MqttPoint, Converter]] = field(default_factory=list)
    children: dict[str | int, _PathNode] = field(default_factory=dict)
    # children that are one point and nothing below it, by step, taken without recursion:
    # (step, the key it is in a JSON object, the point, its converter)
    leaves: list[tuple[str | int, str, MqttPoint, Converter]] = field(default_factory=list)

    @classmethod
    def build(cls, points: Iterable[MqttPoint]) -> _PathNode:
        root = cls()
        for point in points:
            node = root
            for step in point.steps:
                node = node.children.setdefault(step, cls())
            node.points.append((point, compile_converter(point)))
        root._split_leaves()
        return root

    def _split_leaves(self) -> None:
        for step, child in list(self.children.items()):
            if not child.children and len(child.points) == 1:
                point, converter = child.points[0]
                self.leaves.append((step, str(step), point, converter))
                del self.children[step]
            else:
                child._split_leaves()


class VendorDecoder:
    """Vendor JSON → one sample of one piece of equipment, by its profile.

    Gives exactly what looking up and converting each point on its own would (`lookup`,
    `convert`), with the paths walked as one tree and the converters compiled once.
    """

    def __init__(
        self,
        equipment: str,
        profile: MqttProfile,
        *,
        max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
    ) -> None:
        self.equipment = equipment
        self.profile = profile
        self.max_skew_s = max_skew_s
        ts_path = profile.mqtt.timestamp_path
        self._ts_steps = parse_path(ts_path) if ts_path else None
        self._tree = _PathNode.build(profile.points)
        self._names = tuple(p.name for p in profile.points)
        self._derived = DerivedValues(profile)
        self.bad_points = 0
        self.bad_timestamps = 0

    def decode(self, topic: str, payload: bytes, received_ms: int) -> VendorSample:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InvalidMessage(
                topic, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}"
            )
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidMessage(topic, f"not JSON: {exc}") from exc
        if not isinstance(doc, dict | list):
            raise InvalidMessage(topic, f"expected a JSON object, got {type(doc).__name__}")
        ts = self._timestamp(topic, doc, received_ms)
        values: dict[str, Value] = dict.fromkeys(self._names)  # in the profile's order
        if not self._walk(topic, self._tree, doc, values):
            raise InvalidMessage(
                topic,
                f"none of the {len(self.profile.points)} points of profile "
                f"{self.profile.name!r} is in the message",
            )
        unavailable = Quality.UNAVAILABLE
        quality = {name: unavailable for name, value in values.items() if value is None}
        if self._derived:
            self._derived.apply(values, quality)
        return VendorSample(ts, values, quality)

    def _walk(self, topic: str, node: _PathNode, here: Any, values: dict[str, Value]) -> int:
        """Convert the points at and below `node` (found at `here`) into `values`, which
        start as None; the number of points whose path leads somewhere."""
        found = len(node.points)
        for point, converter in node.points:
            try:
                values[point.name] = converter(here)
            except ValueError as exc:
                self._bad_point(topic, point, exc)
        if node.leaves:
            # JSON objects are plain dicts: one dict lookup per leaf, no step function
            get = here.get if type(here) is dict else None
            for step, key, point, converter in node.leaves:
                raw = get(key, _MISSING) if get is not None else _step(here, step)
                if raw is not _MISSING:
                    found += 1
                    try:
                        values[point.name] = converter(raw)
                    except ValueError as exc:
                        self._bad_point(topic, point, exc)
        for step, child in node.children.items():
            below = _step(here, step)
            if below is not _MISSING:
                found += self._walk(topic, child, below, values)
        return found

    def _bad_point(self, topic: str, point: MqttPoint, exc: ValueError) -> None:
        self.bad_points += 1
        log.debug("%s: point %s at %r: %s", topic, point.name, point.path, exc)

    def _timestamp(self, topic: str, doc: Any, received_ms: int) -> int:
        if self._ts_steps is None:
            return received_ms
        raw = lookup(doc, self._ts_steps)
        if (
            isinstance(raw, int | float)
            and not isinstance(raw, bool)
            and math.isfinite(raw)
            and MIN_TS_MS <= raw <= MAX_TS_MS
        ):
            check_not_ahead(topic, int(raw), now_ms=received_ms, max_skew_s=self.max_skew_s)
            return int(raw)
        self.bad_timestamps += 1
        if self.bad_timestamps == 1:
            log.warning(
                "%s: timestamp at %r is missing or not epoch milliseconds (%r); using receive "
                "time (logged once per equipment)",
                topic,
                self.profile.mqtt.timestamp_path,
                None if raw is _MISSING else raw,
            )
        return received_ms


class MqttDevices:
    """Routes vendor messages to the equipment that publishes on each topic."""

    def __init__(
        self, assignments: Iterable[Assignment], *, max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S
    ) -> None:
        self._by_topic: dict[str, list[tuple[Assignment, VendorDecoder]]] = {}
        for a in assignments:
            if a.equipment.connection.type != "mqtt" or not isinstance(a.profile, MqttProfile):
                continue
            decoder = VendorDecoder(a.equipment.id, a.profile, max_skew_s=max_skew_s)
            self._by_topic.setdefault(a.equipment.connection.topic, []).append((a, decoder))
        self.malformed: Counter[str] = Counter()
        self.future: Counter[str] = Counter()
        self.received: Counter[str] = Counter()

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def handle(
        self, topic: str, payload: bytes, received_ms: int
    ) -> list[tuple[Assignment, VendorSample]]:
        """Decode one vendor message for every equipment on `topic`; never raises on bad input."""
        out: list[tuple[Assignment, VendorSample]] = []
        for assignment, decoder in self._by_topic.get(topic, []):
            self.received[topic] += 1
            try:
                out.append((assignment, decoder.decode(topic, payload, received_ms)))
            except InvalidMessage as exc:
                self.malformed[topic] += 1
                if isinstance(exc, FutureTimestamp):
                    self.future[topic] += 1
                log.warning(
                    "malformed vendor message for %s (%d so far on this topic): %s",
                    assignment.equipment.id,
                    self.malformed[topic],
                    exc,
                )
        return out
