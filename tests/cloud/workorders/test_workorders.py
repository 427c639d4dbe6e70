"""Work-order state rules and escalation steps (pure: no database) and the password/token
helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.enums import Role, WorkOrderStatus
from cloud.errors import CloudError, Conflict, Forbidden, InvalidInput
from cloud.security import hash_password, hash_token, new_token, verify_password
from cloud.sla.clocks import Clocks, escalation_step
from cloud.workorders.rules import ACTIONS, Action, moves_in_progress, plan, plan_postpone

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


def test_a_technician_holds_a_job_once() -> None:
    with pytest.raises(Conflict) as err:
        plan(
            Action.HOLD,
            status=S.IN_PROGRESS,
            role=R.TECHNICIAN,
            is_assignee=True,
            holds=1,
            note="parts",
        )
    assert err.value.code == "already_held"
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


def test_what_may_open_or_end_a_maintenance_window() -> None:
    """A PM job's window follows it into and out of progress: only those moves wake the
    maintenance loop, so an acknowledgement or a close costs it nothing."""
    moving = {a for a in Action if moves_in_progress(a)}
    assert moving == {Action.START, Action.HOLD, Action.RESUME, Action.RESOLVE, Action.CANCEL}


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


def test_resolving_needs_a_note_of_what_was_done() -> None:
    for note in (None, " "):
        with pytest.raises(InvalidInput, match="note"):
            plan(
                Action.RESOLVE, status=S.IN_PROGRESS, role=R.TECHNICIAN, is_assignee=True, note=note
            )
    assert (
        plan(Action.RESOLVE, status=S.IN_PROGRESS, role=R.TECHNICIAN, is_assignee=True, note="ok")
        is S.RESOLVED
    )


def test_an_assigned_job_is_acknowledged_by_its_assignee_or_a_supervisor() -> None:
    with pytest.raises(Forbidden) as err:
        plan(Action.ACKNOWLEDGE, status=S.OPEN, role=R.TECHNICIAN, is_assignee=False, assigned=True)
    assert err.value.code == "not_assignee"
    for role, mine in ((R.TECHNICIAN, True), (R.SUPERVISOR, False)):
        assert (
            plan(Action.ACKNOWLEDGE, status=S.OPEN, role=role, is_assignee=mine, assigned=True)
            is S.ACKNOWLEDGED
        )
    # nobody owns it yet: the first responder takes it
    assert plan(Action.ACKNOWLEDGE, status=S.OPEN, role=R.TECHNICIAN, is_assignee=False) is (
        S.ACKNOWLEDGED
    )


def test_closing_waits_for_verification_and_the_checklist() -> None:
    with pytest.raises(Conflict) as err:
        plan(Action.CLOSE, status=S.RESOLVED, role=R.SUPERVISOR, is_assignee=False, verified=False)
    assert err.value.code == "not_verified"
    for action, status in ((Action.CLOSE, S.RESOLVED), (Action.RESOLVE, S.IN_PROGRESS)):
        with pytest.raises(Conflict) as err:
            plan(
                action,
                status=status,
                role=R.SUPERVISOR,
                is_assignee=True,
                checklist_done=False,
                note="done",
            )
        assert err.value.code == "checklist_incomplete"


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def postpone(**kw: object) -> None:
    args: dict[str, object] = {
        "status": S.IN_PROGRESS,
        "role": R.TECHNICIAN,
        "is_assignee": True,
        "postponements": 0,
        "current": T0 + timedelta(days=2),
        "until": T0 + timedelta(days=4),
        "latest": T0 + timedelta(days=7),
        "note": "seal kit on order",
    }
    plan_postpone(**(args | kw))  # type: ignore[arg-type]


def test_a_job_may_be_postponed_once_and_never_twice() -> None:
    postpone()
    postpone(role=R.SUPERVISOR, is_assignee=False)
    with pytest.raises(Conflict) as err:
        postpone(postponements=1)
    assert err.value.code == "already_postponed"
    with pytest.raises(Conflict):  # not even by a supervisor
        postpone(postponements=1, role=R.SUPERVISOR)


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"note": " "}, InvalidInput, "note"),
        ({"until": T0 + timedelta(days=1)}, InvalidInput, "not later than"),
        ({"until": T0 + timedelta(days=7, seconds=1)}, InvalidInput, "more than a week"),
        ({"is_assignee": False}, Forbidden, "owns"),
        ({"role": R.ENGINEER}, Forbidden, "engineer role"),
        ({"status": S.RESOLVED}, Conflict, "resolved"),
    ],
)
def test_what_a_postponement_needs(
    change: dict[str, object], error: type[CloudError], text: str
) -> None:
    with pytest.raises(error, match=text):
        postpone(**change)


def clocks(
    ack: tuple[int | None, int | None] = (3, None),
    site: tuple[int | None, int | None] = (None, None),
    done: tuple[int | None, int | None] = (240, None),
) -> Clocks:
    """Clocks from minutes after T0: (due, stopped)."""

    def at(m: int | None) -> datetime | None:
        return None if m is None else T0 + timedelta(minutes=m)

    return Clocks(
        acknowledge=(at(ack[0]), at(ack[1])),
        on_site=(at(site[0]), at(site[1])),
        complete=(at(done[0]), at(done[1])),
    )


def step(c: Clocks, minute: float, clock: str | None = None, stage: int = 0) -> object:
    return escalation_step(
        c,
        now=T0 + timedelta(minutes=minute),
        every=timedelta(minutes=5),
        stages=3,
        current_clock=clock,
        current_stage=stage,
    )


def test_escalation_stages_come_every_interval_after_the_due_time() -> None:
    c = clocks()
    assert step(c, 2.9) is None
    assert step(c, 3) == ("acknowledge", [1])
    assert step(c, 7.9, "acknowledge", 1) is None
    assert step(c, 8, "acknowledge", 1) == ("acknowledge", [2])
    assert step(c, 13, "acknowledge", 2) == ("acknowledge", [3])
    assert step(c, 60, "acknowledge", 3) is None  # the last stage fires once
    assert step(c, 14) == ("acknowledge", [1, 2, 3])  # a ticker that was down catches up


def test_a_stopped_clock_hands_over_to_the_next() -> None:
    acked = clocks(ack=(3, 2), site=(15, None))
    assert step(acked, 14, "acknowledge", 3) is None
    assert step(acked, 15, "acknowledge", 3) == ("on_site", [1])
    started = clocks(ack=(3, 2), site=(15, 10))
    assert step(started, 239) is None
    assert step(started, 245, "on_site", 1) == ("complete", [1, 2])
    assert step(clocks(ack=(3, 2), done=(240, 200)), 300) is None
