"""Which samples the intake takes first when it is behind: the rules' points, indexed by kind.

A sample is **urgent** (alarm- or state-relevant) when, compared with the last value the
intake saw for its equipment, it

* changes a boolean or text point (a fault bit, a state enum, an alarm code), or a point a
  rule reads with `is`, `equals`, `in` or `not_in`, whatever its type;
* moves a point a rule reads with `above` / `below` across one of the rule's thresholds
  (raise or clear level), or gives a value to such a point that had none;
* gives the first value to a point a windowed rule reads (rate, trend, counter increase):
  the start of its history, which no later sample may be folded over.

Everything else is **routine**: measurements that moved without crossing anything a rule
looks at. Further samples of a windowed point do not make a sample urgent, as a window's
result cannot be told without the window; they are never thinned beyond what the rule engine
keeps (`windows`, used by `cloud.intake`).

Telemetry is reported by exception, so a sample holds what moved, and this costs one dict
look-up per point. The last values are the intake's own (what arrived, not what was
processed), seeded at start from the engine's, bounded by `MAX_EQUIPMENT`. Not thread-safe:
the consumer's event loop calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from cloud.rules.base import ConditionBase, Scalar, as_number
from cloud.rules.conditions import AllOf, AnyOf, PointIs, State, Threshold
from cloud.rules.engine import MAX_HISTORY_SAMPLES
from cloud.rules.model import Rule
from cloud.rules.state import Window
from plantroom.schema import Quality, Telemetry

log = logging.getLogger(__name__)

MAX_EQUIPMENT = 100_000  # pieces of equipment whose last values are kept
_UNSET = object()  # a point not seen yet: never equal to a value


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A point a windowed rule keeps the history of: the engine keeps one sample per
    `resolution_s`, and never replaces a counter's fall."""

    resolution_s: float
    counter: bool


@dataclass(slots=True)
class KindPoints:
    """What the rules of one kind of equipment read."""

    discrete: set[str] = field(default_factory=set)
    thresholds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    windows: dict[str, HistoryPoint] = field(default_factory=dict)


def _leaves(condition: ConditionBase) -> Iterator[ConditionBase]:
    if isinstance(condition, AnyOf):
        for part in condition.any:
            yield from _leaves(part)
    elif isinstance(condition, AllOf):
        for part in condition.all:
            yield from _leaves(part)
    else:
        yield condition


def index(rules: Iterable[Rule], max_history: int = MAX_HISTORY_SAMPLES) -> dict[str, KindPoints]:
    """Per kind, the points its enabled rules read, as the engine reads them."""
    out: dict[str, KindPoints] = {}
    seconds: dict[str, dict[str, float]] = {}
    counters: dict[str, set[str]] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        kind = rule.kind.value
        points = out.setdefault(kind, KindPoints())
        for condition in rule.conditions():
            for leaf in _leaves(condition):
                if isinstance(leaf, PointIs | State):
                    points.discrete.add(leaf.point)
                elif isinstance(leaf, Threshold):
                    marks = (leaf.above, leaf.below, leaf.clear_below, leaf.clear_above)
                    known = points.thresholds.get(leaf.point, ())
                    points.thresholds[leaf.point] = tuple(
                        sorted({*known, *(m for m in marks if m is not None)})
                    )
        for point, window in rule.history_points().items():
            kind_seconds = seconds.setdefault(kind, {})
            kind_seconds[point] = max(window, kind_seconds.get(point, 0.0))
        counters.setdefault(kind, set()).update(rule.counter_points())
    for kind, kind_seconds in seconds.items():
        for point, window in kind_seconds.items():
            counter = point in counters.get(kind, set())
            resolution = Window(window, counter).resolution(max_history)
            out[kind].windows[point] = HistoryPoint(resolution, counter)
    return out


def crosses(old: float | None, new: float | None, marks: tuple[float, ...]) -> bool:
    """True if going from `old` to `new` changes a side of one of `marks` (`>` or `>=`), or
    a value comes where there was none."""
    if new is None:
        return False  # a rule cannot judge a missing value: nothing changes
    if old is None:
        return True
    if old == new:
        return False
    low, high = (old, new) if old < new else (new, old)
    return any(low <= mark <= high for mark in marks)


def values_of(telemetry: Telemetry) -> Mapping[str, Scalar]:
    """The values a sample gives the rules: an unavailable point has none."""
    if not telemetry.quality:
        return telemetry.points
    values = dict(telemetry.points)
    for name, quality in telemetry.quality.items():
        if quality is Quality.UNAVAILABLE and name in values:
            values[name] = None
    return values


class Triggers:
    """The rules' points index and the last values the intake saw; `urgent` classifies."""

    def __init__(self, rules: Iterable[Rule], max_history: int = MAX_HISTORY_SAMPLES) -> None:
        self._max_history = max_history
        self._kinds = index(rules, max_history)
        self._last: dict[str, dict[str, Scalar]] = {}
        self._last_ts: dict[str, int] = {}

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Rules reloaded: the index follows; the last values are kept."""
        self._kinds = index(rules, self._max_history)

    def windows(self, kind: str) -> Mapping[str, HistoryPoint]:
        points = self._kinds.get(kind)
        return {} if points is None else points.windows

    def seed(self, equipment: str, values: Mapping[str, Scalar]) -> None:
        """The last values known (the engine's, at start)."""
        self._room()
        self._last[equipment] = dict(values)

    def _room(self) -> None:
        if len(self._last) >= MAX_EQUIPMENT:
            log.warning(
                "the intake's last values cover %d pieces of equipment; starting them again",
                len(self._last),
            )
            self._last.clear()
            self._last_ts.clear()

    def urgent(self, kind: str, equipment: str, telemetry: Telemetry) -> bool:
        """Whether the sample changes what a rule decides on (see the module's docstring),
        remembering its values. An older sample than one seen already is routine: the
        monitor sets it aside as out of order."""
        seen_ts = self._last_ts.get(equipment)
        if seen_ts is not None and telemetry.ts < seen_ts:
            return False
        last = self._last.get(equipment)
        if last is None:
            self._room()
            last = self._last[equipment] = {}
        self._last_ts[equipment] = telemetry.ts
        points = self._kinds.get(kind)
        discrete: set[str] | frozenset[str] = frozenset() if points is None else points.discrete
        thresholds = {} if points is None else points.thresholds
        windows = {} if points is None else points.windows
        urgent = False
        for point, value in values_of(telemetry).items():
            old = last.get(point, _UNSET)
            if old is value or (type(old) is type(value) and old == value):
                continue  # as it was: it crosses nothing and starts nothing
            if isinstance(value, bool | str) or point in discrete:
                urgent = True  # new, or changed
                last[point] = value
                continue
            marks = thresholds.get(point)
            if marks is not None:
                before = as_number(last[point]) if point in last else None
                if crosses(before, as_number(value), marks):
                    urgent = True
                last[point] = value
            elif point in windows:
                if (old is _UNSET or old is None) and value is not None:
                    urgent = True  # the start of its history
                last[point] = value
        return urgent
