"""The tables of work orders: the jobs, their audit trail, attachments, the notifications sent
about them, and the preventive-maintenance schedules that raise PM jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.enums import Channel, Priority, WorkOrderKind, WorkOrderStatus
from cloud.equipment import to_equipment
from cloud.orm import Base

if TYPE_CHECKING:
    from cloud.alarms.model import Alarm
    from cloud.equipment import Equipment
    from cloud.users.model import Team, User


@dataclass(frozen=True, slots=True)
class Escalated:
    """An escalation under way: the overdue clock (acknowledge, on_site or complete), the
    stages fired so far, when the last one fired."""

    clock: str
    stage: int
    at: datetime | None


def escalated(clock: str | None, stage: int, at: datetime | None) -> Escalated | None:
    return Escalated(clock, stage, at) if clock else None


# Indexed after the status: the SLA ticker reads the jobs not yet told of and each clock's
# jobs due by now.
SLA_INDEXED = ("dispatched_at", "respond_due_at", "start_due_at", "resolve_due_at")


class WorkOrder(Base):
    __tablename__ = "work_orders"
    # Lists are newest first within a filter (migration 0002_workorders).
    __table_args__ = (
        Index("ix_work_orders_status_created_at", "status", "created_at"),
        Index("ix_work_orders_priority_created_at", "priority", "created_at"),
        Index("ix_work_orders_building_created_at", "building", "created_at"),
        # migration 0003: the console's filtered lists and their counts
        Index("ix_work_orders_status_building_created_at", "status", "building", "created_at"),
        Index("ix_work_orders_status_kind_created_at", "status", "kind", "created_at"),
        Index("ix_work_orders_status_priority_created_at", "status", "priority", "created_at"),
        # migration 0018_sites: one site's list
        Index("ix_work_orders_site_created_at", "site", "created_at"),
        to_equipment("work_orders"),  # migration 0023_sitekeys: ids are unique within a site
        # migration 0024: what the SLA ticker reads (cloud.sla.candidates)
        *(Index(f"ix_work_orders_status_{c}", "status", c) for c in SLA_INDEXED),
        Index("ix_work_orders_status_kind_alarm_id", "status", "kind", "alarm_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    description_message: Mapped[list[Any] | None] = mapped_column(
        JSON,
        comment="the paragraph of the description the service composed: message and parameters",
    )
    kind: Mapped[WorkOrderKind]
    equipment_id: Mapped[str | None] = mapped_column(String(64), index=True)
    building: Mapped[str | None] = mapped_column(String(64), index=True)
    # Several sites in one service (migration 0018_sites): filled at insert (cloud.siting).
    site: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[Priority] = mapped_column(index=True)
    status: Mapped[WorkOrderStatus] = mapped_column(index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarms.id"))
    rule_id: Mapped[str | None] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(
        String(200),
        unique=True,
        comment="equipment:rule while the work order is open, NULL after; one open job per fault",
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    respond_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    holds: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Work orders and SLA (migration 0002_workorders).
    location: Mapped[str | None] = mapped_column(String(128))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(
        comment="start of the current episode: creation, or the last reopen"
    )
    start_due_at: Mapped[datetime | None] = mapped_column(comment="on site by")
    dispatched_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    escalation_clock: Mapped[str | None] = mapped_column(String(16))
    escalation_stage: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None]
    postponements: Mapped[int] = mapped_column(Integer, default=0)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    reopened_at: Mapped[datetime | None]
    follow_up: Mapped[bool] = mapped_column(default=False)
    follow_up_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    # Preventive maintenance and incidents (migration 0002_rules_pm).
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON,
        default=list,
        comment='[{"item": str, "done": bool, "by": str|null, "at": iso|null}]',
    )
    pm_plan_id: Mapped[str | None] = mapped_column(String(64))
    pm_due_on: Mapped[date | None] = mapped_column(Date)
    pm_key: Mapped[str | None] = mapped_column(
        String(200), comment="plan|equipment or building|due date: one PM per due date"
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Checklists worked on a phone (migration 0008_checklist_steps).
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_orders.id", ondelete="SET NULL"),
        index=True,
        comment="the job whose out-of-limit reading raised this follow-up job",
    )
    sign_off_required: Mapped[bool] = mapped_column(default=False)
    signed_by: Mapped[str | None] = mapped_column(String(128), comment="the signer's name")
    signed_at: Mapped[datetime | None] = mapped_column(
        comment="the signature is the job's latest photo of kind signature"
    )
    # On-call routing (migration 0009_oncall_rota).
    held_until: Mapped[datetime | None] = mapped_column(
        comment="a routine job raised outside working hours is told from then"
    )
    held_for: Mapped[str | None] = mapped_column(String(8), comment="hours or digest")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    equipment: Mapped[Equipment | None] = relationship(
        foreign_keys=[equipment_id],
        primaryjoin="and_(WorkOrder.site == Equipment.site,"
        " WorkOrder.equipment_id == Equipment.id)",
    )
    alarm: Mapped[Alarm | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    events: Mapped[list[WorkOrderEvent]] = relationship(
        back_populates="work_order",
        order_by="WorkOrderEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    team: Mapped[Team | None] = relationship()
    attachments: Mapped[list[WorkOrderAttachment]] = relationship(
        order_by="WorkOrderAttachment.id", cascade="all, delete-orphan", passive_deletes=True
    )
    photos: Mapped[list[WorkOrderPhoto]] = relationship(
        order_by="WorkOrderPhoto.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    # Read only: written as `parent_id`. A relationship of the table to itself that writes makes
    # every flush of a job sort its rows for a cycle, which costs each change more than its SQL.
    parent: Mapped[WorkOrder | None] = relationship(
        remote_side="WorkOrder.id", foreign_keys=[parent_id], viewonly=True
    )

    @property
    def escalation(self) -> Escalated | None:
        """The escalation under way, if any."""
        return escalated(self.escalation_clock, self.escalation_stage, self.escalated_at)


class WorkOrderEvent(Base):
    """One line of a work order's audit trail: who did what, when, through which channel."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64), comment="username, or 'system'")
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[WorkOrderStatus | None]
    to_status: Mapped[WorkOrderStatus | None]
    channel: Mapped[Channel]
    note: Mapped[str | None] = mapped_column(Text)
    note_message: Mapped[dict[str, Any] | None] = mapped_column(
        comment="the note's message and parameters, when the service composed it"
    )
    details: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="structured facts of the change, e.g. an escalation's recipients"
    )
    action_id: Mapped[str | None] = mapped_column(
        String(64),
        comment="the client's id of the action (Idempotency-Key): applied once however often sent",
    )

    work_order: Mapped[WorkOrder] = relationship(back_populates="events")


