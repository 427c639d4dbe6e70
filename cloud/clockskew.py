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
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

WINDOW = 30
MAX_AGENTS = 10_000


@dataclass(frozen=True, slots=True)
class AgentClock:
    agent: str
    skew_s: float
    reports: int
    last_report_at_ms: int


class ClockSkews:
    """Per edge agent, the last `window` values of `receive time - sample time`."""

    def __init__(self, window: int = WINDOW, max_agents: int = MAX_AGENTS) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        self._max_agents = max_agents
        self._delays: dict[str, deque[int]] = {}
        self._last: dict[str, int] = {}

    def observe(self, agent: str, ts_ms: int, received_ms: int) -> None:
        delays = self._delays.get(agent)
        if delays is None:
            if len(self._delays) >= self._max_agents:
                return  # bounded: agents past the limit are not measured
            delays = self._delays[agent] = deque(maxlen=self._window)
        delays.append(received_ms - ts_ms)
        self._last[agent] = received_ms

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
            out.append(AgentClock(agent, skew, len(self._delays[agent]), self._last[agent]))
        return out
