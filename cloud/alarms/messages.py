"""The message of an alarm a rule raised, in the reader's language.

The rules engine stores it in English (cloud/rules/engine.py): the rule's title, "cleared"
when it cleared, and the points the rule reads with their values, `<title> (<point>=<value>,
…)` (`cloud.rules.state.describe`: `n/a` for no value, `true`/`false`). Shown to a reader of
another language, the title is the shipped rule's translated (cloud/locale/shipped.py), each
point named as the console names it and a value with words (`true`, `n/a`, an enum state)
in those words, from the console's catalogs (`point.<name>`, `value.*`, `state.<label>`):
one name for a point wherever it is read. A number reads as stored; a name or a value the
catalog lacks reads as stored; a message that is not of this shape is only given to
`shipped`.

An alarm held by a maintenance window is shelved with the reason `in maintenance: <the
window's reason>` (`IN_MAINTENANCE`), the window's reason as its author typed it.
"""

from __future__ import annotations

import re

from cloud.locale import DEFAULT_LANGUAGE, N_, Text
from cloud.locale.shipped import MAX_STORED, shipped
from cloud.requests.messages import catalog

# `<head> (<name>=<value>, <name>=<value>)`: the first " (" that opens the values
SHAPE = re.compile(r"(?P<head>.+?) \((?P<values>[A-Za-z_][\w.-]*=.*)\)", re.DOTALL)
NAME = re.compile(r"[A-Za-z_][\w.-]*")
WORDS = {"true": "value.true", "false": "value.false", "n/a": "value.none"}
# the console's catalog of a language
CATALOGS = {"en": "en", "zh": "zh-CN"}

IN_MAINTENANCE = N_("in maintenance: {reason}")
WITH_VALUES = N_("{message} ({values})")
VALUE = N_("{point}={value}")
MORE_VALUES = N_("{values}, {value}")


def alarm_message(text: Text, stored: str) -> str:
    """`stored` (an alarm's message) in `text`'s language; unchanged in English."""
    if text.language == DEFAULT_LANGUAGE or len(stored) > MAX_STORED:
        return stored
    found = SHAPE.fullmatch(stored)
    pairs = _pairs(found["values"]) if found else None
    if found is None or pairs is None:
        return shipped(text, stored)
    words = catalog(CATALOGS[text.language])
    shown = [
        text._(VALUE).format(point=words.get(f"point.{name}", name), value=_value(words, value))
        for name, value in pairs
    ]
    values = shown[0]
    for value in shown[1:]:
        values = text._(MORE_VALUES).format(values=values, value=value)
    return text._(WITH_VALUES).format(message=shipped(text, found["head"]), values=values)


def _pairs(values: str) -> list[tuple[str, str]] | None:
    """`a=1.5, b=true` as [(a, 1.5), (b, true)]; a text value may hold ", ". None when the
    first part names no point."""
    pairs: list[tuple[str, str]] = []
    for part in values.split(", "):
        name, equals, value = part.partition("=")
        if equals and NAME.fullmatch(name):
            pairs.append((name, value))
        elif pairs:
            pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]}, {part}")
        else:
            return None
    return pairs


def _value(words: dict[str, str], value: str) -> str:
    key = WORDS.get(value, f"state.{value}")
    return words.get(key, value)


def shelved_reason(text: Text, stored: str) -> str:
    """`stored` (why an alarm is shelved) in `text`'s language when the service wrote it
    (a maintenance window's); what a person typed as typed."""
    prefix = IN_MAINTENANCE.removesuffix("{reason}")
    if text.language == DEFAULT_LANGUAGE or not stored.startswith(prefix):
        return stored
    return text._(IN_MAINTENANCE).format(reason=stored.removeprefix(prefix))
