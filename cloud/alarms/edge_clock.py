"""The `edge_clock_wrong` system alarm: an edge agent's clock is beyond the allowed skew.

The skew is measured and the decision taken in memory (`cloud.clockskew.ClockSkews`, with
hysteresis); this module writes what changed, on the consumer's database thread: an agent
that went off raises the alarm on subject `edge:<agent>` with the measured skew, an agent
back within clears it. At start-up the agents whose alarm is active are handed back to the
estimator as off, so an alarm raised before a restart is cleared only once the agent is
measured back within.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cloud.alarms.system import active_subjects, clear_system_alarm, raise_system_alarm
from cloud.clock import Clock
from cloud.clockskew import AgentClock
from cloud.db import Database
from cloud.enums import Severity
from cloud.locale import N_, RECORD, Text
from cloud.locale.composed import compose

EDGE_CLOCK_WRONG = "edge_clock_wrong"
PREFIX = "edge:"


def subject(agent: str) -> str:
    return f"{PREFIX}{agent}"


# the alarm's message, written from its details in the reader's language (`message`)
BEHIND = N_(
    "edge agent '{agent}': clock {skew} s behind the cloud's, beyond the {allowed} s allowed: "
    "its samples are refused when ahead or look old when behind; set the edge box's clock (NTP)"
)
AHEAD = N_(
    "edge agent '{agent}': clock {skew} s ahead of the cloud's, beyond the {allowed} s allowed: "
    "its samples are refused when ahead or look old when behind; set the edge box's clock (NTP)"
)

# the note of its clearing
BACK_BEHIND = N_(
    "edge agent '%(agent)s': clock %(skew)s s behind the cloud's, back within the bound"
)
BACK_AHEAD = N_(
    "edge agent '%(agent)s': clock %(skew)s s ahead of the cloud's, back within the bound"
)


def message(details: Mapping[str, Any], text: Text) -> str:
    """The alarm's message from its `details` (`details()`), in `text`'s language."""
    skew = float(details["skew_s"])
    return text._(BEHIND if skew >= 0 else AHEAD).format(
        agent=details["agent"],
        skew=text.number(abs(skew)),
        allowed=text.figure(float(details["max_clock_skew_s"])),
    )


def details(clock: AgentClock, max_skew_s: float) -> dict[str, float | int | str]:
    return {
        "agent": clock.agent,
        "skew_s": round(clock.skew_s, 3),
        "max_clock_skew_s": max_skew_s,
        "reports": clock.reports,
    }


class EdgeClockAlarms:
    """Raises and clears `edge_clock_wrong`; called on one thread (the consumer's DB thread)."""

    def __init__(self, db: Database, *, clock: Clock, max_skew_s: float) -> None:
        self._db = db
        self._clock = clock
        self.max_skew_s = max_skew_s

    def active_agents(self) -> list[str]:
        """The agents whose clock alarm is active."""
        with self._db.session() as session:
            subjects = active_subjects(session, EDGE_CLOCK_WRONG)
        return [s.removeprefix(PREFIX) for s in subjects if s.startswith(PREFIX)]

    def apply(self, changes: Sequence[AgentClock]) -> None:
        """Raise the alarm of each agent gone off, clear that of each agent back; one
        transaction."""
        now = self._clock()
        with self._db.session() as session:
            for clock in changes:
                if clock.off:
                    facts = details(clock, self.max_skew_s)
                    raise_system_alarm(
                        session,
                        EDGE_CLOCK_WRONG,
                        subject(clock.agent),
                        message(facts, RECORD),
                        severity=Severity.MAJOR,
                        details=facts,
                        now=now,
                    )
                else:
                    clear_system_alarm(
                        session,
                        EDGE_CLOCK_WRONG,
                        subject(clock.agent),
                        now,
                        note=compose(
                            BACK_BEHIND if clock.skew_s >= 0 else BACK_AHEAD,
                            agent=clock.agent,
                            skew=round(abs(clock.skew_s)),
                        ),
                        details=details(clock, self.max_skew_s),
                    )
