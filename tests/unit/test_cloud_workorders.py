"""Work-order state rules (pure: no database) and the password/token helpers."""

from __future__ import annotations

import pytest

from cloud.enums import Role, WorkOrderStatus
from cloud.errors import CloudError, Conflict, Forbidden, InvalidInput
from cloud.security import hash_password, hash_token, new_token, verify_password
from cloud.workorders import ACTIONS, Action, plan

S = WorkOrderStatus
R = Role


@pytest.mark.parametrize(
    ("action", "status", "role", "target"),
    [
        (Action.ACKNOWLEDGE, S.OPEN, R.TECHNICIAN, S.ACKNOWLEDGED),
        (Action.ACKNOWLEDGE, S.OPEN, R.SUPERVISOR, S.ACKNOWLEDGED),
        (Action.START, S.ACKNOWLEDGED, R.TECHNICIAN, S.IN_PROGRESS),
        (Action.HOLD, S.IN_PROGRESS, R.TECHNICIAN, S.ON_HOLD),
        (Action.RESUME, S.ON_HOLD, R.TECHNICIAN, S.IN_PROGRESS),
        (Action.RESOLVE, S.IN_PROGRESS, R.TECHNICIAN, S.RESOLVED),
        (Action.RESOLVE, S.ACKNOWLEDGED, R.TECHNICIAN, S.RESOLVED),
        (Action.CLOSE, S.RESOLVED, R.SUPERVISOR, S.CLOSED),
        (Action.CANCEL, S.OPEN, R.SUPERVISOR, S.CANCELLED),
        (Action.CANCEL, S.ON_HOLD, R.ADMIN, S.CANCELLED),
    ],
)
def test_allowed_moves(
    action: Action, status: WorkOrderStatus, role: Role, target: WorkOrderStatus
) -> None:
    assert plan(action, status=status, role=role, is_assignee=True, note="why") is target


@pytest.mark.parametrize("status", [s for s in S if s is not S.OPEN])
def test_acknowledge_only_an_open_job(status: WorkOrderStatus) -> None:
    with pytest.raises(Conflict) as err:
        plan(Action.ACKNOWLEDGE, status=status, role=R.TECHNICIAN, is_assignee=False)
    assert err.value.code == "invalid_transition"
    assert f"is {status.value}" in err.value.message


def test_every_action_refuses_finished_jobs() -> None:
    for action in Action:
        for status in (S.CLOSED, S.CANCELLED):
            with pytest.raises(Conflict):
                plan(action, status=status, role=R.ADMIN, is_assignee=True, note="n")


def test_engineers_watch_but_do_not_act() -> None:
    for action in Action:
        with pytest.raises(Forbidden, match="the engineer role may not"):
            plan(action, status=S.OPEN, role=R.ENGINEER, is_assignee=False, note="n")


def test_technicians_work_only_on_their_own_jobs() -> None:
    with pytest.raises(Forbidden) as err:
        plan(Action.START, status=S.ACKNOWLEDGED, role=R.TECHNICIAN, is_assignee=False)
    assert err.value.code == "not_assignee"
    # a supervisor may step in
    assert (
        plan(Action.START, status=S.ACKNOWLEDGED, role=R.SUPERVISOR, is_assignee=False)
        is S.IN_PROGRESS
    )


def test_close_and_cancel_are_for_the_office() -> None:
    with pytest.raises(Forbidden):
        plan(Action.CLOSE, status=S.RESOLVED, role=R.TECHNICIAN, is_assignee=True)
    with pytest.raises(Forbidden):
        plan(Action.CANCEL, status=S.OPEN, role=R.TECHNICIAN, is_assignee=True, note="n")


def test_hold_and_cancel_need_a_reason() -> None:
    for action, status in ((Action.HOLD, S.IN_PROGRESS), (Action.CANCEL, S.OPEN)):
        for note in (None, "", "   "):
            with pytest.raises(InvalidInput, match="note"):
                plan(action, status=status, role=R.SUPERVISOR, is_assignee=True, note=note)


def test_a_job_may_not_be_postponed_twice_by_its_technician() -> None:
    with pytest.raises(Conflict) as err:
        plan(
            Action.HOLD,
            status=S.IN_PROGRESS,
            role=R.TECHNICIAN,
            is_assignee=True,
            holds=1,
            note="parts",
        )
    assert err.value.code == "already_postponed"
    assert (
        plan(
            Action.HOLD,
            status=S.IN_PROGRESS,
            role=R.SUPERVISOR,
            is_assignee=False,
            holds=1,
            note="parts",
        )
        is S.ON_HOLD
    )


def test_a_fault_job_resolves_only_once_the_fault_cleared() -> None:
    with pytest.raises(Conflict) as err:
        plan(
            Action.RESOLVE,
            status=S.IN_PROGRESS,
            role=R.TECHNICIAN,
            is_assignee=True,
            fault_active=True,
        )
    assert err.value.code == "fault_active"


def test_the_table_has_no_way_out_of_finished() -> None:
    for rule in ACTIONS.values():
        assert S.CLOSED not in rule.sources and S.CANCELLED not in rule.sources
    assert all(issubclass(e, CloudError) for e in (Conflict, Forbidden, InvalidInput))


def test_password_hash_round_trip() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("correct horse", "scrypt$bad")
    assert hash_password("correct horse") != stored  # salted
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_tokens_are_random_and_stored_as_hashes() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith("prt_") and len(a) > 40
    assert len(hash_token(a)) == 64 and hash_token(a) != hash_token(b)
    assert hash_token(a) == hash_token(a)
