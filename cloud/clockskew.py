"""How far each edge agent's clock is from the cloud's, measured from its health reports.

Every EdgeHealth report carries the agent's time (`ts`); on arrival the cloud notes
`receive time - ts`. That is the network and buffer delay plus the clock difference, and the
delays only ever add: a report replayed from the agent's buffer after an outage arrives late
by the length of the outage. So the estimate is a low quantile (the lower quartile) of the
last `window` reports: the replayed ones and a single odd report do not move it, and while
the agent is connected it is the clock difference plus the usual delivery delay.

Positive skew: the agent's clock is behind the cloud's (or its reports are delayed);
negative: the agent's clock is ahead, and samples more than `max_clock_skew_s` ahead are
refused (see `plantroom.schema.check_not_ahead`).

A backlog delays every report alike: when the cloud cannot keep up, the broker holds what it
has not taken yet, and each agent's reports arrive minutes after they were sent, which looks
exactly like a clock behind. So while the consumer says it is backlogged (`observe(...,
backlogged=True)`), a report is still measured but judges nothing about a clock that looks
behind: no agent goes off for being behind, and an off agent's count of reports back within
neither grows nor starts again. A clock ahead cannot come from a delay, so it is judged always.

An agent whose skew is beyond `max_clock_skew_s` either way is "off": its samples are refused
(ahead) or look old and replayed (behind). A clock ahead is off at once. A clock behind is off
only once it has looked so for `behind_for_s` (60 s) of the cloud's time: an agent's buffer
can hold reports from before a restart of the whole stack, which arrive hours late and, right
after the cloud starts, are all the window has; the live reports after them bring the estimate
back within. It is back only once its skew has stayed within
`clear_fraction` (80 %) of the bound for `clear_reports` reports in a row, so a skew hovering
at the bound does not flap. `off()` names those agents, `/api/health` turns `degraded` for
them, and each episode is logged once: WARNING when the skew leaves the bound, INFO when it
is back within. Each change is also kept for `take_changes()`, which the consumer drains on
its tick to raise and clear the `edge_clock_wrong` system alarm (`cloud.alarms.edge_clock`):
the database hears of an agent's clock only when it goes off or comes back.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from plantroom.schema import DEFAULT_MAX_CLOCK_SKEW_S

log = logging.getLogger(__name__)

WINDOW = 30
MAX_AGENTS = 10_000
CLEAR_FRACTION = 0.8  # back within this part of the bound...
CLEAR_REPORTS = 10  # ...for this many reports in a row: the agent's clock is right again
BEHIND_FOR_S = 60.0  # a clock looking behind for this long is behind, not a replayed report


@dataclass(frozen=True, slots=True)
class AgentClock:
    agent: str
    skew_s: float
    reports: int
    last_report_at_ms: int
    off: bool  # the skew is beyond the bound (and has not stayed back within it yet)

    @property
    def problem(self) -> str:
        """The skew in words: how far, which way, against which bound."""
        way = "behind" if self.skew_s >= 0 else "ahead of"
        return f"edge agent {self.agent!r}: clock {abs(self.skew_s):.0f} s {way} the cloud's"


class ClockSkews:
    """Per edge agent, the last `window` values of `receive time - sample time`."""

    def __init__(
        self,
        window: int = WINDOW,
        max_agents: int = MAX_AGENTS,
        max_skew_s: float = DEFAULT_MAX_CLOCK_SKEW_S,
        clear_fraction: float = CLEAR_FRACTION,
        clear_reports: int = CLEAR_REPORTS,
        behind_for_s: float = BEHIND_FOR_S,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        if not 0 < clear_fraction <= 1:
            raise ValueError(f"clear_fraction must be in (0, 1], not {clear_fraction}")
        if clear_reports < 1:
            raise ValueError(f"clear_reports must be at least 1, not {clear_reports}")
        if behind_for_s < 0:
            raise ValueError(f"behind_for_s must be at least 0, not {behind_for_s}")
        self._window = window
        self._max_agents = max_agents
        self.max_skew_s = max_skew_s
        self.clear_fraction = clear_fraction
        self.clear_reports = clear_reports
        self._behind_for_ms = behind_for_s * 1000
        self._delays: dict[str, deque[int]] = {}
        self._last: dict[str, int] = {}
        self._off: set[str] = set()
        self._within: dict[str, int] = {}  # off agents: reports in a row back within
        self._behind_since: dict[str, int] = {}  # agents looking behind: since when (receive ms)
        self._changes: dict[str, AgentClock] = {}  # off or back, since `take_changes`

    def observe(self, agent: str, ts_ms: int, received_ms: int, backlogged: bool = False) -> None:
        delays = self._delays.get(agent)
        if delays is None:
            if len(self._delays) >= self._max_agents:
                return  # bounded: agents past the limit are not measured
            delays = self._delays[agent] = deque(maxlen=self._window)
        delays.append(received_ms - ts_ms)
        self._last[agent] = received_ms
        skew = self.skew_s(agent)
        assert skew is not None
        if backlogged and skew >= 0:
            return  # a delay or a clock behind: not told apart until the backlog is gone
        if agent not in self._off:
            if self._goes_off(agent, skew, received_ms):
                self._off.add(agent)
                self._within.pop(agent, None)
                clock = AgentClock(agent, skew, len(delays), received_ms, off=True)
                self._changes[agent] = clock
                log.warning(
                    "%s, beyond the %g s allowed: its samples are refused when ahead or look "
                    "old when behind; set the edge box's clock (NTP)",
                    clock.problem,
                    self.max_skew_s,
                )
        elif abs(skew) > self.max_skew_s * self.clear_fraction:
            self._within.pop(agent, None)  # not back yet: the count starts again
        elif (within := self._within.get(agent, 0) + 1) < self.clear_reports:
            self._within[agent] = within
        else:
            self._off.discard(agent)
            self._within.pop(agent, None)
            clock = AgentClock(agent, skew, len(delays), received_ms, off=False)
            self._changes[agent] = clock
            log.info(
                "%s, back within the %g s allowed for %d reports",
                clock.problem,
                self.max_skew_s * self.clear_fraction,
                self.clear_reports,
            )

    def _goes_off(self, agent: str, skew: float, received_ms: int) -> bool:
        """Whether an agent not off is off now: its skew beyond the bound, at once when ahead,
        for `behind_for_s` when behind (replayed reports are late for a moment only)."""
        if skew <= self.max_skew_s:  # within the bound, or ahead: judged on this report
            self._behind_since.pop(agent, None)
            return skew < -self.max_skew_s
        since = self._behind_since.setdefault(agent, received_ms)  # behind beyond the bound
        if received_ms - since < self._behind_for_ms:
            return False
        del self._behind_since[agent]
        return True

    def assume_off(self, agents: list[str]) -> None:
        """These agents were off when this process started (their alarm is active): they
        are back only once measured back within, as if they had gone off here."""
        for agent in agents[: self._max_agents]:
            self._off.add(agent)

    def take_changes(self) -> list[AgentClock]:
        """The agents that went off or came back since the last call, latest state each."""
        changes, self._changes = list(self._changes.values()), {}
        return changes

    def put_back(self, changes: list[AgentClock]) -> None:
        """Changes taken but not acted on (the database failed): taken again next time,
        unless a newer change of the same agent came meanwhile."""
        for clock in changes:
            self._changes.setdefault(clock.agent, clock)

    def skew_s(self, agent: str) -> float | None:
        delays = self._delays.get(agent)
        if not delays:
            return None
        ordered = sorted(delays)
        return ordered[(len(ordered) - 1) // 4] / 1000

    def agents(self) -> list[AgentClock]:
        out = []
        for agent in sorted(self._delays):
            skew = self.skew_s(agent)
            assert skew is not None
            reports, last = len(self._delays[agent]), self._last[agent]
            out.append(AgentClock(agent, skew, reports, last, agent in self._off))
        return out

    def off(self) -> list[AgentClock]:
        """The agents whose skew is beyond the bound now."""
        return [clock for clock in self.agents() if clock.off]
