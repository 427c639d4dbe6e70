"""Working a job's checklist step by step: pass, fail or not applicable, a reading where the
step asks for one, a note. An out-of-limit reading is flagged; where the plan says
`follow_up: true` it raises a follow-up job linked to this one (once per step).

A step as the work order keeps it (the JSON `checklist` column):

    {"item": "Brake shoe clearance", "done": true, "by": "tech1", "at": "2026-…",
     "reading": {"unit": "mm", "min": 0.1, "max": 0.7, "follow_up": true},
     "result": "fail", "value": 0.9, "unit": "mm", "out_of_limits": true,
     "note": "worn lining", "follow_up_job": "WO-000043"}
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from cloud.enums import Channel, Priority, WorkOrderKind
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.locale import N_
from cloud.locale.composed import Composed, Label, compose, labelled, paragraphs
from cloud.pm.steps import Reading
from cloud.sla import SlaPolicy
from cloud.users.model import User
from cloud.workorders import creation
from cloud.workorders.commands import _opening
from cloud.workorders.model import WorkOrder
from cloud.workorders.rules import checklist_of, plan_tick


def working_checklist(wo: WorkOrder, index: int, user: User) -> list[dict[str, Any]]:
    """The job's checklist (a copy to change), if `user` may work item `index` of it now."""
    items = checklist_of(wo)
    if items is None:
        raise Conflict(f"work order {wo.number} has no checklist", code="no_checklist")
    if not 0 <= index < len(items):
        raise NotFound(f"work order {wo.number} has no checklist item {index}")
    plan_tick(wo.number, status=wo.status, role=user.role, is_assignee=wo.assignee_id == user.id)
    return list(items)


def check_item(
    session: Session,
    work_order_id: int,
    index: int,
    *,
    done: bool,
    user: User,
    now: datetime,
    channel: Channel = Channel.API,
    note: str | None = None,
) -> WorkOrder:
    """Tick (or untick) item `index` (from 0) of a PM job's checklist."""
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        items = working_checklist(wo, index, user)
        entry = dict(items[index])
        if done and entry.get("reading"):
            raise Conflict(
                f"item {index} of {wo.number} asks for a reading; answer it with its value "
                f"(POST /api/work-orders/{wo.number}/steps/{index})",
                code="reading_required",
            )
        entry["done"] = done
        entry["by"] = user.username if done else None
        entry["at"] = now.isoformat() if done else None
        items[index] = entry
        wo.checklist = items  # a new list: the JSON column is saved
        label = str(entry.get("item") or entry.get("text") or f"item {index}")
        change.record(
            "check" if done else "uncheck",
            note=note or labelled(label),
            details={"index": index, "item": label, "done": done},
        )
    return wo


class StepResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "na"


# each answer as the trail writes it
RESULTS = {
    StepResult.PASS: N_("pass"),
    StepResult.FAIL: N_("fail"),
    StepResult.NOT_APPLICABLE: N_("not applicable"),
}


def reading_of(entry: dict[str, Any]) -> Reading | None:
    """The reading a stored step asks for, if any."""
    spec = entry.get("reading")
    return Reading.model_validate(spec) if isinstance(spec, dict) else None


def answer(
    entry: dict[str, Any],
    position: int,
    *,
    result: StepResult,
    value: float | None,
    unit: str | None,
    note: str | None,
) -> dict[str, Any]:
    """The step answered (a new dict), or InvalidInput naming what is missing or wrong. Pure."""
    label = f"step {position + 1} ({entry.get('item')!s:.80})"
    reading = reading_of(entry)
    note = note.strip() if note and note.strip() else None
    if result is StepResult.FAIL and note is None:
        raise InvalidInput(f"note: {label} failed; a note saying what is wrong is required")
    if reading is None and value is not None:
        raise InvalidInput(f"value: {label} asks for no reading")
    if reading is not None and value is None and result is not StepResult.NOT_APPLICABLE:
        raise InvalidInput(f"value: {label} asks for a reading in {reading.unit}")
    out = dict(entry)
    out.update(result=result.value, note=note, done=True, value=None, out_of_limits=None)
    if reading is not None and value is not None:
        converted = reading.in_unit(value, unit)
        out.update(
            value=converted, unit=reading.unit, out_of_limits=reading.out_of_limits(converted)
        )
    return out


