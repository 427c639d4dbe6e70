"""What the API takes and gives: public models, separate from the database models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.enums import (
    AlarmState,
    Channel,
    EquipmentStatus,
    Priority,
    Role,
    Severity,
    WorkOrderKind,
    WorkOrderStatus,
)
from cloud.models import Alarm, Equipment, User, WorkOrder, WorkOrderEvent


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ErrorDetail(_Out):
    code: str = Field(description="stable, machine-readable")
    message: str = Field(description="for people: what was wrong and what to do")
    details: list[dict[str, Any]] | None = None


class ErrorBody(_Out):
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


class WorkOrderOut(_Out):
    id: int
    number: str
    title: str
    description: str | None
    kind: WorkOrderKind
    equipment_id: str | None
    building: str | None
    priority: Priority
    status: WorkOrderStatus
    alarm_id: int | None
    rule_id: str | None
    assignee: UserRef | None
    created_by: str = Field(description="username, or 'system' for a rule")
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    started_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    respond_due_at: datetime | None
    resolve_due_at: datetime | None
    holds: int

    @classmethod
    def fields_of(cls, w: WorkOrder) -> dict[str, Any]:
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
            "assignee": UserRef.of(w.assignee),
            "created_by": w.created_by.username if w.created_by else "system",
            "created_at": w.created_at,
            "updated_at": w.updated_at,
            "acknowledged_at": w.acknowledged_at,
            "started_at": w.started_at,
            "resolved_at": w.resolved_at,
            "closed_at": w.closed_at,
            "respond_due_at": w.respond_due_at,
            "resolve_due_at": w.resolve_due_at,
            "holds": w.holds,
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


class WorkOrderDetail(WorkOrderOut):
    alarm: AlarmOut | None
    events: list[EventOut]

    @classmethod
    def of(cls, w: WorkOrder) -> WorkOrderDetail:
        return cls(
            **cls.fields_of(w),
            alarm=AlarmOut.of(w.alarm) if w.alarm else None,
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


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)
    channel: Literal["api", "cli", "console"] = Field(
        default="api", description="where the person acted from, for the audit trail"
    )


class RequestIn(BaseModel):
    """A work order someone asks for (a reported problem)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=4000)
    priority: Priority = Priority.NORMAL
    equipment_id: str | None = None
    building: str | None = None
    channel: Literal["api", "cli", "console"] = "api"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(_Out):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None
    user: UserRef


class MqttHealth(_Out):
    enabled: bool
    connected: bool
    received: int
    invalid: int
    dropped: int
    queued: int


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