# One event per client action id (migration 0008_checklist_steps); NULLs never collide.
Index("uq_work_order_events_action_id", WorkOrderEvent.action_id, unique=True)


class WorkOrderAttachment(Base):
    """A photo or document kept elsewhere, attached to a work order by reference."""

    __tablename__ = "work_order_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str] = mapped_column(String(256))
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class WorkOrderPhoto(Base):
    """A photo taken on the job, or the signature that signed it off, kept in the file store
    (the data folder or an S3 bucket, `cloud.workorders.filestore`) under the keys `path` and
    `thumb_path`; its location data and EXIF are stripped (`cloud.workorders.photos`)."""

    __tablename__ = "work_order_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), comment="photo or signature")
    path: Mapped[str] = mapped_column(String(512), comment="relative to the data folder")
    thumb_path: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer, comment="bytes stored")
    sha256: Mapped[str] = mapped_column(String(64), comment="of the stored file")
    caption: Mapped[str | None] = mapped_column(String(500))
    step: Mapped[int | None] = mapped_column(Integer, comment="the checklist step it shows")
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class Notification(Base):
    """A message to one person about a work order: a dispatch or an escalation."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_order_events.id", ondelete="CASCADE")
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32), comment="dispatched, escalated or digest")
    message: Mapped[str] = mapped_column(String(512))
    # migration 0009_oncall_rota: one (person, job, stage) is one message
    stage: Mapped[str | None] = mapped_column(
        String(48), comment="dispatch, <clock>:<n> or digest, after r<reopens>/ once reopened"
    )
    reason: Mapped[str | None] = mapped_column(
        String(64), comment="why this person: on call, backup, supervisor, escalation stage 2 …"
    )
    read_at: Mapped[datetime | None]
    # migration 0020_notetext_notification_facts: what `message` says, for its reader's language
    facts: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="the job, clock, due time, stage or digest's jobs the message is written from"
    )

    work_order: Mapped[WorkOrder] = relationship()


# -- Preventive maintenance (migration 0002_rules_pm) ----------------------------------------

# One PM work order per plan, equipment and due date, however often the scheduler runs or
# restarts; `pm_key` also covers building-wide plans, whose equipment_id is NULL (NULLs never
# collide in a unique index).
Index(
    "uq_work_orders_pm_plan_equipment_due",
    WorkOrder.pm_plan_id,
    WorkOrder.site,
    WorkOrder.equipment_id,
    WorkOrder.pm_due_on,
    unique=True,
)
Index("uq_work_orders_pm_key", WorkOrder.pm_key, unique=True)


class PmSchedule(Base):
    """Where one PM plan stands for one piece of equipment (or one building): the calendar's
    next due date, the meters since the last service, the work order now open."""

    __tablename__ = "pm_schedules"
    __table_args__ = (
        Index("uq_pm_schedules_plan_target", "plan_id", "target", unique=True),
        to_equipment("pm_schedules"),  # migration 0023_sitekeys
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(
        String(140), comment="site/equipment id (cloud.equipment.key), or building:<id>"
    )
    equipment_id: Mapped[str | None] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))  # migration 0018_sites
    anchor: Mapped[date] = mapped_column(Date, comment="the calendar counts from this date")
    next_due: Mapped[date | None] = mapped_column(Date)
    meters: Mapped[dict[str, Any]] = mapped_column(
        comment='point → {"raw": last reading, "total": use counted, "base": total at service}'
    )
    open_work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    last_due: Mapped[date | None] = mapped_column(Date)
    last_done: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime]

    open_work_order: Mapped[WorkOrder | None] = relationship()
