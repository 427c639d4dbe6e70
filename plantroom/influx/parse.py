"""Reading line protocol back, as InfluxDB 1.x does: the write-error path and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from plantroom.influx.lineprotocol import FieldValue, LineProtocolError


@dataclass(frozen=True, slots=True)
class ParsedLine:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    timestamp: int | None


def _scan(line: str, start: int, stops: str) -> int:
    """Index of the first character in `stops` at or after `start` not preceded by a backslash."""
    i = start
    n = len(line)
    while i < n:
        if line[i] in stops and (i == 0 or line[i - 1] != "\\"):
            return i
        i += 1
    return n


def _unescape(text: str, chars: str) -> str:
    for ch in chars:
        text = text.replace("\\" + ch, ch)
    return text


def _unescape_string(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in '\\"':
            out.append(body[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _parse_value(text: str, line: str) -> FieldValue:
    if text.startswith('"'):
        return _unescape_string(text[1:-1])
    if text in ("t", "T", "true", "True", "TRUE"):
        return True
    if text in ("f", "F", "false", "False", "FALSE"):
        return False
    try:
        if text.endswith(("i", "u")):
            return int(text[:-1])
        return float(text)
    except ValueError as exc:
        raise LineProtocolError(f"bad field value {text!r} in line {line!r}") from exc


def parse_line(line: str) -> ParsedLine:
    """Parse one line as InfluxDB 1.x does. Raises LineProtocolError on a malformed line."""
    end = _scan(line, 0, ", ")
    measurement = _unescape(line[:end], ", ")
    if not measurement or end >= len(line):
        raise LineProtocolError(f"no measurement or fields in line {line!r}")
    tags: dict[str, str] = {}
    i = end
    while line[i] == ",":
        eq = _scan(line, i + 1, "=")
        stop = _scan(line, eq + 1, ", ")
        if eq >= len(line) or stop >= len(line):
            raise LineProtocolError(f"bad tag in line {line!r}")
        tags[_unescape(line[i + 1 : eq], ",= ")] = _unescape(line[eq + 1 : stop], ",= ")
        i = stop
    fields: dict[str, FieldValue] = {}
    i += 1
    while True:
        eq = _scan(line, i, "=")
        if eq >= len(line):
            raise LineProtocolError(f"bad field in line {line!r}")
        key = _unescape(line[i:eq], ",= ")
        j = eq + 1
        if j < len(line) and line[j] == '"':
            k = j + 1
            while k < len(line):
                if line[k] == "\\" and k + 1 < len(line) and line[k + 1] in '\\"':
                    k += 2
                    continue
                if line[k] == '"':
                    break
                k += 1
            if k >= len(line):
                raise LineProtocolError(f"unterminated string in line {line!r}")
            stop = k + 1
        else:
            stop = j
            while stop < len(line) and line[stop] not in ", ":
                stop += 1
        fields[key] = _parse_value(line[j:stop], line)
        if stop >= len(line) or line[stop] == " ":
            i = stop
            break
        i = stop + 1
    timestamp = int(line[i + 1 :]) if i < len(line) and line[i + 1 :].strip() else None
    return ParsedLine(measurement, tags, fields, timestamp)


def field_type(value: FieldValue) -> str:
    """InfluxDB's name for a field value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"
