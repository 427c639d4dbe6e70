"""InfluxDB line protocol: escaping, typed field values, and the telemetry encoder.

The one encoder of the project: the gateway writes telemetry and edge health with it, the
cloud its work-order events and metrics. `plantroom.influx.parse` reads lines back.

    <measurement>[,<tag>=<value>...] <field>=<value>[,<field>=<value>...] <timestamp>

Escaping follows the InfluxDB line-protocol reference:

| element                          | escaped                          |
|----------------------------------|----------------------------------|
| measurement                      | comma, space                     |
| tag key, tag value, field key    | comma, equals sign, space        |
| string field value               | double quote, backslash          |

A backslash is otherwise written as it is. InfluxDB 1.x and 2.x disagree on a backslash
that stands before a character with an escape meaning (or at the end, where it would escape
the separator), and some such names cannot be written at all; names and tag values holding
one are refused with `LineProtocolError`, as are names and tag values with control
characters or line breaks (a string *field value* may hold any of these), empty names, the
reserved key `time`, integers outside 64 bits and non-finite floats.

Integers carry the `i` suffix, floats always have a decimal point or an exponent (Python's
shortest round-trip `repr`), booleans are `true` / `false`, strings are double-quoted.
Timestamps are epoch milliseconds (`precision=ms`).

`TelemetryEncoder` is the hot path: one line per telemetry message, with the measurement
and tag prefix computed once per topic and cached.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from plantroom.inventory import Inventory
from plantroom.schema import Telemetry
from plantroom.topics import parse_equipment_topic, shown

FieldValue = bool | int | float | str

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

SEQ_FIELD = "seq"
TAG_KEYS = ("building", "equipment", "floor", "site")
# point names the gateway cannot write as fields: InfluxDB's own `time` and the `seq` field
# the gateway adds. A point may share a tag's name (an elevator's `floor`); InfluxQL then
# tells them apart with `"floor"::field` and `"floor"::tag`.
RESERVED_POINT_NAMES = frozenset({"time", SEQ_FIELD})

_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


class LineProtocolError(ValueError):
    """A value that line protocol cannot carry faithfully. The message names it."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# a backslash before a character with an escape meaning, or at the end: InfluxDB 1.x and 2.x
# read these differently, and some cannot be written at all
_AMBIGUOUS_BACKSLASH = re.compile(r'\\(?=[\\,= "]|$)')


def _check_name(value: str, what: str) -> None:
    if not value:
        raise LineProtocolError(f"{what} is empty")
    if _CONTROL.search(value):
        raise LineProtocolError(f"{what} {value!r} contains a control character or line break")
    if "\\" in value and _AMBIGUOUS_BACKSLASH.search(value):
        raise LineProtocolError(
            f"{what} {value!r} has a backslash before a space, comma, equals sign, quote, "
            f"backslash or the end, which line protocol cannot carry unambiguously"
        )


def escape_measurement(name: str) -> str:
    _check_name(name, "measurement")
    if name[0] == "#":
        raise LineProtocolError(f"measurement {name!r} starts with '#', which marks a comment")
    return name.translate(_MEASUREMENT_ESCAPES)


def _escape_key(key: str, what: str) -> str:
    _check_name(key, what)
    if key == "time":
        raise LineProtocolError(f"{what} 'time' is reserved by InfluxDB")
    return key.translate(_KEY_ESCAPES)


def escape_tag_key(key: str) -> str:
    return _escape_key(key, "tag key")


def escape_tag_value(value: str, key: str = "tag") -> str:
    _check_name(value, f"value of tag {key!r}")
    return value.translate(_KEY_ESCAPES)


def escape_field_key(key: str) -> str:
    return _escape_key(key, "field key")


