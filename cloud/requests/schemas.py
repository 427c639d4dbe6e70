"""The service desk's API models: what the public pages and the desk send and get back, and
how a request is shown to each (`tracked`, `request_out`: contacts masked by role)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.enums import Priority, Role, WorkOrderStatus
from cloud.requests.model import Complaint, FollowUp, RepairRequest
from cloud.requests.privacy import mask_email, mask_name, mask_phone, sees_contact
from cloud.workorders.model import WorkOrder

S = WorkOrderStatus
Stage = Literal["received", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled"]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


def stage_of(wo: WorkOrder | None) -> Stage:
    """Where the job stands, in the reporter's words."""
    if wo is None or (wo.status is S.OPEN and wo.assignee_id is None):
        return "received"
    stages: dict[WorkOrderStatus, Stage] = {
        S.OPEN: "assigned",
        S.ACKNOWLEDGED: "assigned",
        S.IN_PROGRESS: "in_progress",
        S.ON_HOLD: "on_hold",
        S.RESOLVED: "resolved",
        S.CLOSED: "closed",
        S.CANCELLED: "cancelled",
    }
    return stages[wo.status]


class Created(Out):
    reference: str = Field(description="the tracking reference: keep it to follow the repair")
    link: str = Field(description="the tracking page")
    stage: Stage
    promised_by: datetime | None


class UpdateOut(Out):
    at: datetime
    kind: str
    params: dict[str, Any]
    text: str = Field(description="in the reporter's language")


class DeliveryOut(Out):
    """How far one update's message to the reporter got (the desk sees it, not the reporter)."""

    at: datetime
    kind: str
    status: str = Field(
        description="pending, sending, sent, failed, no_channel (no configured channel "
        "reaches the contact) or no_contact (none left, or erased)"
    )
    channel: str | None = Field(description="the channel it went (or is going) through")
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


class Tracked(Out):
    reference: str
    stage: Stage
    category: str
    what: str
    place: str | None
    building: str
    equipment: str | None
    created_at: datetime
    promised_by: datetime | None
    postponed_to: datetime | None
    postpone_reason: str | None
    reporters: int = Field(description="how many people reported this problem")
    asking: bool = Field(description="the reporter is asked 'fixed?' and has not answered")
    confirmation: Literal["confirmed", "not_fixed", "unconfirmed"] | None
    lang: str
    updates: list[UpdateOut]


def tracked(r: RepairRequest, reporters: int, equipment_name: str | None) -> Tracked:
    wo = r.work_order
    postponed = (
        next((e for e in reversed(wo.events) if e.action == "postpone"), None) if wo else None
    )
    return Tracked(
        reference=r.token,
        stage=stage_of(wo),
        category=r.category,
        what=r.what,
        place=r.place,
        building=r.building,
        equipment=equipment_name,
        created_at=r.created_at,
        promised_by=wo.resolve_due_at if wo else None,
        postponed_to=wo.resolve_due_at if postponed is not None and wo else None,
        postpone_reason=postponed.note if postponed is not None else None,
        reporters=reporters,
        asking=r.confirm_asked_at is not None and r.confirmation is None,
        confirmation=r.confirmation,
        lang=r.lang,
        updates=[UpdateOut(at=u.at, kind=u.kind, params=u.params, text=u.text) for u in r.updates],
    )


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fixed: bool = Field(description="true: the problem is gone; false: it is not")


class LocationOut(Out):
    code: str
    site: str | None
    building: str
    equipment_id: str | None
    equipment_name: str | None
    kind: str | None
    category: str = Field(description="the category a report here defaults to")
    categories: list[str]
    contact: str = Field(description="what contact a report needs: none, phone_or_email, …")
    name_required: bool
    photo_max_bytes: int


class CallIn(BaseModel):
    """A phone call the service desk logs."""

    model_config = ConfigDict(extra="forbid")

    caller: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    code: str = Field(min_length=1, max_length=64, description="equipment or building id")
    site: str | None = Field(
        default=None,
        max_length=64,
        description="the equipment's site, when its id is used at several sites",
    )
    category: str = Field(min_length=1, max_length=32)
    urgency: Priority
    what: str = Field(min_length=1, max_length=2000)
    place: str | None = Field(default=None, max_length=200)
    called_at: datetime | None = Field(
        default=None, description="when the call came in (default now); the SLA starts then"
    )
    lang: Literal["en", "zh-CN"] = "en"


