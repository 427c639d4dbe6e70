"""Each edge agent's clock skew, from the times of its health reports."""

from __future__ import annotations

import logging
import re

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
    clocks = ClockSkews(window=2, max_skew_s=300, clear_reports=1)
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
        clocks.observe("edge-slow", now, now + 301_000)  # behind: off once it stays so
        assert [c.agent for c in clocks.off()] == []
        clocks.observe("edge-slow", now + 60_000, now + 361_000)  # a minute later, still
        [slow] = clocks.off()
        assert slow.problem == "edge agent 'edge-slow': clock 301 s behind the cloud's"
    logged = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in logged] == [logging.WARNING, logging.INFO, logging.WARNING]
    assert "'edge-fast': clock 400 s ahead of the cloud's, beyond the 300 s" in logged[0][1]
    back = "'edge-fast': clock 0 s behind the cloud's, back within the 240 s allowed for 1 report"
    assert back in logged[1][1]
    assert "'edge-slow'" in logged[2][1]


def skews(clocks: ClockSkews, agent: str, skews_s: list[float], start_ms: int = 0) -> None:
    """Reports of `agent` arriving 10 s apart, each `skew_s` behind the cloud's clock."""
    for i, skew in enumerate(skews_s):
        at = start_ms + i * 10_000
        clocks.observe(agent, at - int(skew * 1000), at)


def test_an_off_clock_is_back_only_after_staying_well_within_the_bound() -> None:
    # window 1: the estimate is the last report, so the hysteresis alone is seen
    clocks = ClockSkews(window=1, max_skew_s=300, clear_fraction=0.8, clear_reports=3)
    skews(clocks, "b01", [-310])  # 310 s ahead: off
    assert [(c.agent, c.off) for c in clocks.take_changes()] == [("b01", True)]
    # hovering at the bound does not flap: within it but above 80 % (240 s)
    skews(clocks, "b01", [-299, -250, -241, -299, -260], start_ms=10_000)
    assert [c.agent for c in clocks.off()] == ["b01"]
    assert clocks.take_changes() == []
    # two reports well within, then one above 80 %: the count starts again
    skews(clocks, "b01", [-10, -5, -250, -1, -2], start_ms=60_000)
    assert [c.agent for c in clocks.off()] == ["b01"] and clocks.take_changes() == []
    skews(clocks, "b01", [0], start_ms=110_000)  # the third in a row within 240 s
    assert clocks.off() == []
    [back] = clocks.take_changes()
    assert (back.agent, back.off, back.skew_s) == ("b01", False, 0.0)
    assert clocks.take_changes() == []  # taken once
    skews(clocks, "b01", [-301], start_ms=120_000)  # off again at once: no delay going off
    assert [(c.off, c.skew_s) for c in clocks.take_changes()] == [(True, -301.0)]


def test_changes_not_written_are_taken_again_unless_a_newer_one_came() -> None:
    clocks = ClockSkews(window=1, max_skew_s=300, clear_reports=1, behind_for_s=0)
    skews(clocks, "a", [400])
    skews(clocks, "b", [-400])
    failed = clocks.take_changes()
    assert [(c.agent, c.off) for c in failed] == [("a", True), ("b", True)]
    skews(clocks, "b", [0], start_ms=10_000)  # b is back before the write is tried again
    clocks.put_back(failed)
    assert sorted((c.agent, c.off) for c in clocks.take_changes()) == [("a", True), ("b", False)]


