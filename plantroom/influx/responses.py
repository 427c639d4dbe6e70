"""Reading InfluxDB's answers to a write: the error text, and which lines a 400 names."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from plantroom.influx.lineprotocol import LineProtocolError, escape_field_key
from plantroom.influx.parse import field_type, parse_line

ERROR_EXCERPT = 500


def excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT] + "…"


def error_text(body: bytes | str) -> str:
    """The human-readable error of a response: 1.x `error`, 2.x `message`, or the raw text."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return text.strip()


# a 400 that is about the configuration, not about any line: retried, never dead-lettered
NOT_ABOUT_LINES = re.compile(
    r"dbrp|bucket[^\n]*not found|database not found|retention policy not found|"
    r"precision|authoriz|unauthori[sz]ed",
    re.I,
)
_UNABLE_TO_PARSE = re.compile(
    r"unable to parse '(?P<line>.*?)': (?P<why>.*?)(?=\nunable to parse '| dropped=\d+|$)", re.S
)
_TYPE_CONFLICT = re.compile(
    r'field type conflict: input field "(?P<field>[^"]*)" on measurement "(?P<m>[^"]*)" '
    r"is type (?P<type>\w+), already exists as type (?P<existing>\w+)"
)


def find_bad_lines(body: bytes | str, lines: Sequence[str]) -> dict[int, str]:
    """The lines of a batch a 400/422 response names, as {index in `lines`: reason}.

    Understands InfluxDB 1.x and 2.x (`unable to parse '<line>': <why>`, `field type conflict:
    input field "f" on measurement "m" is type T …`) and 3.x (a `data` list of
    `original_line` / `line_number` / `error_message`). Returns {} when nothing is named.
    """
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    bad: dict[int, str] = {}
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        where.setdefault(line, []).append(i)

    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        numbered = not any("\n" in line for line in lines)
        for item in data["data"]:
            if not isinstance(item, dict):
                continue
            why = str(item.get("error_message") or data.get("error") or "rejected")
            original = item.get("original_line")
            number = item.get("line_number")
            if isinstance(original, str) and original in where:
                for i in where[original]:
                    bad[i] = why
            elif numbered and isinstance(number, int) and 1 <= number <= len(lines):
                bad[number - 1] = why
    message = error_text(text)

    for match in _UNABLE_TO_PARSE.finditer(message):
        for i in where.get(match["line"], ()):
            bad[i] = f"unable to parse: {match['why'].strip()}"

    for match in _TYPE_CONFLICT.finditer(message):
        key_text = escape_field_key(match["field"]) + "=" if match["field"] else ""
        reason = (
            f"field type conflict: {match['field']!r} on {match['m']!r} is "
            f"{match['type']}, InfluxDB already has it as {match['existing']}"
        )
        for i, line in enumerate(lines):
            if i in bad or not key_text or key_text not in line:
                continue
            try:
                parsed = parse_line(line)
            except LineProtocolError:
                continue
            value = parsed.fields.get(match["field"])
            if (
                parsed.measurement == match["m"]
                and value is not None
                and field_type(value) == match["type"]
            ):
                bad[i] = reason
    return bad
