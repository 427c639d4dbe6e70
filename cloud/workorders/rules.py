"""The rules of a work order's life, as data (`ACTIONS`) checked by pure functions: which
status may go to which, by whom. No database: each takes the facts it needs.

The life: open → acknowledged → in progress → on hold → resolved → closed, or cancelled.
- acknowledging takes ownership: the caller becomes the assignee (first responder owns it);
  a job a supervisor assigned is acknowledged by its assignee (or a supervisor);
- a technician works only on jobs assigned to them; supervisors and admins on any;
- a contractor works as a technician does, on their own team's jobs (the API shows them no
  other); closing, cancelling, assigning and follow-up visits stay in-house;
- a job may be put on hold once by its technician; only a supervisor may hold it again;
- a promised completion may be postponed once, never twice, and never past `max_promise`;
- a fault job resolves only once telemetry shows the fault cleared, and closes only once it
  stayed cleared for the verification window (the ticker closes it then by itself);
- a PM job resolves only with its checklist done, and closes with it;
- the same fault again within `reopen_within` of its fix reopens the job (not a new one);
- closing (the reporter's confirmation) and cancelling are for supervisors and admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cloud.enums import AlarmState, Role, WorkOrderKind, WorkOrderStatus
from cloud.errors import Conflict, Forbidden, InvalidInput

if TYPE_CHECKING:
    from cloud.sla import SlaPolicy
    from cloud.workorders.model import WorkOrder

S = WorkOrderStatus
SYSTEM_ACTOR = "system"
REPAIRS = frozenset({WorkOrderKind.FAULT, WorkOrderKind.REQUEST})
LIVE = frozenset({S.OPEN, S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD})


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class ActionRule:
    sources: frozenset[WorkOrderStatus]
    target: WorkOrderStatus
    roles: frozenset[Role]
    assignee_only: bool  # technicians must own the job; supervisors and admins need not
    note_required: bool = False


FIELD = frozenset({Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN})
OFFICE = frozenset({Role.SUPERVISOR, Role.ADMIN})
# Who works on jobs: the field staff and contractors (on their own team's jobs).
WORKERS = FIELD | {Role.CONTRACTOR}
# Who works only on the jobs they own (acknowledged, or were assigned).
OWNERS_ONLY = frozenset({Role.TECHNICIAN, Role.CONTRACTOR})

ACTIONS: dict[Action, ActionRule] = {
    Action.ACKNOWLEDGE: ActionRule(frozenset({S.OPEN}), S.ACKNOWLEDGED, WORKERS, False),
    Action.START: ActionRule(frozenset({S.ACKNOWLEDGED}), S.IN_PROGRESS, WORKERS, True),
    Action.HOLD: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.ON_HOLD, WORKERS, True, note_required=True
    ),
    Action.RESUME: ActionRule(frozenset({S.ON_HOLD}), S.IN_PROGRESS, WORKERS, True),
    Action.RESOLVE: ActionRule(
        frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS}), S.RESOLVED, WORKERS, True, note_required=True
    ),
    Action.CLOSE: ActionRule(frozenset({S.RESOLVED}), S.CLOSED, OFFICE, False),
    Action.CANCEL: ActionRule(LIVE, S.CANCELLED, OFFICE, False, note_required=True),
}


def moves_in_progress(action: Action) -> bool:
    """Whether `action` may take a job into or out of progress (and so open or end a PM
    job's maintenance window); an acknowledgement or a close never does."""
    rule = ACTIONS[action]
    return S.IN_PROGRESS in rule.sources or rule.target is S.IN_PROGRESS


def _roles(roles: frozenset[Role]) -> str:
    return ", ".join(sorted(r.value for r in roles))


def plan(
    action: Action,
    *,
    status: WorkOrderStatus,
    role: Role,
    is_assignee: bool,
    assigned: bool = False,
    holds: int = 0,
    fault_active: bool = False,
    verified: bool = True,
    checklist_done: bool = True,
    note: str | None = None,
    missing: Sequence[tuple[int, str]] = (),
    signed: bool = True,
) -> WorkOrderStatus:
    """The status `action` leads to, or the error that forbids it. Pure: no database.

    `assigned`: the job has an assignee (a technician acknowledging someone else's job is
    refused); `verified`: a fault job's fault stayed cleared for the verification window;
    `checklist_done`: a PM job's checklist is complete (else `missing` lists the steps not
    answered, by position and text); `signed`: signed off, or no sign-off required."""
    rule = ACTIONS[action]
    if role not in rule.roles:
        raise Forbidden(
            f"the {role.value} role may not {action.value} a work order "
            f"(allowed: {_roles(rule.roles)})"
        )
    if status not in rule.sources:
        sources = ", ".join(sorted(s.value for s in rule.sources))
        raise Conflict(
            f"cannot {action.value} a work order that is {status.value} (only when {sources})",
            code="invalid_transition",
        )
    if role in OWNERS_ONLY and not is_assignee:
        if rule.assignee_only:
            raise Forbidden(
                f"only the {role.value} who owns this work order may {action.value} it",
                code="not_assignee",
            )
        if action is Action.ACKNOWLEDGE and assigned:
            raise Forbidden(
                "this work order is assigned to another technician; only they or a supervisor "
                "may acknowledge it",
                code="not_assignee",
            )
    if action is Action.HOLD and holds >= 1 and role in OWNERS_ONLY:
        raise Conflict(
            "this work order was already put on hold once; only a supervisor may hold it again",
            code="already_held",
        )
    if action is Action.RESOLVE and fault_active:
        raise Conflict(
            "the fault is still active; a fault work order resolves only once telemetry shows "
            "it cleared",
            code="fault_active",
        )
    if action is Action.CLOSE and not verified:
        raise Conflict(
            "the fault has not yet stayed cleared for the verification window; the work order "
            "closes by itself once it has",
            code="not_verified",
        )
    if action in (Action.RESOLVE, Action.CLOSE) and not checklist_done:
        listed = "; ".join(f"{i + 1}. {text}" for i, text in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise Conflict(
            f"the checklist is not done; a PM work order may {action.value} only with every "
            f"item checked" + (f". Not answered: {listed}{more}" if missing else ""),
            code="checklist_incomplete",
            details=[{"step": i, "item": text} for i, text in missing] or None,
        )
    if action is Action.RESOLVE and not signed:
        raise Conflict(
            "this job must be signed off before it is resolved: a signature with the signer's name",
            code="sign_off_missing",
        )
    if rule.note_required and not (note and note.strip()):
        raise InvalidInput(f"a note saying why is required to {action.value} a work order")
    return rule.target


def plan_postpone(
    *,
    status: WorkOrderStatus,
    role: Role,
    is_assignee: bool,
    postponements: int,
    current: datetime | None,
    until: datetime,
    latest: datetime,
    note: str | None,
) -> None:
    """Whether the promised completion may move from `current` to `until`. Pure."""
    if role not in WORKERS:
        raise Forbidden(
            f"the {role.value} role may not postpone a work order (allowed: {_roles(WORKERS)})"
        )
    if status not in LIVE:
        raise Conflict(
            f"cannot postpone a work order that is {status.value}", code="invalid_transition"
        )
    if role in OWNERS_ONLY and not is_assignee:
        raise Forbidden(
            f"only the {role.value} who owns this work order may postpone it", code="not_assignee"
        )
    if postponements >= 1:
        raise Conflict(
            "this work order was already postponed once; the same job may not be postponed twice",
            code="already_postponed",
        )
    if not (note and note.strip()):
        raise InvalidInput("a note saying why is required to postpone a work order")
    if current is not None and until <= current:
        raise InvalidInput(
            f"until: {until.isoformat()} is not later than the promised completion "
            f"{current.isoformat()}"
        )
    if until > latest:
        raise InvalidInput(
            f"until: {until.isoformat()} is later than {latest.isoformat()}; a completion is "
            "never promised more than a week after the job was raised"
        )


def checklist_items(checklist: Any) -> list[dict[str, Any]] | None:
    """The items of a stored checklist (`[{"item", "done", "by", "at"}]`), or None when it has
    none."""
    items = [entry for entry in checklist or [] if isinstance(entry, dict)]
    return items or None


def checklist_of(wo: WorkOrder) -> list[dict[str, Any]] | None:
    """The job's checklist (from its PM plan), or None when it has none."""
    return checklist_items(wo.checklist)


def checklist_done(wo: WorkOrder) -> bool:
    """True when the job has no checklist or every item is done."""
    items = checklist_of(wo)
    return items is None or all(bool(entry.get("done")) for entry in items)


def missing_steps(wo: WorkOrder) -> list[tuple[int, str]]:
    """The steps of the job's checklist not yet answered: position (from 0) and text."""
    return [
        (i, str(entry.get("item") or f"item {i + 1}"))
        for i, entry in enumerate(checklist_of(wo) or [])
        if not entry.get("done")
    ]


def is_verified(wo: WorkOrder, now: datetime, sla: SlaPolicy) -> bool:
    """A fault job is verified once its alarm cleared and stayed cleared for the window. A
    job without an alarm has nothing to verify."""
    if wo.kind is not WorkOrderKind.FAULT or wo.alarm is None:
        return True
    alarm = wo.alarm
    if alarm.state is not AlarmState.CLEARED or alarm.cleared_at is None:
        return False
    return alarm.cleared_at + timedelta(seconds=sla.verification) <= now


def fault_key(equipment_id: str, rule_id: str) -> str:
    return f"{equipment_id}:{rule_id}"


def clock_stopped(wo: WorkOrder, clock: str) -> bool:
    """Whether the escalation `clock` (acknowledge, on_site or complete) no longer runs."""
    stops = {
        "acknowledge": wo.acknowledged_at,
        "on_site": wo.started_at,
        "complete": wo.resolved_at,
    }
    return wo.status not in LIVE or stops.get(clock) is not None


def may_assign(role: Role) -> None:
    """Whether `role` may give jobs to people."""
    if role not in OFFICE:
        raise Forbidden(
            f"the {role.value} role may not assign work orders (allowed: {_roles(OFFICE)})"
        )


def plan_assign(status: WorkOrderStatus) -> None:
    """Whether a job in `status` may be given to someone."""
    if status not in LIVE:
        raise Conflict(
            f"cannot assign a work order that is {status.value}", code="invalid_transition"
        )


def may_follow_up(role: Role, note: str | None) -> None:
    """Whether `role` may record a follow-up visit, with `note` saying what it found."""
    if role not in FIELD:
        raise Forbidden(
            f"the {role.value} role may not record follow-up visits (allowed: {_roles(FIELD)})"
        )
    if not (note and note.strip()):
        raise InvalidInput("a note saying what the follow-up found is required")


def plan_follow_up(number: str, kind: WorkOrderKind, status: WorkOrderStatus) -> None:
    """Whether job `number` may have a follow-up visit: a repair, once resolved or closed."""
    if kind not in REPAIRS:
        raise Conflict(
            f"follow-up visits are for repairs; {number} is a {kind.value} work order",
            code="not_a_repair",
        )
    if status not in (S.RESOLVED, S.CLOSED):
        raise Conflict(
            f"a follow-up visit comes after the repair; {number} is {status.value}",
            code="invalid_transition",
        )


def plan_tick(number: str, *, status: WorkOrderStatus, role: Role, is_assignee: bool) -> None:
    """Whether `role` may tick the checklist of job `number` in `status`."""
    if role not in WORKERS:
        raise Forbidden(
            f"the {role.value} role may not tick checklists (allowed: {_roles(WORKERS)})"
        )
    if status not in (S.ACKNOWLEDGED, S.IN_PROGRESS, S.ON_HOLD):
        raise Conflict(
            f"the checklist is ticked while the work is under way; {number} is {status.value}",
            code="invalid_transition",
        )
    if role in OWNERS_ONLY and not is_assignee:
        raise Forbidden(
            f"only the {role.value} who owns this work order may tick its checklist",
            code="not_assignee",
        )
