"""What the API takes and gives: public models, separate from the database models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cloud.enums import (
    AlarmState,
    Channel,
    EquipmentStatus,
    Priority,
    Role,
    Severity,
    Trade,
    WorkOrderKind,
    WorkOrderStatus,
)
from cloud.models import (
    Alarm,
    Equipment,
    Notification,
    Team,
    User,
    WorkOrder,
    WorkOrderAttachment,
    WorkOrderEvent,
)
from cloud.workorders import checklist_of

ChannelIn = Literal["api", "cli", "console"]
CHANNEL_DESCRIPTION = "where the person acted from, for the audit trail"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    code: str = Field(description="stable, machine-readable")
    message: str = Field(description="for people: what was wrong and what to do")
    details: list[dict[str, Any]] | None = None


class ErrorBody(_Out):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_transition",
                        "message": "cannot acknowledge a work order that is in_progress "
                        "(only when open)",
                    }
                }
            ]
        },
    )

    error: ErrorDetail


class UserRef(_Out):
    username: str
    display_name: str | None
    role: Role

    @classmethod
    def of(cls, user: User | None) -> UserRef | None:
        if user is None:
            return None
        return cls(username=user.username, display_name=user.display_name, role=user.role)


class EquipmentOut(_Out):
    id: str
    site: str
    building: str
    kind: str
    floor: str | None
    zone: str | None
    name: str | None
    profile: str
    tags: dict[str, Any]
    in_inventory: bool
    status: EquipmentStatus
    status_changed_at: datetime | None
    last_seen: datetime | None
    last_sample_at: datetime | None = Field(description="edge time of the last sample")
    last_seq: int | None
    last_values: dict[str, Any]

    @classmethod
    def of(cls, e: Equipment) -> EquipmentOut:
        return cls(
            id=e.id,
            site=e.site,
            building=e.building,
            kind=e.kind,
            floor=e.floor,
            zone=e.zone,
            name=e.name,
            profile=e.profile,
            tags=e.tags,
            in_inventory=e.in_inventory,
            status=e.status,
            status_changed_at=e.status_changed_at,
            last_seen=e.last_seen,
            last_sample_at=e.last_ts,
            last_seq=e.last_seq,
            last_values=e.last_values,
        )


class AlarmOut(_Out):
    id: int
    equipment_id: str
    rule_id: str
    severity: Severity
    state: AlarmState
    message: str
    last_value: dict[str, Any]
    raised_at: datetime
    last_raised_at: datetime
    occurrences: int
    cleared_at: datetime | None
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def of(cls, a: Alarm) -> AlarmOut:
        return cls(
            id=a.id,
            equipment_id=a.equipment_id,
            rule_id=a.rule_id,
            severity=a.severity,
            state=a.state,
            message=a.message,
            last_value=a.last_value,
            raised_at=a.raised_at,
            last_raised_at=a.last_raised_at,
            occurrences=a.occurrences,
            cleared_at=a.cleared_at,
            acknowledged=a.acknowledged,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by.username if a.acknowledged_by else None,
        )


class Escalation(_Out):
    clock: str = Field(
        description="the overdue clock being escalated: acknowledge, on_site or complete"
    )
    stage: int = Field(description="stages fired so far: 1 assignee, 2 team, 3 supervisor")
    at: datetime | None


class WorkOrderOut(_Out):
    id: int
    number: str
    title: str
    description: str | None
    kind: WorkOrderKind
    equipment_id: str | None
    building: str | None
    location: str | None
    team: str | None = Field(description="the team the job was routed to")
    priority: Priority
    status: WorkOrderStatus
    alarm_id: int | None
    rule_id: str | None
    assignee: UserRef | None
    created_by: str = Field(description="username, or 'system' for a rule")
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
    checklist: list[dict[str, Any]] | None = Field(description="a PM job's checklist")

    @classmethod
    def fields_of(cls, w: WorkOrder) -> dict[str, Any]:
        return cls._fields(
            w,
            team=w.team.name if w.team is not None else None,
            assignee=UserRef.of(w.assignee),
            created_by=w.created_by.username if w.created_by else "system",
        )

    @classmethod
    def of_row(cls, row: Any, users: Mapping[int, User], teams: Mapping[int, str]) -> WorkOrderOut:
        """From a row of the work_orders table (a list page is read without the ORM), with
        the users and teams it names."""
        creator = users.get(row.created_by_id) if row.created_by_id is not None else None
        return cls(
            **cls._fields(
                row,
                team=teams.get(row.team_id) if row.team_id is not None else None,
                assignee=UserRef.of(users.get(row.assignee_id))
                if row.assignee_id is not None
                else None,
                created_by=creator.username if creator is not None else "system",
            )
        )

    @classmethod
    def _fields(
        cls, w: Any, *, team: str | None, assignee: UserRef | None, created_by: str
    ) -> dict[str, Any]:
        """The fields of a work order (an ORM object or a table row: the same names)."""
        return {
            "id": w.id,
            "number": w.number,
            "title": w.title,
            "description": w.description,
            "kind": w.kind,
            "equipment_id": w.equipment_id,
            "building": w.building,
            "priority": w.priority,
            "status": w.status,
            "alarm_id": w.alarm_id,
            "rule_id": w.rule_id,
            "location": w.location,
            "team": team,
            "assignee": assignee,
            "created_by": created_by,
            "created_at": w.created_at,
            "updated_at": w.updated_at,
            "opened_at": w.opened_at or w.created_at,
            "dispatched_at": w.dispatched_at,
            "acknowledged_at": w.acknowledged_at,
            "started_at": w.started_at,
            "resolved_at": w.resolved_at,
            "closed_at": w.closed_at,
            "cancelled_at": w.cancelled_at,
            "respond_due_at": w.respond_due_at,
            "start_due_at": w.start_due_at,
            "resolve_due_at": w.resolve_due_at,
            "escalation": (
                Escalation(clock=w.escalation_clock, stage=w.escalation_stage, at=w.escalated_at)
                if w.escalation_clock
                else None
            ),
            "holds": w.holds,
            "postponements": w.postponements,
            "reopens": w.reopens,
            "reopened_at": w.reopened_at,
            "follow_up": w.follow_up,
            "follow_up_at": w.follow_up_at,
            "resolution": w.resolution,
            "checklist": checklist_of(w),
        }

    @classmethod
    def of(cls, w: WorkOrder) -> WorkOrderOut:
        return cls(**cls.fields_of(w))


class EventOut(_Out):
    at: datetime
    actor: str
    action: str
    from_status: WorkOrderStatus | None
    to_status: WorkOrderStatus | None
    channel: Channel
    note: str | None

    @classmethod
    def of(cls, e: WorkOrderEvent) -> EventOut:
        return cls(
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            channel=e.channel,
            note=e.note,
        )


class AuditEventOut(EventOut):
    """An event of the audit trail with its structured details."""

    id: int
    details: dict[str, Any] | None

    @classmethod
    def of(cls, e: WorkOrderEvent) -> AuditEventOut:
        return cls(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            channel=e.channel,
            note=e.note,
            details=e.details,
        )


class AttachmentOut(_Out):
    id: int
    url: str
    name: str
    added_by: str
    added_at: datetime

    @classmethod
    def of(cls, a: WorkOrderAttachment) -> AttachmentOut:
        return cls(id=a.id, url=a.url, name=a.name, added_by=a.added_by, added_at=a.added_at)


class CommentOut(_Out):
    id: int
    at: datetime
    author: str
    channel: Channel
    text: str


class WorkOrderDetail(WorkOrderOut):
    alarm: AlarmOut | None
    attachments: list[AttachmentOut]
    comments: list[CommentOut] = Field(description="the audit trail's comments, oldest first")
    events: list[EventOut]

    @classmethod
    def of(cls, w: WorkOrder) -> WorkOrderDetail:
        return cls(
            **cls.fields_of(w),
            alarm=AlarmOut.of(w.alarm) if w.alarm else None,
            attachments=[AttachmentOut.of(a) for a in w.attachments],
            comments=[
                CommentOut(id=e.id, at=e.at, author=e.actor, channel=e.channel, text=e.note or "")
                for e in w.events
                if e.action == "comment"
            ],
            events=[EventOut.of(e) for e in w.events],
        )


class EquipmentPage(_Out):
    items: list[EquipmentOut]
    total: int


class AlarmPage(_Out):
    items: list[AlarmOut]
    total: int
    limit: int
    offset: int


class WorkOrderPage(_Out):
    items: list[WorkOrderOut]
    total: int
    limit: int
    offset: int


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class ActionIn(BaseModel):
    model_config = _examples({"note": "on site, isolating the pump", "channel": "console"})

    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class AssignIn(BaseModel):
    model_config = _examples({"assignee": "tech2", "note": "tech1 is off sick"})

    assignee: str = Field(min_length=1, max_length=64, description="username")
    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class PostponeIn(BaseModel):
    model_config = _examples(
        {"until": "2026-11-20T17:00:00Z", "note": "replacement seal arrives Thursday"}
    )

    until: AwareDatetime = Field(description="the new promised completion (with a time zone)")
    note: str = Field(min_length=1, max_length=2000, description="why")
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class CommentIn(BaseModel):
    model_config = _examples({"text": "Strainer was blocked with leaves.", "channel": "cli"})

    text: str = Field(min_length=1, max_length=4000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class AttachmentIn(BaseModel):
    model_config = _examples(
        {"url": "https://files.example.com/wo/42/strainer.jpg", "name": "strainer.jpg"}
    )

    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the file")
    name: str = Field(min_length=1, max_length=256)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class FollowUpIn(BaseModel):
    model_config = _examples({"note": "called the tenant: water pressure fine since the fix"})

    note: str = Field(min_length=1, max_length=2000, description="what the visit found")
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class CheckIn(BaseModel):
    model_config = _examples({"done": True, "note": "door locks tested"})

    done: bool = True
    note: str | None = Field(default=None, max_length=2000)
    channel: ChannelIn = Field(default="api", description=CHANNEL_DESCRIPTION)


class RequestIn(BaseModel):
    """A work order someone asks for (a reported problem)."""

    model_config = _examples(
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
    building: str | None = None
    location: str | None = Field(default=None, max_length=128, description="where, in words")
    channel: ChannelIn = "api"


class LoginIn(BaseModel):
    model_config = _examples({"username": "pat", "password": "correct horse battery"})

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(_Out):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None
    user: UserRef


class EdgeClock(_Out):
    """One edge agent's clock as measured from its health reports (see cloud/clockskew.py)."""

    agent: str
    skew_s: float = Field(
        description="receive time - report time, lower quartile of the last reports: positive"
        " when the agent's clock is behind (or its reports are delayed), negative when ahead"
    )
    reports: int
    last_report_at: datetime