def test_an_agent_off_before_a_restart_stays_off_until_measured_back_within() -> None:
    clocks = ClockSkews(window=1, max_skew_s=300, clear_reports=2)
    clocks.assume_off(["b01", "b02"])
    assert clocks.off() == []  # not measured yet: the health names nobody
    skews(clocks, "b01", [-600, -600])  # still off: nothing changed, nothing to write
    assert [c.agent for c in clocks.off()] == ["b01"] and clocks.take_changes() == []
    skews(clocks, "b02", [1, 2])
    assert [(c.agent, c.off) for c in clocks.take_changes()] == [("b02", False)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be at least 1, not 0"),
        ({"clear_fraction": 1.5}, "clear_fraction must be in (0, 1], not 1.5"),
        ({"clear_reports": 0}, "clear_reports must be at least 1, not 0"),
        ({"behind_for_s": -1}, "behind_for_s must be at least 0, not -1"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ClockSkews(**kwargs)  # type: ignore[arg-type]


def test_a_backlog_does_not_make_every_clock_look_behind() -> None:
    clocks = ClockSkews(window=1, max_skew_s=300, clear_reports=2, behind_for_s=0)
    now = 1_800_000_000_000
    # the broker held the reports for 320 s while the cloud caught up: no clock is off
    for agent in ("b01", "b02"):
        clocks.observe(agent, now - 320_000, now, backlogged=True)
    assert clocks.off() == [] and clocks.take_changes() == []
    assert [c.skew_s for c in clocks.agents()] == [320.0, 320.0]  # still measured
    # a clock ahead cannot come from a delay: judged even during a backlog
    clocks.observe("b03", now + 400_000, now, backlogged=True)
    assert [(c.agent, c.off) for c in clocks.take_changes()] == [("b03", True)]
    # once the backlog is gone, a clock really behind goes off
    clocks.observe("b01", now - 320_000, now + 1000)
    assert [(c.agent, c.off) for c in clocks.take_changes()] == [("b01", True)]
    # and an off clock's count back within neither grows nor restarts during a backlog
    clocks.observe("b01", now, now)
    clocks.observe("b01", now - 500_000, now, backlogged=True)
    assert [c.agent for c in clocks.off()] == ["b01", "b03"]
    clocks.observe("b01", now, now)  # the second report within in a row
    assert [c.agent for c in clocks.off()] == ["b03"]


def test_reports_left_from_before_a_restart_do_not_make_the_clock_look_behind() -> None:
    """The whole stack stopped for two hours: the agent's buffer still held its last report,
    which arrives first after the restart, 8,035 s late, then the live reports every 10 s."""
    clocks = ClockSkews(max_skew_s=300)
    start = 1_800_000_000_000
    clocks.observe("edge-a", start - 8_035_000, start)
    skews(clocks, "edge-a", [0.05] * 12, start_ms=start + 10_000)
    assert clocks.off() == [] and clocks.take_changes() == []
    assert clocks.skew_s("edge-a") == pytest.approx(0.05)


def test_a_burst_replayed_after_an_outage_does_not_make_the_clock_look_behind() -> None:
    """An hour's reports (one every 10 s) replayed within half a minute of the broker coming
    back, then the live ones."""
    clocks = ClockSkews(max_skew_s=300)
    back = 1_800_000_000_000
    for i in range(360):
        clocks.observe("edge-a", back - 3_600_000 + i * 10_000, back + i * 80)
    skews(clocks, "edge-a", [0.05] * 30, start_ms=back + 30_000)
    assert clocks.off() == [] and clocks.take_changes() == []


def test_a_clock_behind_is_off_once_it_has_looked_behind_for_a_minute() -> None:
    clocks = ClockSkews(window=1, max_skew_s=300)
    skews(clocks, "edge-a", [600] * 6)  # 0 s to 50 s
    assert clocks.off() == [] and clocks.take_changes() == []
    skews(clocks, "edge-a", [10], start_ms=60_000)  # one within: the minute starts again
    skews(clocks, "edge-a", [600] * 6, start_ms=70_000)  # 70 s to 120 s
    assert clocks.off() == []
    skews(clocks, "edge-a", [600], start_ms=130_000)  # a minute since 70 s
    [off] = clocks.take_changes()
    assert (off.agent, off.off, off.skew_s) == ("edge-a", True, 600.0)