def record_step(
    session: Session,
    work_order_id: int,
    position: int,
    *,
    result: StepResult,
    user: User,
    now: datetime,
    sla: SlaPolicy,
    value: float | None = None,
    unit: str | None = None,
    note: str | None = None,
    channel: Channel = Channel.API,
) -> WorkOrder:
    """Answer step `position` (from 0) of the job's checklist; audited. A reading out of the
    limits of a `follow_up` step raises a follow-up job, once per step."""
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        items = working_checklist(wo, position, user)
        entry = answer(items[position], position, result=result, value=value, unit=unit, note=note)
        entry.update(by=user.username, at=now.isoformat())
        facts = {
            k: entry.get(k) for k in ("item", "result", "value", "unit", "out_of_limits", "note")
        }
        change.record("step", note=_summary(position, entry), details={"step": position, **facts})
        if entry["out_of_limits"] and not entry.get("follow_up_job"):
            reading = reading_of(entry)
            if reading is not None and reading.follow_up:
                child = _follow_up_job(session, wo, entry, reading, user, now, sla, channel)
                entry["follow_up_job"] = child.number
                change.record(
                    "follow_up_raised",
                    note=compose(
                        N_("%(job)s raised: %(item)s out of limits"),
                        job=child.number,
                        item=Label(str(entry["item"])),
                    ),
                    details={"step": position, "work_order": child.number},
                )
        items[position] = entry
        wo.checklist = items  # a new list: the JSON column is saved
    return wo


def _summary(position: int, entry: dict[str, Any]) -> Composed:
    """The step's answer in words, for the audit trail."""
    reading: Composed | str = ""
    if entry.get("value") is not None:
        shape = (
            N_(", %(value)s %(unit)s (out of limits)")
            if entry.get("out_of_limits")
            else N_(", %(value)s %(unit)s")
        )
        reading = compose(shape, value=entry["value"], unit=Label(str(entry["unit"])))
    note = compose(N_(". %(note)s"), note=entry["note"]) if entry.get("note") else ""
    return compose(
        N_("%(position)s. %(item)s: %(result)s%(reading)s%(note)s"),
        position=position + 1,
        item=Label(str(entry["item"])),
        result=Label(RESULTS[StepResult(entry["result"])]),
        reading=reading,
        note=note,
    )


def _follow_up_job(
    session: Session,
    parent: WorkOrder,
    entry: dict[str, Any],
    reading: Reading,
    user: User,
    now: datetime,
    sla: SlaPolicy,
    channel: Channel,
) -> WorkOrder:
    where = parent.equipment_id or parent.building or parent.number
    item, unit = Label(str(entry["item"])), Label(reading.unit)
    description, parts = paragraphs(
        compose(
            N_(
                "Raised from %(job)s (%(title)s): %(item)s read %(value)s %(unit)s; "
                "limits %(limits)s."
            ),
            job=parent.number,
            title=Label(parent.title),
            item=item,
            value=entry["value"],
            unit=unit,
            limits=reading.limits(),
        ),
        compose(N_("Note: %(note)s"), note=entry["note"]) if entry.get("note") else None,
    )
    child = creation.create_work_order(
        session,
        title=f"{entry['item']} out of limits: {where}",
        kind=WorkOrderKind.REQUEST,
        priority=Priority.NORMAL,
        now=now,
        sla=sla,
        channel=channel,
        equipment=parent.equipment,
        building=parent.building,
        description=description,
        created_by=user,
        note=compose(
            N_("follow-up of %(job)s: %(item)s read %(value)s %(unit)s"),
            job=parent.number,
            item=item,
            value=entry["value"],
            unit=unit,
        ),
    )
    child.description_message = parts
    child.parent_id = parent.id
    session.flush()  # its number is taken now, for the parent's record
    return child