class RequestOut(Out):
    id: int
    reference: str | None = Field(description="shown to the service desk only")
    source: str
    created_at: datetime
    location_code: str
    building: str
    equipment_id: str | None
    category: str
    urgency: Priority
    what: str
    place: str | None
    name: str | None
    phone: str | None
    email: str | None
    contact_masked: bool
    contact_erased: bool
    has_photo: bool
    work_order_id: int | None
    work_order: str | None = Field(description="the job's number")
    merged: bool
    reporters: int
    confirmation: str | None
    confirm_asked_at: datetime | None
    answered_at: datetime | None
    messages: list[DeliveryOut] = Field(description="the reporter's messages and their delivery")


def request_out(r: RepairRequest, role: Role, reporters: int) -> RequestOut:
    full = sees_contact(role)
    return RequestOut(
        id=r.id,
        reference=r.token if full else None,
        source=r.source,
        created_at=r.created_at,
        location_code=r.location_code,
        building=r.building,
        equipment_id=r.equipment_id,
        category=r.category,
        urgency=r.urgency,
        what=r.what,
        place=r.place,
        name=r.reporter_name if full else mask_name(r.reporter_name),
        phone=r.reporter_phone if full else mask_phone(r.reporter_phone),
        email=r.reporter_email if full else mask_email(r.reporter_email),
        contact_masked=not full,
        contact_erased=r.contact_erased_at is not None,
        has_photo=r.photo is not None,
        work_order_id=r.work_order_id,
        work_order=r.work_order.number if r.work_order else None,
        merged=r.merged,
        reporters=reporters,
        confirmation=r.confirmation,
        confirm_asked_at=r.confirm_asked_at,
        answered_at=r.answered_at,
        messages=[
            DeliveryOut(
                at=u.at,
                kind=u.kind,
                status=u.status,
                channel=u.channel,
                attempts=u.attempts,
                last_error=u.last_error,
                delivered_at=u.delivered_at,
            )
            for u in r.updates
        ],
    )


class RequestPage(Out):
    items: list[RequestOut]
    total: int
    limit: int
    offset: int


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reached: bool
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class FollowUpOut(Out):
    id: int
    work_order_id: int
    work_order: str
    building: str | None
    title: str
    closed_at: datetime | None
    attempts: int
    reached: bool | None
    satisfaction: int | None
    comment: str | None
    caller: str | None
    recorded_at: datetime | None


def follow_up_out(f: FollowUp) -> FollowUpOut:
    wo = f.work_order
    return FollowUpOut(
        id=f.id,
        work_order_id=wo.id,
        work_order=wo.number,
        building=wo.building,
        title=wo.title,
        closed_at=wo.closed_at,
        attempts=f.attempts,
        reached=f.reached,
        satisfaction=f.satisfaction,
        comment=f.comment,
        caller=f.caller.username if f.caller else None,
        recorded_at=f.recorded_at,
    )


class FollowUpPage(Out):
    items: list[FollowUpOut]
    total: int
    limit: int
    offset: int


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=4000)
    owner: str = Field(min_length=1, max_length=64, description="username of who handles it")
    work_order: str | None = Field(default=None, description="a job's id or number, if about one")
    building: str | None = Field(default=None, max_length=64)
    complainant: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=254)
    received_at: datetime | None = None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=1, max_length=4000)
    valid: bool = Field(description="upheld: counts in the complaint rate")


class ComplaintOut(Out):
    id: int
    received_at: datetime
    work_order: str | None
    building: str | None
    summary: str
    complainant: str | None
    contact: str | None
    owner: str
    logged_by: str
    resolution: str | None
    valid: bool | None
    resolved_at: datetime | None


def complaint_out(c: Complaint, role: Role) -> ComplaintOut:
    full = sees_contact(role)
    contact = (
        c.contact
        if full
        else (mask_email(c.contact) if c.contact and "@" in c.contact else mask_phone(c.contact))
    )
    return ComplaintOut(
        id=c.id,
        received_at=c.received_at,
        work_order=c.work_order.number if c.work_order else None,
        building=c.building,
        summary=c.summary,
        complainant=c.complainant if full else mask_name(c.complainant),
        contact=contact,
        owner=c.owner.username,
        logged_by=c.logged_by.username,
        resolution=c.resolution,
        valid=c.valid,
        resolved_at=c.resolved_at,
    )


class ComplaintPage(Out):
    items: list[ComplaintOut]
    total: int
    limit: int
    offset: int


class DeskStatsOut(Out):
    requests: int
    public: int
    desk: int
    merged: int
    honeypot_dropped: int = Field(description="public reports dropped for a filled honeypot")
    confirmed: int = Field(description="reporters who confirmed the fix")
    not_fixed: int = Field(description="reporters who said it was not fixed")
    unconfirmed: int = Field(description="reporters who did not answer in time")
    follow_ups_pending: int
