"""What a contractor may do to a job (pure: no database): work it as a technician does, on
the jobs they own; closing, cancelling, assigning and follow-up visits stay in-house."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.enums import Role, WorkOrderStatus
from cloud.errors import Conflict, Forbidden
from cloud.workorders.rules import (
    Action,
    may_assign,
    may_follow_up,
    plan,
    plan_postpone,
    plan_tick,
)

S = WorkOrderStatus
CONTRACTOR = Role.CONTRACTOR


@pytest.mark.parametrize(
    ("action", "status", "target"),
    [
        (Action.ACKNOWLEDGE, S.OPEN, S.ACKNOWLEDGED),
        (Action.START, S.ACKNOWLEDGED, S.IN_PROGRESS),
        (Action.HOLD, S.IN_PROGRESS, S.ON_HOLD),
        (Action.RESUME, S.ON_HOLD, S.IN_PROGRESS),
        (Action.RESOLVE, S.IN_PROGRESS, S.RESOLVED),
    ],
)
def test_a_contractor_works_the_jobs_they_own(
    action: Action, status: WorkOrderStatus, target: WorkOrderStatus
) -> None:
    assert plan(action, status=status, role=CONTRACTOR, is_assignee=True, note="why") is target


def test_a_contractor_does_not_work_a_job_someone_else_owns() -> None:
    with pytest.raises(Forbidden) as err:
        plan(Action.START, status=S.ACKNOWLEDGED, role=CONTRACTOR, is_assignee=False)
    assert err.value.code == "not_assignee" and "contractor" in err.value.message
    with pytest.raises(Forbidden) as err:
        plan(Action.ACKNOWLEDGE, status=S.OPEN, role=CONTRACTOR, is_assignee=False, assigned=True)
    assert err.value.code == "not_assignee"
    with pytest.raises(Forbidden):
        plan_tick("WO-000001", status=S.IN_PROGRESS, role=CONTRACTOR, is_assignee=False)
    plan_tick("WO-000001", status=S.IN_PROGRESS, role=CONTRACTOR, is_assignee=True)


def test_a_contractor_holds_once_and_resolves_only_signed_off() -> None:
    with pytest.raises(Conflict) as err:
        plan(
            Action.HOLD, status=S.IN_PROGRESS, role=CONTRACTOR, is_assignee=True, holds=1, note="x"
        )
    assert err.value.code == "already_held"
    with pytest.raises(Conflict) as err:
        plan(
            Action.RESOLVE,
            status=S.IN_PROGRESS,
            role=CONTRACTOR,
            is_assignee=True,
            note="done",
            signed=False,
        )
    assert err.value.code == "sign_off_missing"


def test_the_office_keeps_closing_cancelling_assigning_and_follow_ups() -> None:
    for action, status in ((Action.CLOSE, S.RESOLVED), (Action.CANCEL, S.OPEN)):
        with pytest.raises(Forbidden, match="the contractor role may not"):
            plan(action, status=status, role=CONTRACTOR, is_assignee=True, note="n")
    with pytest.raises(Forbidden):
        may_assign(CONTRACTOR)
    with pytest.raises(Forbidden):
        may_follow_up(CONTRACTOR, "visited")


def test_a_contractor_postpones_their_own_job_once() -> None:
    now = datetime(2026, 3, 2, tzinfo=UTC)

    def postpone(*, is_assignee: bool, postponements: int) -> None:
        plan_postpone(
            status=S.IN_PROGRESS,
            role=CONTRACTOR,
            is_assignee=is_assignee,
            postponements=postponements,
            current=now,
            until=now + timedelta(days=1),
            latest=now + timedelta(days=7),
            note="parts on order",
        )

    postpone(is_assignee=True, postponements=0)
    with pytest.raises(Forbidden):
        postpone(is_assignee=False, postponements=0)
    with pytest.raises(Conflict):
        postpone(is_assignee=True, postponements=1)
