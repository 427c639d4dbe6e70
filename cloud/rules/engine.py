"""The rule engine: pure logic, no I/O, one clock.

It keeps, for each piece of equipment it tracks, the last value of every point (telemetry is
reported by exception, so a value holds until it changes), the history a rate or counter
condition needs, when it was last seen and its communication status; and for each rule of
that equipment's kind whether the rule is idle, pending (`for` running), active, or clearing
(`clear_for` running). `observe`, `set_status` and `tick` return the transitions they caused:
an alarm to raise or to clear.

Not thread-safe: one caller at a time (the cloud service feeds it from one worker).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cloud.rules.conditions import Context, Scalar
from cloud.rules.model import Rule

MAX_HISTORY_SAMPLES = 4096


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
class _RuleState:
    active: bool = False
    pending_since: float | None = None
    clearing_since: float | None = None


@dataclass(slots=True)
class _Equipment:
    kind: str
    values: dict[str, Scalar] = field(default_factory=dict)
    history: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    last_seen: float | None = None
    status: str = "unknown"
    rules: dict[str, _RuleState] = field(default_factory=dict)


def _format(value: Scalar) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RuleEngine:
    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        clock: Callable[[], float] = time.time,
        max_history: int = MAX_HISTORY_SAMPLES,
    ) -> None:
        self._clock = clock
        self._max_history = max_history
        self._rules: dict[str, list[Rule]] = {}
        self._by_id: dict[str, Rule] = {}
        self._windows: dict[str, dict[str, float]] = {}
        for rule in rules:
            if rule.id in self._by_id:
                raise ValueError(f"rule {rule.id!r} given twice")
            self._by_id[rule.id] = rule
            self._rules.setdefault(rule.kind.value, []).append(rule)
            windows = self._windows.setdefault(rule.kind.value, {})
            for point, window in rule.condition.history_points().items():
                windows[point] = max(window, windows.get(point, 0.0))
        self._equipment: dict[str, _Equipment] = {}

    @property
    def rules(self) -> list[Rule]:
        return list(self._by_id.values())

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def rules_for(self, kind: str) -> list[Rule]:
        return list(self._rules.get(kind, ()))

    # -- equipment ---------------------------------------------------------------------------

    def track(
        self,
        equipment_id: str,
        kind: str,
        *,
        values: Mapping[str, Scalar] | None = None,
        last_seen: float | None = None,
        status: str = "unknown",
    ) -> None:
        """Start (or restart) tracking one piece of equipment, e.g. from the database."""
        eq = _Equipment(kind=kind, last_seen=last_seen, status=status)
        eq.values.update(values or {})
        eq.rules = {rule.id: _RuleState() for rule in self._rules.get(kind, ())}
        self._equipment[equipment_id] = eq

    def tracked(self, equipment_id: str) -> bool:
        return equipment_id in self._equipment

    def forget(self, equipment_id: str) -> None:
        self._equipment.pop(equipment_id, None)

    def clear_all(self) -> None:
        self._equipment.clear()

    def mark_active(self, equipment_id: str, rule_id: str) -> None:
        """Restore an alarm known to be active (after a restart), so that it can clear."""
        state = self._equipment[equipment_id].rules.get(rule_id)
        if state is not None:
            state.active = True
            state.pending_since = None
            state.clearing_since = None

    def is_active(self, equipment_id: str, rule_id: str) -> bool:
        eq = self._equipment.get(equipment_id)
        state = eq.rules.get(rule_id) if eq is not None else None
        return state is not None and state.active

    def values(self, equipment_id: str) -> dict[str, Scalar]:
        return dict(self._equipment[equipment_id].values)

    # -- inputs ------------------------------------------------------------------------------

    def observe(
        self, equipment_id: str, values: Mapping[str, Scalar], *, at: float | None = None
    ) -> list[Transition]:
        """New point values from telemetry; the points not in `values` keep their value."""
        now = self._clock() if at is None else at
        eq = self._equipment[equipment_id]
        eq.values.update(values)
        eq.last_seen = now
        windows = self._windows.get(eq.kind, {})
        for point, window in windows.items():
            if point not in values:
                continue
            value = values[point]
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            samples = eq.history.setdefault(point, deque(maxlen=self._max_history))
            samples.append((now, float(value)))
            self._trim(samples, now - window)
        return self._evaluate(equipment_id, eq, now, only_time=False)

    def set_status(
        self, equipment_id: str, status: str, *, at: float | None = None
    ) -> list[Transition]:
        now = self._clock() if at is None else at
        eq = self._equipment[equipment_id]
        eq.status = status
        return self._evaluate(equipment_id, eq, now, only_time=False)

    def tick(self, *, at: float | None = None) -> list[Transition]:
        """Advance time: `for`/`clear_for` timers, stale data, rates and counter windows."""
        now = self._clock() if at is None else at
        out: list[Transition] = []
        for equipment_id, eq in self._equipment.items():
            for point, window in self._windows.get(eq.kind, {}).items():
                samples = eq.history.get(point)
                if samples:
                    self._trim(samples, now - window)
            out.extend(self._evaluate(equipment_id, eq, now, only_time=True))
        return out

    # -- evaluation --------------------------------------------------------------------------

    @staticmethod
    def _trim(samples: deque[tuple[float, float]], start: float) -> None:
        """Drop samples older than the window, keeping the one in force at its start."""
        while len(samples) >= 2 and samples[1][0] <= start:
            samples.popleft()

    def _evaluate(
        self, equipment_id: str, eq: _Equipment, now: float, *, only_time: bool
    ) -> list[Transition]:
        ctx = Context(
            now=now,
            values=eq.values,
            last_seen=eq.last_seen,
            status=eq.status,
            history=eq.history,
        )
        out: list[Transition] = []
        for rule in self._rules.get(eq.kind, ()):
            state = eq.rules[rule.id]
            timing = state.pending_since is not None or state.clearing_since is not None
            if only_time and not timing and not rule.condition.time_dependent():
                continue
            result = rule.condition.evaluate(ctx, state.active)
            change = self._step(rule, state, result, now)
            if change is not None:
                snapshot = {p: eq.values.get(p) for p in sorted(rule.condition.points())}
                shown = ", ".join(f"{p}={_format(v)}" for p, v in snapshot.items())
                if change is Change.RAISED:
                    message = f"{rule.title}" + (f" ({shown})" if shown else "")
                else:
                    message = f"{rule.title} cleared" + (f" ({shown})" if shown else "")
                out.append(Transition(rule, equipment_id, change, now, snapshot, message))
        return out

    @staticmethod
    def _step(rule: Rule, state: _RuleState, result: bool | None, now: float) -> Change | None:
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
