"""The shipped service levels and what a bad sla.yaml is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.enums import Priority
from cloud.sla import Stage, load_sla
from plantroom.errors import ConfigError

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_the_shipped_levels_follow_the_service_standards() -> None:
    sla = load_sla()
    assert sla.dispatch == 180  # the three-minute commitment
    emergency = sla.due(Priority.EMERGENCY, T0)
    assert emergency.respond - T0 == timedelta(minutes=3)  # at once
    assert emergency.on_site is not None and emergency.on_site - T0 == timedelta(minutes=15)
    normal = sla.due(Priority.NORMAL, T0)
    assert normal.respond - T0 == timedelta(hours=2)  # general issues: answered in 2 h
    assert normal.on_site is None
    assert normal.resolve - T0 == timedelta(days=2)  # completion in 1-2 days
    assert sla.due(Priority.LOW, T0).resolve - T0 <= timedelta(days=7)  # never over a week
    assert sla.latest_promise(T0) == T0 + timedelta(days=7)
    assert sla.escalation == (Stage.BACKUP, Stage.SUPERVISOR, Stage.MANAGER)
    assert sla.targets.sla_compliance_pct == 99 and sla.targets.follow_up_pct == 30


GOOD = """
priorities:
  emergency: {respond: 3m, resolve: 4h, escalate_every: 5m}
  urgent: {respond: 30m, resolve: 1d, escalate_every: 15m}
  normal: {respond: 2h, resolve: 2d, escalate_every: 1h}
  low: {respond: 2h, resolve: 7d, escalate_every: 4h}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("  low: {respond: 2h, resolve: 7d, escalate_every: 4h}\n", ""),
            "no target for priority low",
        ),
        (("resolve: 7d", "resolve: 8d"), "later than `max_promise`"),
        (("{respond: 3m,", "{respond: 3m, on_site: 5h,"), "`on_site` must come between"),
        (("escalate_every: 5m", "escalate_every: 0s"), "more than zero"),
        (("respond: 2h, resolve: 2d", "respond: 2h, resolve: 1h"), "must not come before"),
        (("priorities:", "verification: soon\npriorities:"), "verification"),
        (("priorities:", "escalation: [assignee, assignee]\npriorities:"), "distinct stages"),
    ],
)
def test_a_bad_sla_file_is_refused_with_a_reason(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_sla(path)


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD, encoding="utf-8")
    sla = load_sla(path)
    assert (sla.dispatch, sla.verification, sla.reopen_within) == (180, 900, 7 * 86400)
