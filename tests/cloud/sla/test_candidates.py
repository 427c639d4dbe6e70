"""What the SLA ticker reads at each tick: a late job drops out once every stage has fired on
its clock and comes back when the next clock is due, so a job nobody can escalate further
never takes the place of one still to be escalated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from cloud.sla import candidates
from cloud.sla.escalator import Escalator
from tests.cloud.harness import Api, serve, settings_for

MIN = 60.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(
        settings_for(tmp_path), users={"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR}
    ) as a:
        yield a


def late(api: Api) -> list[int]:
    with api.db.sessions() as session:
        return candidates.late_jobs(session, api.clock(), len(api.state.sla.escalation), 500)


async def test_a_job_every_stage_has_fired_on_is_read_again_only_when_its_next_clock_is_due(
    api: Api,
) -> None:
    t = Escalator(api.db, api.state.sla, clock=api.clock)
    api.fault("p1", "pump.dry_run")  # urgent: respond 30 min, on site 2 h, every 15 min
    t.tick()
    assert late(api) == []  # told, nothing due
    api.clock.advance(30 * MIN)
    assert late(api) == [1]
    for _ in range(3):  # backup, supervisor, manager
        assert t.tick().escalated == 1
        assert late(api) == ([1] if _ < 2 else [])
        api.clock.advance(15 * MIN)
    assert late(api) == []  # on site by 2 h: not yet
    api.clock.advance(45 * MIN)
    assert late(api) == [1]  # the on-site clock is due while the first still runs
    assert t.tick().escalated == 0  # the first clock still runs: nothing more to fire
    r = await api.post("/api/work-orders/1/acknowledge", who="tech1")
    assert r.status_code == 200, r.text
    assert late(api) == [1]
    assert t.tick().escalated == 1  # the on-site clock's first stage
    await api.post("/api/work-orders/1/start", who="tech1")
    assert late(api) == []  # on site: due again at the promised completion


async def test_a_job_escalated_to_the_end_leaves_the_batch_to_the_next_late_one(api: Api) -> None:
    t = Escalator(api.db, api.state.sla, clock=api.clock, batch=1)
    api.fault("p1", "pump.dry_run")
    t.tick()
    api.clock.advance(30 * MIN)
    for _ in range(3):
        assert t.tick().escalated == 1
        api.clock.advance(15 * MIN)
    api.fault("p2", "pump.dry_run")  # the older job, at its last stage, comes first by id
    assert t.tick().dispatched == 1
    api.clock.advance(30 * MIN)
    assert t.tick().escalated == 1
    with api.db.sessions() as session:
        assert candidates.late_jobs(session, api.clock(), 3, 1) == [2]
