"""A job's three SLA clocks and the escalation stages they call for (pure: no database).

A job has three clocks, in order: *acknowledge* (`respond_due_at`, stopped by acknowledging),
*on_site* (`start_due_at`, stopped by starting) and *complete* (`resolve_due_at`, stopped by
resolving). The first overdue clock that has not stopped escalates, in stages
`escalate_every` apart; when it stops, the next one starts from the first stage again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.workorders.model import WorkOrder

CLOCKS = ("acknowledge", "on_site", "complete")


@dataclass(frozen=True, slots=True)
class Clocks:
    """A job's three SLA clocks: when each is due and when it stopped (None: running)."""

    acknowledge: tuple[datetime | None, datetime | None]
    on_site: tuple[datetime | None, datetime | None]
    complete: tuple[datetime | None, datetime | None]

    @classmethod
    def of(cls, wo: WorkOrder) -> Clocks:
        return cls(
            acknowledge=(wo.respond_due_at, wo.acknowledged_at),
            on_site=(wo.start_due_at, wo.started_at),
            complete=(wo.resolve_due_at, wo.resolved_at),
        )

    def overdue(self, now: datetime) -> tuple[str, datetime] | None:
        """The first clock past due that has not stopped, with its due time."""
        for name in CLOCKS:
            due, stopped = getattr(self, name)
            if due is not None and stopped is None and due <= now:
                return name, due
        return None


def escalation_step(
    clocks: Clocks,
    *,
    now: datetime,
    every: timedelta,
    stages: int,
    current_clock: str | None,
    current_stage: int,
) -> tuple[str, list[int]] | None:
    """Which stages (1-based) to fire now, on which clock; None if nothing is due. Pure.

    Stage n of an overdue clock is due at `due + (n - 1) * every`; stages already fired on
    the same clock are not fired again."""
    found = clocks.overdue(now)
    if found is None:
        return None
    name, due = found
    reached = min(stages, 1 + int((now - due) / every))
    done = current_stage if current_clock == name else 0
    if reached <= done:
        return None
    return name, list(range(done + 1, reached + 1))
