"""What the API takes and gives about work orders, their audit trail and the notifications
sent about them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationInfo,
    computed_field,
)

from cloud.alarms.schemas import AlarmOut
from cloud.enums import Channel, Priority, WorkOrderKind, WorkOrderStatus
from cloud.locale.shipped import shipped
from cloud.schemas import (
    CHANNEL_DESCRIPTION,
    COMPOSED,
    ChannelIn,
    ComposedNote,
    Location,
    OutModel,
    ShippedParagraphs,
    ShippedText,
    examples,
    reader_of,
)
from cloud.users.schemas import TeamName, UserRef
from cloud.workorders.rules import SYSTEM_ACTOR, checklist_items
from cloud.workorders.steps import StepResult


def _creator(user: Any) -> Any:
    """The creator's username, or 'system' for a job a rule raised."""
    return SYSTEM_ACTOR if user is None else getattr(user, "username", user)


def _steps(items: list[dict[str, Any]] | None, info: ValidationInfo) -> Any:
    """The checklist with each shipped step's text in the caller's language (a copy: the
    stored checklist stays as it is)."""
    text = reader_of(info)
    if text is None or items is None:
        return items
    return [
        {**entry, "item": shipped(text, entry["item"])}
        if isinstance(entry.get("item"), str)
        else entry
        for entry in items
    ]


def _comments(events: Any) -> list[Any]:
    """The comments among audit-trail events (comments already, when not events)."""
    return [e for e in events if getattr(e, "action", "comment") == "comment"]


class Escalation(OutModel):
    clock: str = Field(
        description="the overdue clock being escalated: acknowledge, on_site or complete"
    )
    stage: int = Field(description="stages fired so far: 1 assignee, 2 team, 3 supervisor")
    at: datetime | None


class WorkOrderOut(OutModel):
    id: int
    number: str
    title: ShippedText
    description_message: list[Any] | None = Field(default=None, description=COMPOSED)
    description: ShippedParagraphs
    kind: WorkOrderKind
    equipment_id: str | None
    building: str | None
    site: str | None = Field(default=None, description="the site of its equipment or building")
    location: Location
    team: TeamName | None = Field(description="the team the job was routed to")
    priority: Priority
    status: WorkOrderStatus
    alarm_id: int | None
    rule_id: str | None
    assignee: UserRef | None
    created_by: Annotated[str, BeforeValidator(_creator)] = Field(
        description="username, or 'system' for a rule"
    )
    created_at: datetime
    updated_at: datetime
    opened_at: datetime = Field(description="start of the current episode: creation or reopen")
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    started_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    respond_due_at: datetime | None = Field(description="to be acknowledged by")
    start_due_at: datetime | None = Field(description="someone on site by")
    resolve_due_at: datetime | None = Field(description="promised completion")
    escalation: Escalation | None
    holds: int
    postponements: int
    reopens: int = Field(description="times the fault came back after a fix (rework)")
    reopened_at: datetime | None
    follow_up: bool = Field(description="a post-repair visit was recorded")
    follow_up_at: datetime | None
    resolution: str | None = Field(description="the resolving technician's note")
    checklist: Annotated[
        list[dict[str, Any]] | None, BeforeValidator(checklist_items), AfterValidator(_steps)
    ] = Field(
        description="a PM job's checklist: each step's text, answer (`result` pass, fail or "
        "na), `reading` (unit and limits), `value`, `out_of_limits`, `note`, `follow_up_job`"
    )
    parent_id: int | None = Field(description="the job whose out-of-limit reading raised this")
    sign_off_required: bool
    signed_by: str | None = Field(description="the name the job was signed off with")
    signed_at: datetime | None


class EventOut(OutModel):
    at: datetime
    actor: str
    action: str
    from_status: WorkOrderStatus | None
    to_status: WorkOrderStatus | None
    channel: Channel
    note_message: dict[str, Any] | None = Field(default=None, description=COMPOSED)
    note: ComposedNote


class AuditEventOut(EventOut):
    """An event of the audit trail with its structured details."""

    id: int
    details: dict[str, Any] | None


class AttachmentOut(OutModel):
    id: int
    url: str
    name: str
    added_by: str
    added_at: datetime


class PhotoOut(OutModel):
    id: int
    work_order_id: int
    kind: str = Field(description="photo or signature")
    content_type: str
    width: int
    height: int
    size: int = Field(description="bytes stored (location data and EXIF stripped)")
    caption: str | None
    step: int | None = Field(description="the checklist step it shows, from 0")
    added_by: str
    added_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        """The image, for signed-in users; add `?thumb=true` for its thumbnail."""
        return f"/api/work-orders/{self.work_order_id}/photos/{self.id}"


