"""What the rule engine keeps per piece of equipment, and how one rule's timers step.

For each piece of equipment: the last value of every point, the bounded history the rate,
trend and counter conditions need, when it was last seen, its communication status, and for
each rule whether it is idle, pending (`for` running), active, or clearing (`clear_for`
running). `snapshot` and `restore` carry the timers and history across a restart. Pure: no
I/O, no clock (times are given).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cloud.rules.base import Scalar
from cloud.rules.model import Rule
from cloud.rules.windowed import CounterSamples

SNAPSHOT_VERSION = 1
Samples = deque[tuple[float, float]]


class Change(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class Transition:
    rule: Rule
    equipment_id: str
    change: Change
    at: float
    values: dict[str, Scalar]
    message: str


@dataclass(slots=True)
class RuleState:
    active: bool = False
    pending_since: float | None = None
    clearing_since: float | None = None
    # The last judgement changed nothing and left no timer running: judged again on the same
    # point values, status and time-independent conditions, the rule would not change either.
    # Anything that changes the state from outside leaves it False. Not saved.
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    seconds: float
    counter: bool

    def resolution(self, max_history: int) -> float:
        """The shortest gap kept between two samples of the window."""
        return self.seconds / max(1, max_history // 2)


# how long before its time a rule is judged again (`wake_at`)
WAKE_MARGIN_S = 1e-6


@dataclass(slots=True)
class Changes:
    """Equipment whose rule state (timers, active) or history changed."""

    rules: set[str] = field(default_factory=set)
    history: set[str] = field(default_factory=set)


def describe(values: Mapping[str, Scalar]) -> str:
    """`a=1.5, b=true, c=n/a`, for alarm messages."""
    return ", ".join(f"{p}={_format(v)}" for p, v in values.items())


def _format(value: Scalar) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_number(value: Any) -> float | None:
    """A finite int or float as a float; anything else (bool, text, NaN) None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def new_samples(window: Window, max_history: int) -> Samples:
    """An empty history for a point with this window (a counter's keeps its running rise)."""
    return CounterSamples(max_history) if window.counter else deque(maxlen=max_history)


def append(samples: Samples, now: float, value: float, window: Window, max_history: int) -> None:
    """Add a sample to a point's history. The newest sample stands in for its slot: it is
    replaced by the next one while it is less than the window's resolution after the sample
    before it, so the samples kept are at least a resolution apart and a window holds at
    most `max_history / 2` of them (+2), however often its point reports.

    A counter's history keeps a run of one value as its first and last sample (the samples
    between them add nothing to an increase or a rate), and a fall (see `rise`) is never
    replaced, nor replaced by a sample whose rise would hide it: counter deltas stay exact."""
    if samples and now < samples[-1][0]:
        return  # older than what is known: history only goes forward
    if len(samples) >= 2:
        (before_at, before), (last_at, last) = samples[-2], samples[-1]
        close = last_at - before_at < window.resolution(max_history)
        if window.counter:
            replace = before == last == value or (close and before <= last <= value)
        else:
            replace = close
        if replace:
            samples.pop()  # replaced (popped, not set: see CounterSamples)
            samples.append((now, value))
            return
    samples.append((now, value))


def trim(samples: Samples, start: float) -> None:
    """Drop samples older than the window, keeping the one in force at its start."""
    while len(samples) >= 2 and samples[1][0] <= start:
        samples.popleft()


@dataclass(slots=True)
class EquipmentState:
    kind: str
    values: dict[str, Scalar] = field(default_factory=dict)
    history: dict[str, Samples] = field(default_factory=dict)
    last_seen: float | None = None
    status: str = "unknown"
    rules: dict[str, RuleState] = field(default_factory=dict)
    # the tick passes over it from `judged_at` until `wake_at` (`RuleEngine.tick`)
    judged_at: float = 0.0
    wake_at: float = 0.0

    def snapshot(self, *, history: bool = True) -> dict[str, Any]:
        """Rule timers and (unless `history` is False) history, as JSON-ready data."""
        rules = {
            rule_id: {
                "active": state.active,
                "pending_since": state.pending_since,
                "clearing_since": state.clearing_since,
            }
            for rule_id, state in self.rules.items()
            if state.active or state.pending_since is not None or state.clearing_since is not None
        }
        if not history:
            return {"version": SNAPSHOT_VERSION, "rules": rules}
        saved = {point: list(samples) for point, samples in self.history.items()}  # of pairs
        return {"version": SNAPSHOT_VERSION, "rules": rules, "history": saved}

    def restore(
        self, data: Mapping[str, Any], windows: Mapping[str, Window], max_history: int
    ) -> None:
        """Put back what `snapshot` gave, for the rules and the points (`windows`) still in
        use. Data that does not fit is left out, so a damaged snapshot costs history, never
        the service."""
        if data.get("version") != SNAPSHOT_VERSION:
            return
        rules = data.get("rules")
        if isinstance(rules, dict):
            for rule_id, saved in rules.items():
                state = self.rules.get(rule_id)
                if state is None or not isinstance(saved, dict):
                    continue
                state.active = bool(saved.get("active"))
                state.pending_since = as_number(saved.get("pending_since"))
                state.clearing_since = as_number(saved.get("clearing_since"))
                state.settled = False
        history = data.get("history")
        if isinstance(history, dict):
            for point, samples in history.items():
                if point not in windows or not isinstance(samples, list):
                    continue
                restored = new_samples(windows[point], max_history)
                for sample in samples:
                    if not isinstance(sample, list | tuple) or len(sample) != 2:
                        continue
                    at, value = as_number(sample[0]), as_number(sample[1])
                    if at is None or value is None or (restored and at < restored[-1][0]):
                        continue  # not a sample, or out of time order
                    restored.append((at, value))
                if restored:
                    self.history[point] = restored


def wake_at(state: RuleState, rule: Rule, steady_until: float) -> float:
    """When a rule just judged must be judged again with nothing new reported: its timer
    running out, or `steady_until` (before which time alone cannot change its judgement),
    whichever comes first; a little before, so that rounding `now - since` against
    `since + for` never puts it off to a later tick."""
    if state.pending_since is not None:
        due = state.pending_since + rule.for_
    elif state.clearing_since is not None:
        due = state.clearing_since + rule.clear_for
    else:
        due = math.inf
    return min(due, steady_until) - WAKE_MARGIN_S


def step(rule: Rule, state: RuleState, result: bool | None, now: float) -> Change | None:
    """Move one rule's state on by a judgement (True: the fault is there; False: gone; None:
    cannot tell) at `now`; the change it makes, if the alarm is raised or cleared."""
    if not state.active:
        if result is True:
            if state.pending_since is None:
                state.pending_since = now
            if now - state.pending_since >= rule.for_:
                state.active = True
                state.pending_since = None
                state.clearing_since = None
                return Change.RAISED
        elif result is False:
            state.pending_since = None
        return None
    if result is False:
        if state.clearing_since is None:
            state.clearing_since = now
        if now - state.clearing_since >= rule.clear_for:
            state.active = False
            state.clearing_since = None
            state.pending_since = None
            return Change.CLEARED
    elif result is True:
        state.clearing_since = None
    return None