def format_field_value(value: FieldValue, key: str = "field") -> str:
    """One typed field value as line protocol writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise LineProtocolError(f"field {key!r} integer {value} does not fit in 64 bits")
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LineProtocolError(f"field {key!r} is not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, str):
        return f'"{value.translate(_STRING_ESCAPES)}"'
    raise LineProtocolError(f"field {key!r} has unsupported type {type(value).__name__}")


def encode_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue | None],
    timestamp_ms: int | None = None,
) -> str:
    """One line of line protocol. Tags are written sorted by key; None fields are omitted."""
    parts = [escape_measurement(measurement)]
    for key in sorted(tags):
        parts.append(f",{escape_tag_key(key)}={escape_tag_value(tags[key], key)}")
    field_text = ",".join(
        f"{escape_field_key(k)}={format_field_value(v, k)}"
        for k, v in fields.items()
        if v is not None
    )
    if not field_text:
        raise LineProtocolError(f"a line of {measurement!r} needs at least one field")
    parts.append(" ")
    parts.append(field_text)
    if timestamp_ms is not None:
        parts.append(f" {timestamp_ms}")
    return "".join(parts)


class TelemetryEncoder:
    """Telemetry message → one line, with the measurement and tags cached per topic.

    The floor tag comes from the inventory when it knows the equipment. With `known`, a topic
    whose (site, building, kind, equipment) is not in it is refused (ValueError).
    """

    def __init__(
        self,
        floors: Mapping[tuple[str, str, str], str] | None = None,
        *,
        known: frozenset[tuple[str, str, str, str]] | None = None,
        cache_size: int = 65_536,
    ) -> None:
        self._floors = dict(floors or {})
        self._known = known
        self._cache_size = cache_size
        self._prefixes: dict[str, str] = {}
        self._field_keys: dict[str, str] = {}

    @classmethod
    def from_inventory(
        cls, inventory: Inventory | None, *, known_only: bool = False, cache_size: int = 65_536
    ) -> TelemetryEncoder:
        """Floor tags from `inventory`; with `known_only`, only its equipment is accepted."""
        floors: dict[tuple[str, str, str], str] = {}
        known: set[tuple[str, str, str, str]] = set()
        if inventory is not None:
            site = inventory.site.id
            for building, equipment in inventory.equipment():
                known.add((site, building.id, equipment.kind, equipment.id))
                if equipment.floor:
                    floors[(site, building.id, equipment.id)] = equipment.floor
        accepted = frozenset(known) if known_only and inventory is not None else None
        return cls(floors, known=accepted, cache_size=cache_size)

    def prefix(self, topic: str) -> str:
        """`measurement,tag=value,...` for a telemetry topic; ValueError names a bad topic."""
        cached = self._prefixes.get(topic)
        if cached is not None:
            return cached
        where, leaf = parse_equipment_topic(topic)
        if leaf != "telemetry":
            raise ValueError(f"not a telemetry topic: {shown(topic)}")
        if self._known is not None and (
            (where.site, where.building, where.kind, where.equipment) not in self._known
        ):
            raise ValueError(
                f"{where.kind} {where.equipment!r} in {where.site}/{where.building} is not in"
                " the inventory"
            )
        tags = {"site": where.site, "building": where.building, "equipment": where.equipment}
        floor = self._floors.get((where.site, where.building, where.equipment))
        if floor is not None:
            tags["floor"] = floor
        text = escape_measurement(where.kind) + "".join(
            f",{key}={escape_tag_value(tags[key], key)}" for key in sorted(tags)
        )
        if len(self._prefixes) >= self._cache_size:
            self._prefixes.clear()
        self._prefixes[topic] = text
        return text

    def _field_key(self, name: str) -> str:
        key = self._field_keys.get(name)
        if key is None:
            if name in RESERVED_POINT_NAMES:
                raise LineProtocolError(
                    f"point name {name!r} is reserved (InfluxDB's `time` and the gateway's `seq`)"
                )
            key = escape_field_key(name)
            if len(self._field_keys) >= self._cache_size:
                self._field_keys.clear()
            self._field_keys[name] = key
        return key

    def encode(self, topic: str, telemetry: Telemetry) -> tuple[str, int]:
        """The line for one message and the number of point values it carries (nulls omitted).

        Raises ValueError (bad topic) or LineProtocolError (a value line protocol cannot carry).
        """
        prefix = self._prefixes.get(topic) or self.prefix(topic)
        keys = self._field_keys
        parts: list[str] = []
        append = parts.append
        for name, value in telemetry.points.items():
            key = keys.get(name) or self._field_key(name)
            # exact types first (what validation produces), the general case after
            kind = type(value)
            if kind is float:
                append(f"{key}={value!r}")
            elif kind is int:
                if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                    raise LineProtocolError(
                        f"point {name!r} integer {value} does not fit in 64 bits"
                    )
                append(f"{key}={value}i")
            elif kind is str:
                append(f'{key}="{value.translate(_STRING_ESCAPES)}"')  # type: ignore[union-attr]
            elif value is None:
                continue
            elif isinstance(value, bool):
                append(f"{key}=true" if value else f"{key}=false")
            elif isinstance(value, int):
                if not INT64_MIN <= value <= INT64_MAX:
                    raise LineProtocolError(
                        f"point {name!r} integer {value} does not fit in 64 bits"
                    )
                append(f"{key}={int(value)}i")
            elif isinstance(value, float):
                append(f"{key}={float(value)!r}")
            else:
                append(f'{key}="{str(value).translate(_STRING_ESCAPES)}"')
        points = len(parts)
        seq = telemetry.seq
        if seq > INT64_MAX:
            raise LineProtocolError(f"seq {seq} does not fit in 64 bits")
        append(f"seq={seq}i")
        return f"{prefix} {','.join(parts)} {telemetry.ts}", points


def joined(lines: Iterable[str]) -> bytes:
    """A request body: lines separated by newlines, UTF-8."""
    return "\n".join(lines).encode()
