"""Points a piece of equipment's profile does not provide: absent, not unknown.

A point the profile provides (read or derived) but that has not reported, or is reported as
not available, is unknown: a condition on it is "cannot tell" and the rule waits. A point
the profile does not provide at all will never report, so a condition on it is false: an
`any` that reads it can still become false (its alarm clears) and an `all` that reads it is
never true (it never fires). Without this, `any: [{point: dry_run, is: true}, ...]` on a
pump with no `dry_run` could raise but never clear.

This is worked out once per rule and set of provided points — when the engine starts
tracking a piece of equipment or takes new rules — not per message: `specialise` prunes
each condition tree to what the equipment can report, so the fault path evaluates the same
trees as before, only smaller. Equipment whose profile the cloud cannot find (no provided
set) keeps the rules as written. The site check (`cloud.sitecheck`) reasons on the same
pruned trees, so what it reports is what the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cloud.rules.base import ConditionBase, Context, soonest
from cloud.rules.conditions import AllOf, AnyOf
from cloud.rules.model import Rule


class Absent(ConditionBase):
    """What a condition on points the equipment's profile does not provide becomes: false.
    Never written in a rule file; `missing` names the points, for messages."""

    tag: ClassVar[str] = "absent"
    missing: tuple[str, ...]

    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        return False


def _absent(parts: list[ConditionBase]) -> Absent:
    missing = sorted({p for part in parts if isinstance(part, Absent) for p in part.missing})
    return Absent(missing=tuple(missing))


def prune(condition: ConditionBase, provided: frozenset[str]) -> ConditionBase:
    """`condition` on equipment that can report only `provided`: each condition reading a
    point not in it becomes `Absent`; an `any` drops its absent parts (absent when none is
    left), an `all` with an absent part is absent. Unchanged parts are the same objects."""
    if isinstance(condition, AnyOf):
        parts = [prune(c, provided) for c in condition.any]
        kept = [p for p in parts if not isinstance(p, Absent)]
        if not kept:
            return _absent(parts)
        if len(kept) == len(condition.any) and all(
            p is c for p, c in zip(kept, condition.any, strict=True)
        ):
            return condition
        return kept[0] if len(kept) == 1 else AnyOf(any=kept)
    if isinstance(condition, AllOf):
        parts = [prune(c, provided) for c in condition.all]
        if any(isinstance(p, Absent) for p in parts):
            return _absent(parts)
        if all(p is c for p, c in zip(parts, condition.all, strict=True)):
            return condition
        return AllOf(all=parts)
    missing = condition.points() - provided
    return Absent(missing=tuple(sorted(missing))) if missing else condition


@dataclass(frozen=True, slots=True)
class Judged:
    """One rule as the engine judges it on one piece of equipment."""

    rule: Rule
    condition: ConditionBase
    when: ConditionBase | None
    clear_when: ConditionBase | None
    timed: tuple[ConditionBase, ...]  # of condition, `when` and `clear_when`: those time moves
    shown: tuple[str, ...]  # the points an alarm message shows: those the condition reads
    points: frozenset[str]  # every point its condition, `when` and `clear_when` read


def specialise(rule: Rule, provided: frozenset[str] | None) -> Judged:
    """`rule` pruned to the points `provided` (None: unknown profile, the rule as written)."""
    if provided is None:
        condition: ConditionBase = rule.condition
        when: ConditionBase | None = rule.when
        clear_when: ConditionBase | None = rule.clear_when
    else:
        condition = prune(rule.condition, provided)
        when = None if rule.when is None else prune(rule.when, provided)
        clear_when = None if rule.clear_when is None else prune(rule.clear_when, provided)
    parts = [c for c in (condition, when, clear_when) if c is not None]
    return Judged(
        rule=rule,
        condition=condition,
        when=when,
        clear_when=clear_when,
        timed=tuple(c for c in parts if c.time_dependent()),
        shown=tuple(sorted(condition.points())),
        points=frozenset().union(*(c.points() for c in parts)),
    )


def steady_until(judged: Judged, ctx: Context) -> float:
    """Before when the rule's judgement cannot change with time alone (see
    `ConditionBase.steady_until`): the soonest of its condition, `when` and `clear_when`;
    `inf` for a rule time does not move."""
    return soonest(judged.timed, ctx)


def judge(judged: Judged, ctx: Context, active: bool) -> bool | None:
    """True: the fault is there; False: gone; None: cannot tell (nothing changes)."""
    if judged.when is not None and judged.when.evaluate(ctx, active) is not True:
        return None
    if active and judged.clear_when is not None:
        cleared = judged.clear_when.evaluate(ctx, active)
        return None if cleared is None else not cleared
    return judged.condition.evaluate(ctx, active)
