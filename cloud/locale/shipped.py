"""The texts of the shipped PM plans (cloud/pm/plans) and fault rules (cloud/rules) in the
reader's language.

A plan's title, description and checklist steps and a rule's title and description are
English in the YAML
and are stored as they are in the jobs and alarms they raise. `extract_yaml` is the Babel
extractor that puts them in the message catalog (pyproject.toml [tool.babel.mappings]);
`shipped` translates a stored text where it is shown, when it is one of them. What people
typed (a request's title, an overriding plan's own text) is no message and reads as typed.

Stored texts made from a shipped one keep their known shape and are translated part by part:
a job's title is "<plan or rule title>: <equipment>", an alarm's message "<rule title>
(<values>)", a job's description paragraphs separated by a blank line (`shipped_paragraphs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import IO, Any

import yaml

from cloud.locale import DEFAULT_LANGUAGE, N_, Text

# the fields people read, by the YAML list they are in
PLAN_FIELDS = ("title", "description")
RULE_FIELDS = ("title", "description")
# what may follow a shipped text in a stored one (a job title's equipment, an alarm's values),
# and how it reads after the translated text: `rest` is what follows the separator
SEPARATORS = {
    ": ": N_("%(title)s: %(rest)s"),
    " (": N_("%(title)s (%(rest)s"),
    " cleared": N_("%(title)s cleared%(rest)s"),
}
# what the service writes after a shipped title, or as a job's location, from the inventory
BUILDING = N_("building {building}")  # a PM job's title names its building (cloud.pm)
FLOOR = N_("floor {floor}")  # a job's location begins with its floor (cloud.workorders)
OUTAGE = N_("Outage in building {building}: {count} devices lost at once")  # cloud.incidents
_OUTAGE = re.compile(r"Outage in building (\S{1,64}): (\d{1,9}) devices lost at once\Z")
_BUILDING = re.compile(r"building (\S{1,64})\Z")
_FLOOR = re.compile(r"floor ([^,]{1,32})(, .{0,128})?\Z", re.S)
MAX_STORED = 20_000  # characters of one stored text looked at (a description's bound)

Extracted = tuple[int, str | None, str, list[str]]


def extract_yaml(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[Extracted]:
    """Babel's extraction method for a plans or rules file: (line, None, text, [comment]) of
    each title, description and checklist step. A file that is not YAML is an error naming
    it; one without `plans` or `rules` holds no message."""
    name = getattr(fileobj, "name", "<yaml>")
    try:
        root = yaml.compose(fileobj, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"{name}: not YAML: {exc}") from exc
    if not isinstance(root, yaml.MappingNode):
        return
    for key, value in root.value:
        if key.value == "plans":
            yield from _entries(value, PLAN_FIELDS, checklist=True)
        elif key.value == "rules":
            yield from _entries(value, RULE_FIELDS, checklist=False)


def _entries(node: yaml.Node, fields: Sequence[str], *, checklist: bool) -> Iterator[Extracted]:
    if not isinstance(node, yaml.SequenceNode):
        return
    for entry in node.value:
        if not isinstance(entry, yaml.MappingNode):
            continue
        ident = _scalar(_get(entry, "id")) or "?"
        for field in fields:
            yield from _message(_get(entry, field), f"{ident} {field}")
        steps = _get(entry, "checklist") if checklist else None
        if isinstance(steps, yaml.SequenceNode):
            for step in steps.value:
                text = _get(step, "step") if isinstance(step, yaml.MappingNode) else step
                yield from _message(text, f"{ident} checklist step")


def _get(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in mapping.value if k.value == key), None)


def _scalar(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        return node.value.strip() or None
    return None


def _message(node: yaml.Node | None, comment: str) -> Iterator[Extracted]:
    text = _scalar(node)
    if node is not None and text is not None:
        yield node.start_mark.line + 1, None, text, [comment]


def shipped(text: Text, stored: str) -> str:
    """`stored` in `text`'s language when it is a shipped text, or starts with one followed
    by a known separator; anything else unchanged (and everything in English)."""
    if text.language == DEFAULT_LANGUAGE or not stored.strip() or len(stored) > MAX_STORED:
        return stored
    whole = text._(stored)
    if whole != stored:
        return whole
    outage = _OUTAGE.match(stored)
    if outage is not None:
        count = text.number(int(outage.group(2)))
        return text._(OUTAGE).format(building=outage.group(1), count=count)
    for separator, shape in SEPARATORS.items():
        at = stored.find(separator)
        while at > 0:
            head = stored[:at]
            translated = text._(head)
            if translated != head:
                rest = stored[at + len(separator) :]
                return text._(shape) % {"title": translated, "rest": _rest(text, rest)}
            at = stored.find(separator, at + 1)
    return stored


def _rest(text: Text, rest: str) -> str:
    named = _BUILDING.match(rest)
    return text._(BUILDING).format(building=named.group(1)) if named else rest


def location(text: Text, stored: str) -> str:
    """A job's location as the service writes it ("floor 3, east wing": the floor, then the
    zone as the inventory has it) in `text`'s language; any other location unchanged."""
    if text.language == DEFAULT_LANGUAGE:
        return stored
    floor = _FLOOR.match(stored)
    if floor is None:
        return stored
    return text._(FLOOR).format(floor=floor.group(1)) + (floor.group(2) or "")


def shipped_paragraphs(text: Text, stored: str) -> str:
    """`stored` (a job's description) with each paragraph that is a shipped text in `text`'s
    language; the other paragraphs, and anything in English, unchanged."""
    if text.language == DEFAULT_LANGUAGE or len(stored) > MAX_STORED:
        return stored
    return "\n\n".join(text._(part) if part.strip() else part for part in stored.split("\n\n"))