class CommentOut(OutModel):
    # read from an audit-trail event of action `comment`
    id: int
    at: datetime
    author: str = Field(validation_alias=AliasChoices("author", "actor"))
    channel: Channel
    text: Annotated[str, BeforeValidator(lambda note: note or "")] = Field(
        validation_alias=AliasChoices("text", "note")
    )


class WorkOrderDetail(WorkOrderOut):
    alarm: AlarmOut | None
    attachments: list[AttachmentOut]
    photos: list[PhotoOut] = Field(description="photos and signatures, oldest first")
    comments: Annotated[list[CommentOut], BeforeValidator(_comments)] = Field(
        validation_alias=AliasChoices("comments", "events"),
        description="the audit trail's comments, oldest first",
    )
    events: list[EventOut]


class WorkOrderPage(OutModel):
    items: list[WorkOrderOut]
    total: int
    limit: int
    offset: int


class NotificationOut(OutModel):
    id: int
    at: datetime
    kind: str = Field(description="dispatched, escalated or digest")
    message: str
    stage: str | None = Field(
        default=None, description="dispatch, <clock>:<n> (acknowledge:2) or digest"
    )
    reason: str | None = Field(
        default=None, description="why this person: on call, supervisor, escalation stage 2: …"
    )
    work_order_id: int
    work_order_number: str = Field(
        validation_alias=AliasChoices("work_order_number", AliasPath("work_order", "number"))
    )
    read_at: datetime | None


class NotificationPage(OutModel):
    items: list[NotificationOut]
    total: int
    unread: int
    limit: int
    offset: int


class MarkedOut(OutModel):
    marked: int = Field(description="notifications marked read")


class ActionIn(BaseModel):
    model_config = examples({"note": "on site, isolating the pump", "channel": "console"})

    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class AssignIn(BaseModel):
    model_config = examples({"assignee": "tech2", "note": "tech1 is off sick"})

    assignee: str = Field(min_length=1, max_length=64, description="username")
    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class PostponeIn(BaseModel):
    model_config = examples(
        {"until": "2026-11-20T17:00:00Z", "note": "replacement seal arrives Thursday"}
    )

    until: AwareDatetime = Field(description="the new promised completion (with a time zone)")
    note: str = Field(min_length=1, max_length=2000, description="why")
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class CommentIn(BaseModel):
    model_config = examples({"text": "Strainer was blocked with leaves.", "channel": "cli"})

    text: str = Field(min_length=1, max_length=4000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class AttachmentIn(BaseModel):
    model_config = examples(
        {"url": "https://files.example.com/wo/42/strainer.jpg", "name": "strainer.jpg"}
    )

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the file")
    name: str = Field(min_length=1, max_length=256)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class FollowUpIn(BaseModel):
    model_config = examples({"note": "called the tenant: water pressure fine since the fix"})

    note: str = Field(min_length=1, max_length=2000, description="what the visit found")
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class CheckIn(BaseModel):
    model_config = examples({"done": True, "note": "door locks tested"})

    done: bool = True
    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class StepIn(BaseModel):
    model_config = examples(
        {"result": "pass", "value": 0.4, "unit": "mm", "channel": "console"},
        {"result": "fail", "value": 0.9, "note": "lining worn on the left shoe"},
        {"result": "na", "note": "no such part on this lift"},
    )

    result: StepResult = Field(description="pass, fail or na (not applicable)")
    value: float | None = Field(
        default=None, description="the reading, where the step asks for one (in `unit`)"
    )
    unit: str | None = Field(
        default=None, max_length=32, description="the value's unit; default: the step's own"
    )
    note: str | None = Field(default=None, max_length=2000, description="required on fail")
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class RequestIn(BaseModel):
    """A work order someone asks for (a reported problem)."""

    model_config = examples(
        {
            "title": "Lift A2 door slow to close",
            "equipment_id": "lift-a2",
            "priority": "normal",
            "description": "Reported by the concierge at 09:10.",
        },
        {
            "title": "Water stain on the car-park ceiling",
            "building": "tower-b",
            "location": "P1 near bay 12",
        },
    )

    title: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4000)
    priority: Priority = Priority.NORMAL
    equipment_id: str | None = None
    site: str | None = Field(
        default=None,
        max_length=64,
        description="the equipment's site, when its id is used at several sites",
    )
    building: str | None = None
    location: str | None = Field(default=None, max_length=128, description="where, in words")
    channel: ChannelIn = "api"
