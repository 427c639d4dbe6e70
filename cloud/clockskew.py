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

An agent whose skew is beyond `max_clock_skew_s` either way is "off": its samples are refused
(ahead) or look old and replayed (behind). `off()` names those agents, `/api/health` turns
`degraded` for them, and each episode is logged once: WARNING when the skew leaves the bound,
INFO when it is back within.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from plantroom.schema import DEFAULT_MAX_CLOCK_SKEW_S

log = logging.getLogger(__name__)

WINDOW = 30
MAX_AGENTS = 10_000


@dataclass(frozen=True, slots=True)
class AgentClock:
    agent: str
    skew_s: float
    reports: int
    last_report_at_ms: int
    off: bool  # the skew is beyond the bound

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
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        self._max_agents = max_agents
        self.max_skew_s = max_skew_s
        self._delays: dict[str, deque[int]] = {}
        self._last: dict[str, int] = {}
        self._off: set[str] = set()

    def observe(self, agent: str, ts_ms: int, received_ms: int) -> None:
        delays = self._delays.get(agent)
        if delays is None:
            if len(self._delays) >= self._max_agents:
                return  # bounded: agents past the limit are not measured
            delays = self._delays[agent] = deque(maxlen=self._window)
        delays.append(received_ms - ts_ms)
        self._last[agent] = received_ms
        skew = self.skew_s(agent)
        assert skew is not None
        clock = AgentClock(agent, skew, len(delays), received_ms, abs(skew) > self.max_skew_s)
        if clock.off and agent not in self._off:
            self._off.add(agent)
            log.warning(
                "%s, beyond the %g s allowed: its samples are refused when ahead or look old "
                "when behind; set the edge box's clock (NTP)",
                clock.problem,
                self.max_skew_s,
            )
        elif not clock.off and agent in self._off:
            self._off.discard(agent)
            log.info("%s, back within the %g s allowed", clock.problem, self.max_skew_s)

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
