"""The intake's lag: whether it is behind (`LagWatch`, for the `telemetry_intake_behind`
alarm), each lane's arrival → processed delay (`Delays`), and the figures a health line
carries (`health_fields`). See `cloud.intake`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cloud.receiver import IngestStats

if TYPE_CHECKING:
    from cloud.intake import Entry, IntakeQueue


class LagWatch:
    """Whether the intake is behind: the oldest waiting message older than `bound_s`; back
    once it is under half that (so a lag hovering at the bound does not flap the alarm)."""

    def __init__(self, bound_s: float, *, behind: bool = False) -> None:
        if bound_s <= 0:
            raise ValueError(f"intake lag bound must be more than 0 s, not {bound_s}")
        self.bound_s = bound_s
        self.behind = behind
        self.worst_s = 0.0  # the oldest wait seen while behind

    def observe(self, wait_s: float) -> bool:
        """Take the oldest wait now; True if `behind` changed."""
        if self.behind:
            self.worst_s = max(self.worst_s, wait_s)
            if wait_s <= self.bound_s / 2:
                self.behind = False
                return True
            return False
        if wait_s > self.bound_s:
            self.behind = True
            self.worst_s = wait_s
            return True
        return False


@dataclass(slots=True)
class Delays:
    """Arrival → processed, per lane: the slowest message of the latest batch that had one
    of that lane (a rule tick is not a message), and how many of each were processed."""

    urgent_s: float | None = None
    routine_s: float | None = None
    urgent: int = 0
    routine: int = 0

    def record(self, entries: list[Entry], now: float) -> None:
        urgent = [now - e.received for e in entries if e.urgent and e.key is not None]
        routine = [now - e.received for e in entries if not e.urgent]
        if urgent:
            self.urgent_s = max(urgent)
            self.urgent += len(urgent)
        if routine:
            self.routine_s = max(routine)
            self.routine += sum(e.messages for e in entries if not e.urgent)


def health_fields(
    intake: IntakeQueue, delays: Delays, lag: LagWatch, stats: IngestStats, oldest_wait_s: float
) -> dict[str, int | float]:
    """The intake's figures as a `plantroom_health` line's fields (component `cloud`)."""
    fields: dict[str, int | float] = {
        "received": stats.received,
        "processed": stats.processed,
        "coalesced": intake.coalesced,
        "dead_lettered": stats.dead_lettered,
        "queued_urgent": intake.urgent_waiting,
        "queued_routine": intake.routine_waiting,
        "oldest_wait_s": round(oldest_wait_s, 3),
        "lag_bound_s": float(lag.bound_s),
        "behind": int(lag.behind),
    }
    if delays.urgent_s is not None:
        fields["urgent_delay_s"] = round(delays.urgent_s, 3)
    if delays.routine_s is not None:
        fields["routine_delay_s"] = round(delays.routine_s, 3)
    return fields