class MqttHealth(_Out):
    enabled: bool
    connected: bool
    received: int
    invalid: int
    future: int = Field(
        description="of the invalid: samples stamped further ahead than the allowed clock skew"
    )
    dead_lettered: int = Field(description="messages that failed processing even on their own")
    dropped: int
    queued: int
    edge_clocks: list[EdgeClock]


class Counts(_Out):
    equipment: int
    active_alarms: int
    open_work_orders: int


class Health(_Out):
    status: Literal["ok", "degraded", "down"]
    database: bool
    mqtt: MqttHealth
    rules: int
    counts: Counts | None


class NotifyHealth(_Out):
    """Delivery to one receiver (webhook URL, Grafana, InfluxDB)."""

    name: str
    delivered: int
    retries: int
    dropped: int
    queued: int
    last_error: str | None


# -- users and teams ---------------------------------------------------------------------


class UserOut(_Out):
    username: str
    display_name: str | None
    role: Role
    active: bool
    has_password: bool
    created_at: datetime
    teams: list[str]

    @classmethod
    def of(cls, user: User, teams: list[str]) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            active=user.active,
            has_password=user.password_hash is not None,
            created_at=user.created_at,
            teams=teams,
        )


class UserPage(_Out):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserIn(BaseModel):
    model_config = _examples(
        {
            "username": "tech3",
            "role": "technician",
            "display_name": "Sam Lee",
            "teams": ["tower-a-lifts"],
        }
    )

    username: str = Field(min_length=1, max_length=64)
    role: Role
    display_name: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    teams: list[str] = Field(default_factory=list, description="team names to join")
    token: bool = Field(default=True, description="issue a token for the new user")


