"""Each edge agent's clock skew, from the times of its health reports."""

from __future__ import annotations

import logging

import pytest

from cloud.clockskew import ClockSkews


def test_skew_is_the_lower_quartile_so_replays_and_one_odd_report_do_not_move_it() -> None:
    clocks = ClockSkews(window=8)
    now = 1_800_000_000_000
    # the agent's clock is 120 s ahead, delivery takes 40-60 ms
    for i, delay in enumerate([40, 50, 60, 45, 55, 40]):
        at = now + i * 10_000
        clocks.observe("edge-1", at + 120_000 - delay, at)
    assert clocks.skew_s("edge-1") == pytest.approx(-119.96)
    # a backlog replayed after a 10-minute outage arrives late; the estimate stays
    clocks.observe("edge-1", now - 600_000 + 120_000, now + 70_000)
    clocks.observe("edge-1", now - 590_000 + 120_000, now + 70_010)
    assert clocks.skew_s("edge-1") == pytest.approx(-119.96)
    [agent] = clocks.agents()
    assert (agent.agent, agent.reports, agent.last_report_at_ms) == ("edge-1", 8, now + 70_010)


def test_the_window_forgets_an_old_clock() -> None:
    clocks = ClockSkews(window=4)
    for i in range(4):
        clocks.observe("edge-1", 1000 + i, 2000 + i)  # behind by 1 s
    for i in range(4):
        clocks.observe("edge-1", 5000 + i, 5000 + i)  # corrected
    assert clocks.skew_s("edge-1") == 0.0
    assert clocks.skew_s("edge-2") is None


def test_the_number_of_agents_is_bounded() -> None:
    clocks = ClockSkews(window=2, max_agents=2)
    for name in ("a", "b", "c"):
        clocks.observe(name, 0, 1000)
    assert [a.agent for a in clocks.agents()] == ["a", "b"]


def test_an_agent_beyond_the_bound_is_off_logged_once_and_back_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clocks = ClockSkews(window=2, max_skew_s=300)
    now = 1_800_000_000_000
    with caplog.at_level(logging.INFO, logger="cloud.clockskew"):
        clocks.observe("edge-1", now + 200_000, now)  # 200 s ahead: within
        clocks.observe("edge-fast", now + 400_000, now)  # 400 s ahead
        clocks.observe("edge-fast", now + 410_000, now + 10_000)
        assert [(c.agent, c.off) for c in clocks.agents()] == [
            ("edge-1", False),
            ("edge-fast", True),
        ]
        [off] = clocks.off()
        assert off.problem == "edge agent 'edge-fast': clock 400 s ahead of the cloud's"
        for i in range(2):  # corrected by NTP
            clocks.observe("edge-fast", now + 20_000 + i, now + 20_000 + i)
        assert clocks.off() == []
        clocks.observe("edge-slow", now, now + 301_000)  # behind
        [slow] = clocks.off()
        assert slow.problem == "edge agent 'edge-slow': clock 301 s behind the cloud's"
    logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in logged] == [logging.WARNING, logging.INFO, logging.WARNING]
    assert "'edge-fast': clock 400 s ahead of the cloud's, beyond the 300 s" in logged[0][1]
    assert "'edge-fast': clock 0 s behind the cloud's, back within the 300 s" in logged[1][1]
    assert "'edge-slow'" in logged[2][1]
