"""The fence in the monitor's transactions (SQLite, no broker): a batch commits only while the
site's lease is still the process's under its epoch; once another took the site over, the old
holder's batch commits nothing and the new holder resumes from what was committed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.cluster import leases
from cloud.cluster.leases import LeaseLost
from cloud.enums import AlarmState
from cloud.monitor import Monitor
from cloud.workorders.model import WorkOrder
from tests.cloud.rig import Rig

TTL = timedelta(seconds=15)


def holding(rig: Rig, process: str, monitor: Monitor, *, later: int = 0) -> int:
    """`process` takes the site's lease `later` lease lifetimes from now (when the last
    holder's has run out) and fences `monitor` with it; the new epoch."""
    with rig.db.session() as s:
        now = leases.db_now(s)
        leases.ensure_sites(s, ["s1"], now=now)
        epoch = leases.acquire(s, "s1", process, now=now + later * TTL, ttl=TTL)
    assert epoch is not None

    def fence(session: Session) -> None:
        leases.fence(session, "s1", process, epoch)

    monitor.fence = fence
    return epoch


def active(rig: Rig) -> list[str]:
    return [a.rule_id for a in rig.alarm_list() if a.state is AlarmState.ACTIVE]


def test_a_fenced_off_holder_commits_nothing_and_the_new_one_resumes(rig: Rig) -> None:
    old = rig.monitor
    assert holding(rig, "a", old) == 1
    rig.send(rig.item("p1", {"dry_run": True}))
    assert active(rig) == ["pump.dry_run"] and rig.count(WorkOrder) == 1

    new = rig.new_monitor()
    assert holding(rig, "b", new, later=2) == 2
    # the old holder's next batch (the fault clearing) is refused whole
    with pytest.raises(LeaseLost):
        old.process([rig.item("p1", {"dry_run": False})])
    assert active(rig) == ["pump.dry_run"]
    with pytest.raises(LeaseLost):
        old.flush()  # nor does its rule state get saved over the new holder's

    # the new holder resumes from the database: the same fault is not raised twice, its
    # clearing clears the one alarm
    rig.monitor = new
    new.load()
    rig.send(rig.item("p1", {"dry_run": True}))
    assert rig.count(WorkOrder) == 1 and rig.count(Alarm) == 1
    rig.send(rig.item("p1", {"dry_run": False}))
    assert active(rig) == []