class UserPatch(BaseModel):
    model_config = _examples({"role": "supervisor"}, {"active": False})

    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=128)
    active: bool | None = Field(default=None, description="false revokes every token")
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class NewUserOut(_Out):
    user: UserOut
    token: str | None = Field(description="shown once; only its hash is kept")


class TokenIn(BaseModel):
    model_config = _examples({"ttl_days": 30, "label": "tablet in the plant room"})

    ttl_days: float | None = Field(default=None, gt=0, le=366, description="default 90")
    label: str | None = Field(default=None, max_length=64)


class RevokedOut(_Out):
    revoked: int = Field(description="tokens revoked")


class MarkedOut(_Out):
    marked: int = Field(description="notifications marked read")


class TeamIn(BaseModel):
    model_config = _examples({"name": "tower-a-lifts", "trade": "lifts", "building": "tower-a"})

    name: str = Field(min_length=1, max_length=64)
    trade: Trade
    building: str | None = Field(default=None, description="none: every building")
    members: list[str] = Field(default_factory=list, description="usernames")


class TeamOut(_Out):
    name: str
    trade: Trade
    building: str | None
    members: list[UserRef]

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls(
            name=team.name,
            trade=team.trade,
            building=team.building,
            members=[r for r in (UserRef.of(u) for u in team.members) if r is not None],
        )


