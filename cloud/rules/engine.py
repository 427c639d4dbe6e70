"""The rule engine: pure logic, no I/O, one clock.

It keeps, for each piece of equipment it tracks, the last value of every point (telemetry is
reported by exception, so a value holds until it changes), the history a rate, trend or
counter condition needs, when it was last seen and its communication status; and for each
rule of that equipment's kind whether the rule is idle, pending (`for` running), active, or
clearing (`clear_for` running). `observe`, `set_status` and `tick` return the transitions
they caused: an alarm to raise or to clear.

History is bounded: a point keeps at most about `max_history / 2` samples per window, the
newest sample of a slot replacing the one before it, however often the point reports. A
counter keeps a run of one value as its two ends, and its fall is never replaced,
so counter deltas stay exact however the samples are thinned (see `state.append`).

What must survive a restart — rule timers and history — comes out of `snapshot` and goes
back in with `restore`; `take_changes` says which equipment changed since it was last asked.

What is kept per piece of equipment, and how one rule's timers step, is in `cloud.rules.state`.

`provided` gives, per piece of equipment, the points its profile provides: a condition on a
point outside that set is false, not unknown (`cloud.rules.absent`); the rules are pruned
for it once, when it is tracked or the rules change. Equipment not in `provided` (its
profile unknown to the cloud) is judged by the rules as written.

Not thread-safe: one caller at a time (the cloud service feeds it from one worker).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Any

from cloud.rules.absent import Judged, judge, specialise, steady_until
from cloud.rules.base import Context, Scalar
from cloud.rules.model import Rule
from cloud.rules.state import (
    Change,
    Changes,
    EquipmentState,
    RuleState,
    Transition,
    Window,
    append,
    as_number,
    describe,
    new_samples,
    step,
    trim,
    wake_at,
)

MAX_HISTORY_SAMPLES = 4096
_UNSET = object()  # a point not known yet

__all__ = ["MAX_HISTORY_SAMPLES", "Change", "Changes", "RuleEngine", "Transition"]


class RuleEngine:
    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        clock: Callable[[], float] = time.time,
        max_history: int = MAX_HISTORY_SAMPLES,
        timezone: tzinfo = UTC,
        provided: Mapping[str, frozenset[str]] | None = None,
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        """`zones`: per piece of equipment, its site's time zone where not `timezone`."""
        if max_history < 4:
            raise ValueError("max_history must be at least 4")
        self._clock = clock
        self._max_history = max_history
        self._timezone = timezone
        self._zones: dict[str, tzinfo] = dict(zones or {})
        self._rules: dict[str, list[Rule]] = {}
        self._by_id: dict[str, Rule] = {}
        self._windows: dict[str, dict[str, Window]] = {}
        self._equipment: dict[str, EquipmentState] = {}
        self._provided: dict[str, frozenset[str]] = dict(provided or {})
        # per (kind, provided points): the kind's rules pruned for them; per equipment, its own
        self._specialised: dict[tuple[str, frozenset[str] | None], list[Judged]] = {}
        self._judged: dict[str, list[Judged]] = {}
        self._changes = Changes()
        self._install(list(rules))

    def _install(self, rules: list[Rule]) -> None:
        by_id: dict[str, Rule] = {}
        by_kind: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.id in by_id:
                raise ValueError(f"rule {rule.id!r} given twice")
            by_id[rule.id] = rule
            by_kind.setdefault(rule.kind.value, []).append(rule)
        windows: dict[str, dict[str, Window]] = {}
        for kind, kind_rules in by_kind.items():
            seconds: dict[str, float] = {}
            counters: set[str] = set()
            for rule in kind_rules:
                for point, window in rule.history_points().items():
                    seconds[point] = max(window, seconds.get(point, 0.0))
                counters |= rule.counter_points()
            windows[kind] = {p: Window(s, p in counters) for p, s in seconds.items()}
        self._by_id = by_id
        self._rules = by_kind
        self._windows = windows
        self._specialised = {}
        self._judged = {
            equipment_id: self._specialise(equipment_id, eq.kind)
            for equipment_id, eq in self._equipment.items()
        }

    def _specialise(self, equipment_id: str, kind: str) -> list[Judged]:
        provided = self._provided.get(equipment_id)
        key = (kind, provided)
        judged = self._specialised.get(key)
        if judged is None:
            judged = [specialise(rule, provided) for rule in self._rules.get(kind, ())]
            self._specialised[key] = judged
        return judged

    @property
    def rules(self) -> list[Rule]:
        return list(self._by_id.values())

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]

    def rules_for(self, kind: str) -> list[Rule]:
        return list(self._rules.get(kind, ()))

    def set_rules(self, rules: Iterable[Rule], *, at: float | None = None) -> list[Transition]:
        """Replace the rules (a reload), keeping what is known about the equipment.

        A rule kept unchanged keeps its state; a changed one keeps whether it is active but
        starts its timers again; a new one starts idle. Every rule then judges the values
        known so far. An active alarm whose rule is gone (removed or disabled) clears: the
        transitions returned say so, with those the new rules cause at once.
        """
        now = self._clock() if at is None else at
        old = self._by_id
        self._install(list(rules))
        out: list[Transition] = []
        for equipment_id, eq in self._equipment.items():
            states: dict[str, RuleState] = {}
            for rule in self._rules.get(eq.kind, ()):
                state = eq.rules.get(rule.id)
                if state is None:
                    states[rule.id] = RuleState()
                elif old.get(rule.id) == rule:
                    states[rule.id] = state
                else:
                    states[rule.id] = RuleState(active=state.active)
            for rule_id, state in eq.rules.items():
                if rule_id not in states and state.active and rule_id in old:
                    gone = old[rule_id]
                    out.append(
                        Transition(
                            gone,
                            equipment_id,
                            Change.CLEARED,
                            now,
                            {},
                            f"{gone.title} cleared: the rule was removed or disabled",
                        )
                    )
            eq.rules = states
            windows = self._windows.get(eq.kind, {})
            for point in [p for p in eq.history if p not in windows]:
                del eq.history[point]
            self._changes.rules.add(equipment_id)
            # what is known already is judged by the new rules at once
            out.extend(self._evaluate(equipment_id, eq, now, only_time=False))
        return out

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
        eq = EquipmentState(kind=kind, last_seen=last_seen, status=status)
        eq.values.update(values or {})
        eq.rules = {rule.id: RuleState() for rule in self._rules.get(kind, ())}
        self._equipment[equipment_id] = eq
        self._judged[equipment_id] = self._specialise(equipment_id, kind)

    def tracked(self, equipment_id: str) -> bool:
        return equipment_id in self._equipment

    def tracked_ids(self) -> list[str]:
        return list(self._equipment)

    def kind_of(self, equipment_id: str) -> str:
        return self._equipment[equipment_id].kind

    def forget(self, equipment_id: str) -> None:
        self._equipment.pop(equipment_id, None)
        self._judged.pop(equipment_id, None)

    def clear_all(self) -> None:
        self._equipment.clear()
        self._judged.clear()
        self._changes = Changes()

    def mark_active(self, equipment_id: str, rule_id: str) -> None:
        """Restore an alarm known to be active (after a restart), so that it can clear."""
        state = self._equipment[equipment_id].rules.get(rule_id)
        if state is not None and not state.active:
            state.active = True
            state.pending_since = None
            state.clearing_since = None
            state.settled = False
            self._equipment[equipment_id].wake_at = 0.0  # judged again at the next tick

    def mark_inactive(self, equipment_id: str, rule_id: str) -> None:
        """Forget an alarm known not to be active (it cleared while the state was saved)."""
        state = self._equipment[equipment_id].rules.get(rule_id)
        if state is not None and state.active:
            state.active = False
            state.clearing_since = None
            state.settled = False
            self._equipment[equipment_id].wake_at = 0.0

    def is_active(self, equipment_id: str, rule_id: str) -> bool:
        eq = self._equipment.get(equipment_id)
        state = eq.rules.get(rule_id) if eq is not None else None
        return state is not None and state.active

    def active_rules(self, equipment_id: str) -> list[str]:
        eq = self._equipment.get(equipment_id)
        if eq is None:
            return []
        return [rule_id for rule_id, state in eq.rules.items() if state.active]

    def values(self, equipment_id: str) -> dict[str, Scalar]:
        return dict(self._equipment[equipment_id].values)

    # -- persistence -------------------------------------------------------------------------

    def take_changes(self) -> Changes:
        """Equipment changed since the last call (and forget them)."""
        changes, self._changes = self._changes, Changes()
        return changes

    def snapshot(self, equipment_id: str, *, history: bool = True) -> dict[str, Any]:
        """Rule timers and (unless `history` is False) history of one piece of equipment, as
        JSON-ready data."""
        return self._equipment[equipment_id].snapshot(history=history)

    def history(self, equipment_id: str) -> Mapping[str, Sequence[tuple[float, float]]]:
        """One piece of equipment's history: point → (time, value) samples, oldest first. The
        engine's own, not a copy: read it before the engine is given anything else. Only the
        newest sample of a point is ever replaced; others leave from the oldest end."""
        return self._equipment[equipment_id].history

    def restore(self, equipment_id: str, data: Mapping[str, Any]) -> None:
        """Put back what `snapshot` gave (for rules and points still in use). Data that does
        not fit is left out, so a damaged snapshot costs history, never the service."""
        eq = self._equipment[equipment_id]
        eq.restore(data, self._windows.get(eq.kind, {}), self._max_history)
        eq.wake_at = 0.0

    # -- inputs ------------------------------------------------------------------------------

    def observe(
        self, equipment_id: str, values: Mapping[str, Scalar], *, at: float | None = None
    ) -> list[Transition]:
        """New point values from telemetry; the points not in `values` keep their value.

        Only the rules a sample can move are judged: those reading a point whose value it
        changed, those that depend on time (stale data, windows, time of day), and those whose
        last judgement changed their state or left a timer running. Any other rule was judged
        on the same inputs already and would not change (see `RuleState.settled`)."""
        now = self._clock() if at is None else at
        eq = self._equipment[equipment_id]
        known = eq.values
        changed = {
            point
            for point, value in values.items()
            if (old := known.get(point, _UNSET)) is not value
            and (type(old) is not type(value) or old != value)
        }
        known.update(values)
        eq.last_seen = now
        windows = self._windows.get(eq.kind, {})
        for point, window in windows.items():
            if point not in values:
                continue
            value = as_number(values[point])
            if value is None:
                continue
            samples = eq.history.get(point)
            if samples is None:
                samples = eq.history[point] = new_samples(window, self._max_history)
            append(samples, now, value, window, self._max_history)
            trim(samples, now - window.seconds)
            self._changes.history.add(equipment_id)
        return self._evaluate(equipment_id, eq, now, only_time=False, changed=changed)

    def set_status(
        self, equipment_id: str, status: str, *, at: float | None = None
    ) -> list[Transition]:
        now = self._clock() if at is None else at
        eq = self._equipment[equipment_id]
        eq.status = status
        return self._evaluate(equipment_id, eq, now, only_time=False)

    def tick(self, *, at: float | None = None) -> list[Transition]:
        """Advance time: `for`/`clear_for` timers, stale data, rates, trends, counter windows
        and time-of-day conditions.

        A piece of equipment is passed over until the first of its rules can change with time
        alone: a `for`/`clear_for` timer running out, stale data after its `stale`, a time of
        day at the next minute of the site's clock, the start of a counter's or a trend's
        window reaching a sample (a rate moves at every tick). Judging it sooner would give
        what it gave before; telemetry and status changes judge it at once, as always. Its
        windows are trimmed when it is judged."""
        now = self._clock() if at is None else at
        out: list[Transition] = []
        for equipment_id, eq in self._equipment.items():
            if eq.judged_at <= now < eq.wake_at:
                continue
            for point, window in self._windows.get(eq.kind, {}).items():
                samples = eq.history.get(point)
                if samples:
                    trim(samples, now - window.seconds)
            out.extend(self._evaluate(equipment_id, eq, now, only_time=True))
        return out

    # -- evaluation --------------------------------------------------------------------------

    def _evaluate(
        self,
        equipment_id: str,
        eq: EquipmentState,
        now: float,
        *,
        only_time: bool,
        changed: frozenset[str] | set[str] | None = None,
    ) -> list[Transition]:
        """Judge the equipment's rules at `now`: all of them; with `only_time`, those time can
        move; with `changed` (the points a sample changed), those the sample can move."""
        ctx = Context(
            now=now,
            values=eq.values,
            last_seen=eq.last_seen,
            status=eq.status,
            history=eq.history,
            timezone=self._zones.get(equipment_id, self._timezone),
        )
        out: list[Transition] = []
        wake = math.inf  # until when the tick may pass over it (see `tick`)
        for judged in self._judged[equipment_id]:
            rule = judged.rule
            state = eq.rules[rule.id]
            if not judged.timed:  # time cannot move it
                if only_time:
                    if state.pending_since is None and state.clearing_since is None:
                        continue
                elif changed is not None and state.settled and changed.isdisjoint(judged.points):
                    continue
            result = judge(judged, ctx, state.active)
            before = (state.active, state.pending_since, state.clearing_since)
            change = step(rule, state, result, now)
            if (state.active, state.pending_since, state.clearing_since) != before:
                self._changes.rules.add(equipment_id)
                state.settled = False
            else:
                state.settled = state.pending_since is None and state.clearing_since is None
            if wake > now:
                wake = min(wake, wake_at(state, judged.rule, steady_until(judged, ctx)))
            if change is not None:
                snapshot = {p: eq.values.get(p) for p in judged.shown}
                shown = describe(snapshot)
                if change is Change.RAISED:
                    message = f"{rule.title}" + (f" ({shown})" if shown else "")
                else:
                    message = f"{rule.title} cleared" + (f" ({shown})" if shown else "")
                out.append(Transition(rule, equipment_id, change, now, snapshot, message))
        eq.judged_at = now
        eq.wake_at = wake
        return out
