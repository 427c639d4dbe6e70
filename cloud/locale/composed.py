"""Sentences the service composes and stores (a job's audit-trail notes, the paragraph of its
description that says where or why), kept as a message of the catalog with its parameters so
that each reader gets them in their language.

The English text is stored as ever (the `note` and `description` columns, for exports and old
readers); next to it, the message id and parameters (`Composed.dump()`, a JSON column), from
which `Composed.load(...).render(text)` writes the sentence for a reader:

    note = compose(N_("signed off by %(signer)s"), signer="Li Wei")
    note.english                              # signed off by Li Wei
    note.render(Text("zh", zone))             # 已由 Li Wei 签字确认

A parameter is a text as it is (what a person typed, a name, an id: never translated), a
number (written the reader's way), a `Label` (a stored value's name, a shipped plan's step:
translated like the shipped texts, `cloud.locale.shipped`), or another `Composed` (a part of
the sentence that is itself composed, or "" when it is left out).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud.locale import RECORD, Text
from cloud.locale.shipped import shipped

MAX_PARAMS = 12  # parameters of one message
MAX_DEPTH = 4  # messages within messages
MAX_CHARS = 20_000  # characters of a message id or a text parameter (a description's)

MAX_PARAGRAPHS = 16  # composed parts of one description
AS_IS = "%(text)s"  # the message of a note that is a stored text alone (`labelled`)
MESSAGE = "message"
PARAMS = "params"
LABEL = "label"
WRITER = "writer"
FACTS = "facts"


@dataclass(frozen=True, slots=True)
class Label:
    """A parameter that is a name the catalog holds (a status, a step's result, a shipped
    plan's step): translated where it is shown."""

    value: str


@dataclass(frozen=True, slots=True)
class Composed:
    """A message of the catalog (English, with `%(name)s` placeholders) and its parameters."""

    message: str
    params: Mapping[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message:
            # gettext's translation of "" is the catalog's header
            raise ValueError("message: must not be empty")

    def render(self, text: Text) -> str:
        """The sentence in `text`'s language; a translation that lost one of its %(name)s
        fields falls back to the English message (the catalog test keeps that from shipping)."""
        values = {name: _shown(value, text) for name, value in self.params.items()}
        try:
            return text._(self.message) % values
        except (KeyError, ValueError, TypeError):
            return self.message % values

    @property
    def english(self) -> str:
        """The sentence as the service stores it."""
        return self.render(RECORD)

    def dump(self) -> dict[str, Any]:
        """The JSON form kept in a table."""
        return {MESSAGE: self.message, PARAMS: {k: _dump(v) for k, v in self.params.items()}}

    @classmethod
    def load(cls, data: Any, *, where: str = "message", depth: int = 0) -> Composed:
        """`data` (a `dump()`) read back; ValueError naming what is wrong in it."""
        if depth > MAX_DEPTH:
            raise ValueError(f"{where}: nested deeper than {MAX_DEPTH}")
        if not isinstance(data, dict) or not isinstance(data.get(MESSAGE), str):
            raise ValueError(f"{where}: expected an object with a string {MESSAGE!r}")
        message = _bounded(data[MESSAGE], f"{where}.{MESSAGE}")
        params = data.get(PARAMS) or {}
        if not isinstance(params, dict) or len(params) > MAX_PARAMS:
            raise ValueError(f"{where}.{PARAMS}: expected an object of up to {MAX_PARAMS}")
        loaded = {str(k): _load(v, f"{where}.{PARAMS}.{k}", depth) for k, v in params.items()}
        composed = cls(message, loaded)
        try:
            composed.english  # noqa: B018 - a message its parameters do not fill is refused
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: the parameters do not fit the message ({exc})") from exc
        return composed


Value = str | int | float | Label | Composed
"""A parameter: a text as it is, a number, a label, or a composed part."""


def compose(message: str, **params: Value) -> Composed:
    """`message` (marked with `N_`) with `params`; ValueError when a %(name)s field of the
    message has no parameter, so that a mistake shows where the sentence is written."""
    composed = Composed(message, params)
    try:
        composed.english  # noqa: B018 - checks the placeholders now
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"message {message!r}: parameters do not fit ({exc})") from exc
    return composed


def labelled(stored: str) -> Composed:
    """A stored text that may be a shipped one (an alarm's message, a plan's step) as a note:
    shown like the shipped texts are (`cloud.locale.shipped`)."""
    return Composed(AS_IS, {"text": Label(stored)})


# sentences written from stored facts by a function, not from one message of the catalog (a
# notification's, cloud.sla.sentences): the writer's name → the writer
WRITERS: dict[str, Callable[[Mapping[str, Any], Text], str]] = {}


def register_writer(name: str, write: Callable[[Mapping[str, Any], Text], str]) -> None:
    """Make `write(facts, text)` the writer of the notes `Written(name, facts)`."""
    WRITERS[name] = write


@dataclass(frozen=True, slots=True)
class Written:
    """A sentence a registered writer makes from `facts` (e.g. the notification a job's
    dispatch or escalation sent, repeated in its trail), in each reader's language."""

    writer: str
    facts: Mapping[str, Any]

    def render(self, text: Text) -> str:
        return WRITERS[self.writer](self.facts, text)

    @property
    def english(self) -> str:
        return self.render(RECORD)

    def dump(self) -> dict[str, Any]:
        return {WRITER: self.writer, FACTS: dict(self.facts)}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Written:
        """`data` (a `dump()`) read back; ValueError naming what is wrong in it."""
        writer, facts = data.get(WRITER), data.get(FACTS)
        if not isinstance(writer, str) or writer not in WRITERS:
            raise ValueError(f"{WRITER}: {writer!r} is no known writer")
        if not isinstance(facts, dict) or len(json.dumps(facts, default=str)) > MAX_CHARS:
            raise ValueError(f"{FACTS}: expected an object of up to {MAX_CHARS} characters")
        return cls(writer, facts)


Note = str | Composed | Written | None
"""A note for an audit trail: a person's text, or one the service composed or wrote."""


def stored(note: Note) -> tuple[str | None, dict[str, Any] | None]:
    """`note` as an audit trail keeps it: the English text, and its message if composed."""
    if isinstance(note, Composed | Written):
        return note.english, note.dump()
    return note, None


def rendered(stored: str | None, data: Any, text: Text | None) -> str | None:
    """A stored note for a reader: from its message (`data`) in `text`'s language, or as
    stored when it has none, the reader is not known or the message cannot be read."""
    if stored is None or data is None or text is None or text.language == RECORD.language:
        return stored
    try:
        if isinstance(data, dict) and WRITER in data:
            return Written.load(data).render(text)
        return Composed.load(data).render(text)
    except (KeyError, TypeError, ValueError):
        return stored


def _shown(value: Value, text: Text) -> str:
    if isinstance(value, Composed):
        return value.render(text)
    if isinstance(value, Label):
        return shipped(text, value.value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return text.figure(value)
    return value


def _dump(value: Value) -> Any:
    if isinstance(value, Composed):
        return value.dump()
    if isinstance(value, Label):
        return {LABEL: value.value}
    return value


def _load(value: Any, where: str, depth: int) -> Value:
    if isinstance(value, dict) and MESSAGE in value:
        return Composed.load(value, where=where, depth=depth + 1)
    if isinstance(value, dict) and isinstance(value.get(LABEL), str):
        return Label(_bounded(value[LABEL], where))
    if isinstance(value, str):
        return _bounded(value, where)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise ValueError(f"{where}: expected a text, a number, a label or a message")


def _bounded(value: str, where: str) -> str:
    if len(value) > MAX_CHARS:
        raise ValueError(f"{where}: longer than {MAX_CHARS} characters")
    return value


def paragraphs(*parts: Value | None) -> tuple[str | None, list[Any] | None]:
    """A description made of `parts` (None and "" left out), paragraph by paragraph: its
    English text, and the parts to store for writing it in another language."""
    kept = [part for part in parts if part is not None and part != ""]
    if not kept:
        return None, None
    if len(kept) > MAX_PARAGRAPHS:
        raise ValueError(f"a description of {len(kept)} parts: at most {MAX_PARAGRAPHS}")
    return "\n\n".join(_shown(part, RECORD) for part in kept), [_dump(part) for part in kept]


def rendered_paragraphs(stored: str | None, data: Any, text: Text | None) -> str | None:
    """A stored description for a reader: written again from its parts (`data`) in `text`'s
    language; as stored when it has none, the reader is not known, or it was changed since
    (its English is no longer what the parts make)."""
    if stored is None or data is None or text is None or text.language == RECORD.language:
        return stored
    if not isinstance(data, list) or len(data) > MAX_PARAGRAPHS:
        return stored
    try:
        parts = [_load(part, f"description[{i}]", 0) for i, part in enumerate(data)]
    except ValueError:
        return stored
    if "\n\n".join(_shown(part, RECORD) for part in parts) != stored:
        return stored
    return "\n\n".join(_shown(part, text) for part in parts)