class TeamList(_Out):
    items: list[TeamOut]
    total: int


class NotificationOut(_Out):
    id: int
    at: datetime
    kind: str = Field(description="dispatched or escalated")
    message: str
    work_order_id: int
    work_order_number: str
    read_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            id=n.id,
            at=n.at,
            kind=n.kind,
            message=n.message,
            work_order_id=n.work_order_id,
            work_order_number=n.work_order.number,
            read_at=n.read_at,
        )


class NotificationPage(_Out):
    items: list[NotificationOut]
    total: int
    unread: int
    limit: int
    offset: int


# -- KPIs ---------------------------------------------------------------------------------


class IndicatorOut(_Out):
    name: str
    value: float | None = Field(description="null when there was nothing to measure")
    unit: Literal["s", "%"]
    target: float | None
    met: bool | None
    numerator: float = Field(description="hits for a rate, total seconds for a mean")
    denominator: int = Field(description="jobs (or equipment) measured")


class KpiCounts(_Out):
    raised: int
    open: int
    acknowledged: int
    in_progress: int
    on_hold: int
    resolved: int
    closed: int
    cancelled: int
    overdue: int
    reopened: int


class KpiOut(_Out):
    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "building": "tower-a",
                    "from": "2026-11-01T00:00:00Z",
                    "to": "2026-12-01T00:00:00Z",
                    "as_of": "2026-12-01T00:00:00Z",
                    "counts": {
                        "raised": 12,
                        "open": 1,
                        "acknowledged": 0,
                        "in_progress": 1,
                        "on_hold": 0,
                        "resolved": 2,
                        "closed": 8,
                        "cancelled": 0,
                        "overdue": 0,
                        "reopened": 1,
                    },
                    "indicators": {
                        "sla_compliance_pct": {
                            "name": "Repairs completed on time",
                            "value": 90.0,
                            "unit": "%",
                            "target": 99.0,
                            "met": False,
                            "numerator": 9,
                            "denominator": 10,
                        }
                    },
                }
            ]
        },
    )

    building: str | None
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    as_of: datetime = Field(description="good order is measured at this instant")
    counts: KpiCounts
    indicators: dict[str, IndicatorOut]
